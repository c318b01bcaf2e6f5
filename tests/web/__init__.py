"""Tests of the dashboard and the JSON HTTP API, against a real uvicorn server."""
