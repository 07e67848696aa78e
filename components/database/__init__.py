"""The app's schema and preview data as deploy steps (deploy.py); the library they call is dbtools."""
