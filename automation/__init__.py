"""Automation API driver: workspace, deploy/preview/destroy/refresh, events, CLI."""
