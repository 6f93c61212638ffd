"""The live dashboard: refused without auth, admin-only in the example, sessions across processes on Redis."""

from __future__ import annotations

import re

import pytest
from fastapi import Depends, HTTPException, Request
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from examples.app.auth import COOKIE, login_cookie
from fastapi_live import ConfigurationError, TelemetryEvent
from fastapi_live.dashboard import live_dashboard
from fastapi_live.introspection import HandlerStats
from fastapi_live.telemetry import Span, Telemetry, telemetry
from fastapi_live.testing import LiveTestClient, live, render_async, render_click
from tests.support.example_workers import client_for, example_workers
from tests.support.waits import eventually
from tests.test_telemetry import make_app


def test_the_dashboard_refuses_to_build_without_an_auth_dependency() -> None:
    with pytest.raises(ConfigurationError, match=r"live_dashboard\(\) needs an auth dependency: it shows every live session of the app") as raised:
        live_dashboard()
    assert "live_dashboard(dependencies=[Depends(admin_only)])" in str(raised.value) and "live_dashboard(dev=True)" in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"takes FastAPI dependencies, e.g. \[Depends\(admin_only\)\]\nGot: <function"):
        live_dashboard(dependencies=[lambda: None])
    with pytest.raises(ConfigurationError, match=r"interval=\.\.\.\) takes seconds between refreshes, a number above 0\nGot: 0"):
        live_dashboard(dev=True, interval=0)
    assert live_dashboard(dev=True).routes  # a development app may say so


def rows(html: str, table: str) -> list[list[str]]:
    tree = HTMLParser(html)
    return [[" ".join(td.text().split()) for td in tr.css("td")] for tr in tree.css(f"#{table} tbody tr")]


def per_view(html: str) -> dict[str, str]:
    return {cells[0]: cells[-1] for cells in rows(html, "sessions-per-view") if len(cells) > 1}


async def test_the_example_serves_the_dashboard_to_admin_only() -> None:
    from examples.app.main import app

    async with LiveTestClient(app) as anonymous:
        refused = await anonymous.get("/_live/dashboard")
        assert refused.status_code == 403 and "sign in at /login?user=admin" in refused.json()["detail"]
    async with LiveTestClient(app, cookies={COOKIE: login_cookie("alice")}) as alice:
        assert (await alice.get("/_live/dashboard")).status_code == 403
        await live(alice, "/counter")
        async with LiveTestClient(app, cookies={COOKIE: login_cookie("admin")}) as admin:
            page = await admin.get("/_live/dashboard")
            assert page.status_code == 200 and "Live dashboard" in page.text
            assert per_view(page.text).get("Counter") == "1"
            [session] = [cells for cells in rows(page.text, "sessions") if cells[0] == "Counter"]
            assert session[1] == "/counter" and re.fullmatch(r"\d+ s", session[3]) and re.fullmatch(r"[\d.]+ (B|KB)", session[4])


async def test_assign_values_show_only_when_the_app_opts_in() -> None:
    for show in (False, True):
        app, router = make_app()
        app.include_router(live_dashboard(router, dev=True, show_assigns=show))
        async with LiveTestClient(app) as client:
            view, _ = await live(client, "/measured")
            await render_async(view)
            html = (await client.get("/_live/dashboard")).text
            [cells] = [c for c in rows(html, "sessions") if c[0] == "Measured"]
            assert ("count=0" in " ".join(cells)) is show
            assert ("Assigns</th>" in html) is show


async def test_slowest_handlers_and_recent_exceptions_keep_no_params() -> None:
    stats = HandlerStats()
    stats.attach()
    try:
        app, _ = make_app()
        async with LiveTestClient(app) as client:
            view, _ = await live(client, "/measured")
            await render_async(view)
            await render_click(view, "inc")
            with pytest.raises(Exception, match="boom"):
                await render_click(view, "explode", {"password": "hunter2"})
    finally:
        stats.detach()
    report = stats.as_json()
    [slowest] = [h for h in report["slowest"] if h["span"] == "handle_event" and h["event"] == "inc"]
    assert (slowest["view"], slowest["calls"], slowest["failures"]) == ("Measured", 1, 0)
    assert [h["slowest_ms"] for h in report["slowest"]] == sorted((h["slowest_ms"] for h in report["slowest"]), reverse=True)
    assert slowest["slowest_ms"] >= 50
    [error] = report["exceptions"]
    assert (error["type"], error["message"], error["event"], error["view"]) == ("RuntimeError", "boom", "explode", "Measured")
    assert error["where"][0].startswith("test_telemetry.py:") and error["where"][0].endswith("in explode")
    assert "hunter2" not in repr(report) and report["events"] == 2


def test_handler_stats_ignore_the_dashboards_own_page() -> None:
    stats = HandlerStats(ignore=frozenset({"LiveDashboard"}))
    own = Telemetry()
    for view in ("LiveDashboard", "Counter"):
        span = Span(own, "handle_async", view, "s", {"name": "tick"})
        stats(TelemetryEvent("handle_async", "stop", view, "s", {"name": "tick"}, 0.01, None, span))
    assert [h["view"] for h in stats.slowest()] == ["Counter"]


async def _dashboard_admin_only(request: Request) -> None:
    if request.headers.get("x-admin") != "yes":
        raise HTTPException(403)


async def test_a_dependency_guards_the_page_and_its_remount() -> None:
    app, router = make_app()
    app.include_router(live_dashboard(router, dependencies=[Depends(_dashboard_admin_only)]))
    async with LiveTestClient(app) as client:
        assert (await client.get("/_live/dashboard")).status_code == 403
        assert (await client.get("/_live/dashboard", headers={"x-admin": "yes"})).status_code == 200
    assert telemetry.on is False  # the dashboard's handler left with the app


@pytest.mark.redis
async def test_with_redis_the_dashboard_shows_every_processs_sessions(redis_server_url: str) -> None:
    with example_workers(redis_server_url) as (a, b):
        async with client_for(a, "alice") as alice, client_for(b, "bob") as bob, client_for(a, "admin") as admin:
            assert (await alice.get("/counter")).status_code == 200
            assert (await bob.get("/counter")).status_code == 200
            assert (await bob.get("/orgs/1")).status_code == 200
            nodes = {f":{a.proc.pid}": "a", f":{b.proc.pid}": "b"} if a.proc and b.proc else {}
            seen: dict[str, str] = {}

            async def both_processes_listed() -> bool:
                page = await admin.get("/_live/dashboard")
                assert page.status_code == 200
                processes = {cells[0]: cells for cells in rows(page.text, "processes")}
                mine = {nodes[suffix]: cells for name, cells in processes.items() for suffix in nodes if name.endswith(suffix)}
                if set(mine) != {"a", "b"}:
                    return False
                seen.update(per_view(page.text))
                seen["a"], seen["b"] = mine["a"][1], mine["b"][1]
                return True

            await eventually(both_processes_listed, timeout=15)
            # a: alice's counter (the admin's dashboard pages are its own router's, not counted); b: bob's two pages.
            assert int(seen["a"]) >= 1 and int(seen["b"]) >= 2
            assert int(seen["OrgPage"]) >= 1 and int(seen["Counter"]) >= 2

