"""The managers' dashboard: FastAPI JSON API, server-sent events and one static page."""
