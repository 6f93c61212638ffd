"""Fixture views and the apps that serve them."""
