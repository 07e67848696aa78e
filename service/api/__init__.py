"""The deploy HTTP API: the app in app.py, one router module per resource, SQL in the service stores."""

from service.api.app import create_app

__all__ = ["create_app"]
