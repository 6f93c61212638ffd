"""The example's team board (/todos) through fastapi_live.testing: the add form's validation,
items as components in a stream, inline edit, done, delete, and two boards seeing each other."""

from __future__ import annotations

import re
import uuid

import pytest

from fastapi_live.testing import (
    LiveTestClient,
    component_assigns,
    element,
    has_element,
    live,
    render_async,
    render_change,
    render_click,
    render_keydown,
    render_submit,
)


@pytest.fixture
def live_app(tmp_path, monkeypatch):
    from examples.app import todos
    from examples.app.main import app

    monkeypatch.setattr(todos.Board, "store", todos.TodoStore(str(tmp_path / "todos.sqlite3")))
    return app


async def signed_in(client, user: str = "alice") -> None:
    await client.get(f"/login?user={user}")


async def open_board(client):
    view, _ = await live(client, "/todos")
    await render_async(view)
    return view


def todo_ids(view) -> list[int]:
    return [int(m) for m in re.findall(r'id="todo-(\d+)"', element(view, "#todos").html())]


async def add(view, title: str) -> int:
    before = set(todo_ids(view))
    await render_submit(element(view, "#add-todo"), {"title": title})
    await render_async(view)
    (new,) = set(todo_ids(view)) - before
    return new


async def test_the_add_form_validates_after_touching(live_client):
    await signed_in(live_client)
    view = await open_board(live_client)
    assert "Title is required" not in element(view, "#add-todo").html()
    await render_change(element(view, "#add-todo"), {"title": ""})
    assert "Title is required" in element(view, "#add-todo").text()
    await render_change(element(view, "#add-todo"), {"title": "x" * 121})
    assert "At most 120 characters" in element(view, "#add-todo").text()
    await render_submit(element(view, "#add-todo"), {"title": "   "})
    assert "Title is required" in element(view, "#add-todo").text()
    assert todo_ids(view) == []
    await view.close()


async def test_add_edit_done_delete(live_client):
    from examples.app.todos import TodoItem

    await signed_in(live_client)
    view = await open_board(live_client)
    assert element(view, ".open-count").text() == "0 open"
    todo = await add(view, "Water the plants")
    assert element(view, f"#todo-{todo} .todo-title").text() == "Water the plants"
    assert element(view, ".open-count").text() == "1 open"
    assert element(view, "#add-todo input[name=title]").attributes.get("value", "") == ""  # a fresh form

    await render_click(element(view, f"#todo-{todo} button", text="Edit"))
    assert component_assigns(view, TodoItem, todo).editing is True
    await render_keydown(element(view, f"#todo-{todo} input[name=title]"), {"key": "Escape"})
    assert not has_element(view, f"#todo-{todo} input[name=title]")

    await render_click(element(view, f"#todo-{todo} button", text="Edit"))
    await render_submit(element(view, f"#todo-{todo} form"), {"title": "  "})
    assert "Title is required" in element(view, f"#todo-{todo}").text()
    await render_submit(element(view, f"#todo-{todo} form"), {"title": "Water the cactus"})
    await render_async(view)
    assert element(view, f"#todo-{todo} .todo-title").text() == "Water the cactus"

    await render_click(element(view, f"#todo-{todo} .todo-done"))
    await render_async(view)
    assert "done" in element(view, f"#todo-{todo}").attributes["class"]
    assert element(view, ".open-count").text() == "0 open"

    await render_click(element(view, f"#todo-{todo} button", text="Delete"))
    await render_async(view)
    assert not has_element(view, f"#todo-{todo}")
    await view.close()


async def test_two_boards_see_each_others_changes(live_app):
    async with LiveTestClient(live_app) as alice_client, LiveTestClient(live_app) as bob_client:
        await signed_in(alice_client, "alice")
        await signed_in(bob_client, "bob")
        alice = await open_board(alice_client)
        bob = await open_board(bob_client)
        title = f"Shared {uuid.uuid4().hex[:6]}"
        todo = await add(alice, title)
        await render_async(bob)
        assert element(bob, f"#todo-{todo} .todo-title").text() == title
        assert element(bob, f"#todo-{todo} .todo-author").text() == "alice"
        await render_click(element(bob, f"#todo-{todo} .todo-done"))
        await render_async(alice)
        assert "done" in element(alice, f"#todo-{todo}").attributes["class"]
        assert element(alice, "#presence li", text="alice").text()  # both boards list who is on /todos
        assert element(alice, "#presence li", text="bob").text()
        for view in (alice, bob):  # each board recounts on every change it hears: let the last count land
            await render_async(view)
            await view.close()


async def test_after_a_lost_session_the_board_remounts_with_its_components(live_client):
    from examples.app.todos import TodoItem

    await signed_in(live_client)
    view = await open_board(live_client)
    first = await add(view, "Before the restart")
    second = await add(view, "Also before")
    await render_click(element(view, f"#todo-{first} button", text="Edit"))
    await view.session.close()  # the server lost the session (a restart, an expiry)
    await render_async(view)  # the stream reconnects and the server remounts the page
    assert view.remounts == 1
    assert todo_ids(view) == [first, second]
    assert component_assigns(view, TodoItem, first).editing is False  # a fresh component: its state was the lost session's
    await render_click(element(view, f"#todo-{second} button", text="Edit"))
    await render_submit(element(view, f"#todo-{second} form"), {"title": "After the restart"})
    await render_async(view)
    assert element(view, f"#todo-{second} .todo-title").text() == "After the restart"
    await view.close()
