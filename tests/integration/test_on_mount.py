"""on_mount hooks: FastAPI dependencies, run in order (router, group, page), halting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from jinja2 import DictLoader, Environment

from fastapi_live import HALT, ConfigurationError, LiveHook, LiveRouter, LiveSocket, LiveView
from fastapi_live.pubsub.memory import MemoryPubSub

PAGE = '{% extends "live/base.html" %}{% block content %}{% region "trail" %}{{ trail | join(" > ") }}{% endregion %}{% endblock %}'


def visitor(request: Request) -> str:
    return request.headers.get("x-visitor", "anonymous")


async def router_hook(socket: LiveSocket, who: str = Depends(visitor)) -> None:
    socket.assign(trail=[f"router:{who}"])


class GroupHook(LiveHook):
    async def on_mount(self, socket: LiveSocket, who: str = Depends(visitor)) -> Any:
        if who == "intruder":
            socket.redirect("/go-away")
            return HALT
        socket.assign(trail=[*socket.assigns.trail, "group"])
        return None


async def page_hook(socket: LiveSocket, slug: str) -> None:
    socket.assign(trail=[*socket.assigns.trail, f"page:{slug}"])


async def halts_without_redirect(socket: LiveSocket) -> Any:
    return HALT


async def redirects_but_continues(socket: LiveSocket) -> Any:
    socket.redirect("/login")
    return None


MOUNTED: list[str] = []


async def reads_the_request(socket: LiveSocket, request: Request) -> None:
    socket.assign(trail=[f"path:{request.url.path}"])


class TrailOfRequest(LiveView):
    async def mount(self, socket: LiveSocket, request: Request, slug: str) -> None:
        socket.assign(trail=[*socket.assigns.trail, f"mount:{request.url.path}:{slug}"])


class Recorded(LiveView):
    async def mount(self, socket: LiveSocket, slug: str) -> None:
        MOUNTED.append(slug)
        socket.assign(trail=[slug])


class Trail(LiveView):
    async def mount(self, socket: LiveSocket, slug: str) -> None:
        socket.assign(trail=[*socket.assigns.trail, f"mount:{slug}"])


def make_app() -> FastAPI:
    env = Environment(loader=DictLoader({"trail.html": PAGE}), autoescape=True)
    live = LiveRouter(templates=env, secret_key="test-secret", pubsub=MemoryPubSub(), on_mount=[router_hook])
    group = live.session("members", on_mount=[GroupHook])
    group.page("/trail/{slug}", template="trail.html", on_mount=[page_hook])(Trail)
    live.page("/broken-hook/{slug}", template="trail.html", on_mount=[halts_without_redirect])(Trail)
    live.page("/request/{slug}", template="trail.html", on_mount=[reads_the_request])(TrailOfRequest)
    live.page("/continuing-redirect/{slug}", template="trail.html", on_mount=[redirects_but_continues])(Recorded)
    app = FastAPI()
    app.include_router(live)
    return app


@pytest.fixture
def url(serve):
    return serve(make_app())


async def test_hooks_run_in_order_with_their_dependencies_before_mount(url):
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/trail/acme", headers={"x-visitor": "ada"})
        assert response.status_code == 200
        assert "router:ada &gt; group &gt; page:acme &gt; mount:acme" in response.text


async def test_a_hook_halts_with_a_redirect(url):
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/trail/acme", headers={"x-visitor": "intruder"})
        assert response.status_code == 303
        assert response.headers["location"] == "/go-away"


async def test_halting_without_a_redirect_is_a_clear_error():
    transport = httpx.ASGITransport(app=make_app())  # raises the app's exception here
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(ConfigurationError, match=r"^on_mount hook halts_without_redirect halted without a redirect: call socket\.redirect\(url\)"):
            await client.get("/broken-hook/acme")


async def test_a_hook_that_redirects_but_continues_is_an_error_and_mount_does_not_run():
    MOUNTED.clear()
    transport = httpx.ASGITransport(app=make_app())  # raises the app's exception here
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(
            ConfigurationError, match=r"^on_mount hook redirects_but_continues redirected without halting: .*\nReturn HALT after socket\.redirect\(url\)"
        ):
            await client.get("/continuing-redirect/acme")
    assert MOUNTED == []


async def test_hooks_and_mount_may_take_the_request_as_any_endpoint_does(url):
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/request/acme")
        assert response.status_code == 200
        assert "path:/request/acme &gt; mount:/request/acme:acme" in response.text
