"""Turso: Platform API client, dynamic provider and the TursoDatabase component."""
