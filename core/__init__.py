"""Helpers every layer shares and that import nothing of ours: file reads, HTTP retries, localhost."""
