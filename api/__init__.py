"""Kendali's HTTP API (FastAPI): incidents, the live stream, health, and later the wall."""
