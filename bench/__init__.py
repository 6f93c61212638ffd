"""fastapi-live benchmarks: ``python -m bench`` prints one table (never part of the test suite).

Each figure stands beside a baseline (a hand-written FastAPI + sse-starlette app, "the
floor") and beside pyview (``pyview-web``, driven over its WebSocket protocol), all measured
in the same run. Servers under test run as separate uvicorn processes on free loopback
ports; this process is the load generator.
"""

from __future__ import annotations
