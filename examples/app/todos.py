"""The team board at ``/todos``: a stream of todo items, each a stateful ``LiveComponent``.

* The page (``TodoBoard``) owns the add form, the stream and the open-items count; it hears of
  every change on the PubSub topic ``todos`` — its own and everyone else's, in any worker
  process — and re-inserts (or deletes) the item it concerns.
* Each item (``TodoItem``) keeps its own state — whether it is being edited — and handles its
  own events: Edit, Save, Cancel, the done checkbox and Delete. The stream keeps no items in
  memory; only each item's small component state lives with the page's session.
* Todos are rows in SQLite (one file, shared by the workers of ``make run-cluster``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import threading
from dataclasses import dataclass

from pydantic import BaseModel, field_validator

from fastapi_live import ComponentSocket, Form, LiveComponent, LiveSocket, LiveView, PubSub, event, to_form

TOPIC = "todos"
MAX_TITLE = 120


@dataclass(frozen=True)
class Todo:
    id: int
    title: str
    done: bool = False
    author: str = ""


# What the board publishes: plain dataclasses, so they cross processes (Redis) as they are.
@dataclass(frozen=True)
class TodoSaved:
    todo: Todo


@dataclass(frozen=True)
class TodoDeleted:
    id: int


def check_title(title: str) -> str:
    """A todo's title, trimmed: required, at most 120 characters (the add form's rule and Save's)."""
    title = title.strip()
    if not title:
        raise ValueError("Title is required")
    if len(title) > MAX_TITLE:
        raise ValueError(f"At most {MAX_TITLE} characters")
    return title


class NewTodo(BaseModel):
    """The add form."""

    title: str = ""

    @field_validator("title")
    @classmethod
    def _valid_title(cls, title: str) -> str:
        return check_title(title)


class TodoStore:
    """Todos in one SQLite file; plain sync functions, which the library runs on its threads."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.environ.get("EXAMPLE_TODOS_DB") or os.path.join(tempfile.gettempdir(), "fastapi-live-example-todos.sqlite3")
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, author TEXT)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # WAL: workers read while another writes; a short wait rather than "database is locked".
            conn = self._local.conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def all(self) -> list[Todo]:
        rows = self._conn().execute("SELECT id, title, done, author FROM todos ORDER BY id").fetchall()
        return [Todo(id, title, bool(done), author or "") for id, title, done, author in rows]

    def count_open(self) -> int:
        (count,) = self._conn().execute("SELECT COUNT(*) FROM todos WHERE done = 0").fetchone()
        return int(count)

    def add(self, title: str, author: str) -> Todo:
        with self._conn() as conn:
            cursor = conn.execute("INSERT INTO todos (title, author) VALUES (?, ?)", (title, author))
        return Todo(int(cursor.lastrowid or 0), title, False, author)

    def update(self, todo_id: int, *, title: str | None = None, done: bool | None = None) -> Todo | None:
        """Change one field (two people may change the other meanwhile); the row as it now is, or
        None when someone deleted it."""
        with self._conn() as conn:
            if title is not None:
                conn.execute("UPDATE todos SET title = ? WHERE id = ?", (title, todo_id))
            if done is not None:
                conn.execute("UPDATE todos SET done = ? WHERE id = ?", (int(done), todo_id))
            row = conn.execute("SELECT id, title, done, author FROM todos WHERE id = ?", (todo_id,)).fetchone()
        return None if row is None else Todo(row[0], row[1], bool(row[2]), row[3] or "")

    def delete(self, todo_id: int) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM todos WHERE id = ?", (todo_id,))


class Board:
    """What the board's page and items share: the store, and the PubSub they publish changes on
    (``main.py`` sets both: ``Board.pubsub = live.pubsub``)."""

    store: TodoStore
    pubsub: PubSub

    @classmethod
    async def update(cls, todo_id: int, *, title: str | None = None, done: bool | None = None) -> None:
        todo = await asyncio.to_thread(cls.store.update, todo_id, title=title, done=done)
        # Every board hears it (this one too): each re-inserts the item, and its TodoItem updates.
        await cls.pubsub.publish(TOPIC, TodoDeleted(todo_id) if todo is None else TodoSaved(todo))


class TodoItem(LiveComponent):
    """One row of the board. Its events come from inside it, so they reach it (no target= needed)."""

    template = "todo_item.html"

    async def mount(self, socket: ComponentSocket) -> None:
        socket.assign(editing=False, error=None)

    async def update(self, assigns: dict[str, object], socket: ComponentSocket) -> None:
        socket.assign(todo=assigns["todo"])  # the page passes the newest todo on every change

    @event("edit")
    async def edit(self, socket: ComponentSocket) -> None:
        socket.assign(editing=True, error=None)

    @event("cancel")
    async def cancel(self, socket: ComponentSocket) -> None:
        socket.assign(editing=False, error=None)

    @event("save")
    async def save(self, socket: ComponentSocket, title: str = "") -> None:
        try:
            title = check_title(title)
        except ValueError as invalid:
            socket.assign(error=str(invalid))
            return
        await Board.update(socket.assigns.todo.id, title=title)
        socket.assign(editing=False, error=None)

    @event("toggle")
    async def toggle(self, socket: ComponentSocket) -> None:
        todo: Todo = socket.assigns.todo
        await Board.update(todo.id, done=not todo.done)

    @event("delete")
    async def delete(self, socket: ComponentSocket) -> None:
        todo_id = socket.assigns.todo.id
        await asyncio.to_thread(Board.store.delete, todo_id)
        await Board.pubsub.publish(TOPIC, TodoDeleted(todo_id))  # the stream item goes, and this component with it


class TodoBoard(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(page_title="Team board", nav="todos", form=to_form(NewTodo))
        socket.stream_configure("todos", dom_id=lambda todo: f"todo-{todo.id}")
        socket.stream_async("todos", Board.store.all)
        socket.assign_async("open_count", Board.store.count_open)
        if socket.connected:
            await socket.subscribe(TOPIC)

    @event("validate")
    async def validate(self, socket: LiveSocket, form: Form[NewTodo]) -> None:
        socket.assign(form=form)  # "Title is required" shows once the field was touched

    @event("add")
    async def add(self, socket: LiveSocket, form: Form[NewTodo]) -> None:
        if form.data is None:
            socket.assign(form=form)
            return
        todo = await asyncio.to_thread(Board.store.add, form.data.title, socket.assigns.current_user)
        await Board.pubsub.publish(TOPIC, TodoSaved(todo))
        socket.assign(form=to_form(NewTodo))  # a fresh, untouched form

    async def handle_info(self, message: object, socket: LiveSocket) -> None:
        match message:
            case TodoSaved(todo):
                socket.stream_insert("todos", todo)  # new: appended; shown: replaced where it stands
            case TodoDeleted(todo_id):
                socket.stream_delete_by_dom_id("todos", f"todo-{todo_id}")
            case _:
                return
        socket.assign_async("open_count", Board.store.count_open)  # stale-while-reloading: the old count stays meanwhile
