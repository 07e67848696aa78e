"""The Turso emulator: the Platform API and the libSQL data plane (Hrana over HTTP) over SQLite files."""
