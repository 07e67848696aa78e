"""Cloudflare: API v4 client (Pages, direct upload, domains, zones, DNS), dynamic providers, components."""
