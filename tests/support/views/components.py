"""Pages of LiveComponents: a list of cards (each with its own state, events and async work), a
stream of components, a page with a duplicate id, and a list of 1,000 for the bench's sake."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import AsyncResult, ComponentSocket, Exit, LiveComponent, LiveRouter, LiveSocket, LiveView, Ok, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOG: list[str] = []  # what the components' callbacks saw, in order


@dataclass(frozen=True)
class Item:
    id: int
    title: str


async def slow_double(n: int) -> int:
    await asyncio.sleep(0.01)  # why: an async load that really waits, so the component shows its loading state first
    return n * 2


async def failing(n: int) -> int:
    await asyncio.sleep(0)  # why: fails after a wait, as a real load would
    raise ValueError(f"no luck with {n}")


class Card(LiveComponent):
    template = "component_card.html"

    async def mount(self, socket: ComponentSocket) -> None:
        LOG.append("mount")
        socket.assign(open=False, clicks=0, total=AsyncResult.loading(), note="")

    async def update(self, assigns: dict[str, Any], socket: ComponentSocket) -> None:
        LOG.append(f"update {assigns['id']}")
        socket.assign(assigns)

    @event("toggle")
    async def toggle(self, socket: ComponentSocket) -> None:
        socket.assign(open=not socket.assigns.open)
        socket.update("clicks", lambda n: n + 1)

    @event("boom")
    async def boom(self, socket: ComponentSocket) -> None:
        socket.assign(open=True)
        raise RuntimeError("a bug in a component")

    @event("load")
    async def load(self, socket: ComponentSocket, n: int) -> None:
        socket.assign_async("total", slow_double, n)

    @event("start")
    async def start(self, socket: ComponentSocket, n: int, fail: bool = False) -> None:
        socket.start_async("double", failing if fail else slow_double, n)

    @event("capture")
    async def capture(self, socket: ComponentSocket) -> None:
        socket.start_async("double", lambda: socket.assigns.clicks)

    @event("hooked")
    async def hooked(self, socket: ComponentSocket, width: int) -> dict[str, Any]:
        socket.assign(note=f"width {width}")
        return {"seen": width}

    @event("poke-sibling")
    async def poke_sibling(self, socket: ComponentSocket, id: int) -> None:
        socket.send_update(Card, id=id, note=f"poked by {socket.assigns.id}")

    async def handle_async(self, name: str, outcome: Any, socket: ComponentSocket) -> None:
        match name, outcome:
            case "double", Ok(value):
                socket.assign(note=f"double {value}")
            case "double", Exit(reason):
                socket.assign(note=f"failed: {reason}")


class Cards(LiveView):
    async def mount(self, socket: LiveSocket, n: int = 3) -> None:
        socket.assign(cards=[Item(i, f"Card {i}") for i in range(1, n + 1)], heading="Cards", clicks=0)

    @event("rename")
    async def rename(self, socket: LiveSocket, id: int, title: str) -> None:
        socket.assign(cards=[Item(i.id, title) if i.id == id else i for i in socket.assigns.cards])

    @event("remove")
    async def remove(self, socket: LiveSocket, id: int) -> None:
        socket.assign(cards=[i for i in socket.assigns.cards if i.id != id])

    @event("poke")
    async def poke(self, socket: LiveSocket, id: int) -> None:
        socket.send_update(Card, id=id, note="poked by the page")

    @event("page-click")
    async def page_click(self, socket: LiveSocket) -> None:
        socket.update("clicks", lambda n: n + 1)

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        if isinstance(message, tuple) and message[0] == "note":
            socket.send_update(Card, id=message[1], note=message[2])


class Row(LiveComponent):
    template = "component_row.html"

    async def mount(self, socket: ComponentSocket) -> None:
        socket.assign(editing=False)

    @event("edit")
    async def edit(self, socket: ComponentSocket) -> None:
        socket.assign(editing=True)


class Feed(LiveView):
    async def mount(self, socket: LiveSocket, n: int = 3) -> None:
        socket.stream_configure("rows", dom_id=lambda item: f"row-{item.id}")
        socket.stream("rows", [Item(i, f"Row {i}") for i in range(1, n + 1)])

    @event("insert")
    async def insert(self, socket: LiveSocket, id: int, title: str) -> None:
        socket.stream_insert("rows", Item(id, title))

    @event("delete")
    async def delete(self, socket: LiveSocket, id: int) -> None:
        socket.stream_delete_by_dom_id("rows", f"row-{id}")


class Twice(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(cards=[Item(1, "One")], again=Item(1, "Again"))


class Waits(LiveComponent):
    template = "component_row.html"

    async def mount(self, socket: ComponentSocket) -> None:
        await asyncio.sleep(0.001)  # why: a mount that really waits, which the library must refuse


class WaitingPage(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(item=Item(1, "One"))


def make_app() -> tuple[FastAPI, LiveRouter]:
    templates = Jinja2Templates(directory=TEMPLATES)
    live = LiveRouter(templates=templates, pubsub=MemoryPubSub(), secret_key="test-secret")
    live.page("/cards", template="component_cards.html")(Cards)
    live.page("/feed", template="component_feed.html")(Feed)
    live.page("/twice", template="component_twice.html")(Twice)
    live.page("/waits", template="component_waits.html")(WaitingPage)
    app = FastAPI()
    app.include_router(live)
    return app, live


class Leaf(LiveComponent):
    template = "component_leaf.html"

    async def mount(self, socket: ComponentSocket) -> None:
        socket.assign(lit=False)

    @event("light")
    async def light(self, socket: ComponentSocket) -> None:
        socket.assign(lit=True)


class Panel(LiveComponent):
    """A component of components: its leaves live while it renders them."""

    template = "component_panel.html"

    async def mount(self, socket: ComponentSocket) -> None:
        socket.assign(leaves=2)

    @event("more")
    async def more(self, socket: ComponentSocket) -> None:
        socket.update("leaves", lambda n: n + 1)

    @event("fewer")
    async def fewer(self, socket: ComponentSocket) -> None:
        socket.update("leaves", lambda n: n - 1)


class Panels(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(title="Panels")


def make_nested_app() -> FastAPI:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), pubsub=MemoryPubSub(), secret_key="test-secret")
    live.page("/panels", template="component_panels.html")(Panels)
    app = FastAPI()
    app.include_router(live)
    return app
