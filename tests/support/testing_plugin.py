"""Loads fastapi-live's pytest plugin in a checkout, where its entry point is not installed."""

from __future__ import annotations

from importlib.metadata import entry_points

PLUGIN = "fastapi_live.testing.plugin"


def plugins() -> list[str]:
    """``pytest_plugins`` for a test module: the plugin, unless its entry point already loads it."""
    installed = any(entry_point.value == PLUGIN for entry_point in entry_points(group="pytest11"))
    return [] if installed else [PLUGIN]
