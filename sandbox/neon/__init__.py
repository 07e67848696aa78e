"""The Neon emulator: projects, branches, endpoints, roles and databases over the local PostgreSQL."""
