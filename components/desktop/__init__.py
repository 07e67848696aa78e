"""Desktop apps: a Tauri 2 project generated per app, built on Linux here and in CI for all three."""
