"""Pulumi ComponentResources, one module per system, with their dynamic providers."""
