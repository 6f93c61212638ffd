"""The fastapi-live example app: a counter and the seed's dashboard."""
