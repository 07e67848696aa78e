"""The Cloudflare emulator: accounts and zones, DNS, Pages projects and their served sites."""
