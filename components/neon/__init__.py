"""Neon: API v2 client, dynamic provider and the NeonProject component."""
