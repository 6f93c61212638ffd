"""Pages with forms: a signup form validated on change, and an add form the server clears after each submit."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator

from fastapi_live import Form, LiveRouter, LiveSocket, LiveView, event, to_form
from fastapi_live.pubsub.memory import MemoryPubSub
from tests.support.gates import GATES

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Signup(BaseModel):
    name: str = Field("", title="Full name")
    email: str = ""
    plan: Literal["free", "pro"] = "free"
    terms: bool = False
    bio: str = Field("", max_length=40)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if len(name.strip()) < 2:
            raise ValueError("Name must be at least 2 characters")
        return name.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, email: str) -> str:
        if "@" not in email:
            raise ValueError("Enter a valid email address")
        return email

    @field_validator("terms")
    @classmethod
    def _terms(cls, terms: bool) -> bool:
        if not terms:
            raise ValueError("Accept the terms to sign up")
        return terms


class Task(BaseModel):
    title: str = Field("", max_length=120)

    @field_validator("title")
    @classmethod
    def _title(cls, title: str) -> str:
        if not title.strip():
            raise ValueError("Title is required")
        return title.strip()


class SignupPage(LiveView):
    """``?run=`` names the gate ``save`` waits on, so a test decides when the submit's reply is sent."""

    async def mount(self, socket: LiveSocket, run: str = "") -> None:
        socket.assign(form=to_form(Signup), run=run, saved=None, saves=0, clicks=0)

    @event("validate")
    async def validate(self, socket: LiveSocket, form: Form[Signup]) -> None:
        socket.assign(form=form)

    @event("save")
    async def save(self, socket: LiveSocket, form: Form[Signup]) -> None:
        socket.update("saves", lambda n: n + 1)
        if socket.assigns.run:
            await GATES.get(socket.assigns.run, "save").wait()
        socket.assign(form=form, saved=form.data.name if form.data is not None else None)

    @event("ping")
    async def ping(self, socket: LiveSocket) -> None:
        if socket.assigns.run:
            await GATES.get(socket.assigns.run, "ping").wait()
        socket.update("clicks", lambda n: n + 1)


class TasksPage(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(form=to_form(Task), tasks=[], submits=0)

    @event("add")
    async def add(self, socket: LiveSocket, form: Form[Task]) -> None:
        socket.update("submits", lambda n: n + 1)
        if form.data is None:
            socket.assign(form=form)
            return
        socket.update("tasks", lambda tasks: [*tasks, form.data.title if form.data else ""])
        socket.assign(form=to_form(Task))  # a fresh form: the input empties, even while focused


def make_app() -> FastAPI:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/signup", template="forms_signup.html")(SignupPage)
    live.page("/tasks", template="forms_tasks.html")(TasksPage)
    app = FastAPI()
    app.include_router(live)
    return app
