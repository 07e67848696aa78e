"""The libSQL data-plane client: SQL over HTTP with Hrana v2/v3 pipelines (client, hrana, results)."""
