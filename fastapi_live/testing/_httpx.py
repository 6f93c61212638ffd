"""httpx, which the toolkit's HTTP layer is built on, or the error naming the extra that installs it."""

from __future__ import annotations

from ..exceptions import MissingDependencyError

try:
    import httpx as httpx  # re-exported: the toolkit's modules import it from here
except ImportError:  # pragma: no cover - reason: the test extra is always installed in this repository
    raise MissingDependencyError("httpx must be installed to use fastapi_live.testing: pip install 'fastapi-live[test]'") from None

__all__ = ["httpx"]
