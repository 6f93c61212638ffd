"""The example app served by ``make run``: http://127.0.0.1:8000.

* ``/counter`` — the smallest live page.
* ``/login?user=<name>`` — demo login; sets a signed cookie, redirects to ``/dashboard/acme``.
* ``POST /logout`` — signs out; every live page of that sign-in ends (``live.disconnect``).
* ``/dashboard/{slug}`` — the seed's dashboard: async assigns from SQLite, a post stream paged
  by ``?page=N``, the notification widget, who is online (presence), a settings form with
  auto-recover, and tabs that are patch links (``?tab=settings``), read back by ``handle_params``.
* ``/orgs/{id}`` — ``start_async`` with ``handle_async`` for both outcomes.
* ``POST /api/notifications`` — ``{"user": "alice", "message": "hi"}`` publishes to alice.
* ``/uploads`` — photos validated in the browser and on the server, sent in chunks with progress.
* ``/todos`` — the team board: a stream of ``LiveComponent`` items, edited in place, shared live.
* ``/_live/dashboard`` — the live dashboard (sessions, handlers, processes), for the user ``admin`` only.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator
from starlette.background import BackgroundTask

from fastapi_live import AsyncResult, Exit, Form, LiveRouter, LiveSocket, LiveView, Ok, StreamBatch, event, live_dashboard, to_form

from .auth import COOKIE, admin_only, current_user, ensure_authenticated, login_cookie, login_identity
from .data import Database, Post
from .notifications import NotificationWidget, new_notification, topic_for
from .presence import PresenceWidget
from .todos import Board, TodoBoard, TodoStore
from .uploads import Uploads, human_size, media

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["filesize"] = human_size
db = Database()
# The signing key comes from FASTAPI_LIVE_SECRET (the library reads it). Unset, `make run` signs
# with a random key for the run and logs so; with Redis or several workers it refuses to start.
live = LiveRouter(templates=templates, client_config={"disconnectedTimeout": 1000})
authenticated = live.session("authenticated", on_mount=[ensure_authenticated, NotificationWidget, PresenceWidget(live.presence)])
TABS = ("overview", "activity", "settings")
Tab = Literal["overview", "activity", "settings"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@live.page("/counter", template="counter.html")
class Counter(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(page_title="Counter", nav="counter", count=0, clicks=0, current_user=None)

    @event("inc")
    async def inc(self, socket: LiveSocket, by: int = 1) -> None:
        socket.update("count", lambda n: n + by)
        socket.update("clicks", lambda n: n + 1)

    @event("reset")
    async def reset(self, socket: LiveSocket) -> None:
        socket.assign(count=0)
        socket.update("clicks", lambda n: n + 1)

    @event("explode")
    async def explode(self, socket: LiveSocket) -> None:
        # Shows fault isolation: the traceback goes to the server log, the page shows an
        # error state and stays usable, and no other session notices.
        raise RuntimeError("a bug in an event handler")


class SettingsForm(BaseModel):
    """The settings form: its fields, and the rules they are validated by on every change."""

    name: str = ""
    email: str = ""

    @field_validator("name")
    @classmethod
    def _name_long_enough(cls, name: str) -> str:
        if len(name.strip()) < 2:
            raise ValueError("Name must be at least 2 characters")
        return name.strip()

    @field_validator("email")
    @classmethod
    def _email_looks_valid(cls, email: str) -> str:
        if not _EMAIL.match(email.strip()):
            raise ValueError("Enter a valid email address")
        return email.strip()


def dashboard_url(slug: str, tab: str = "overview", page: int = 1) -> str:
    """The dashboard's URL for a tab and a page of posts; the defaults stay out of it."""
    query = urlencode({key: value for key, value, default in (("tab", tab, "overview"), ("page", page, 1)) if value != default})
    return f"/dashboard/{slug}" + (f"?{query}" if query else "")


def posts_page(slug: str, page: int) -> StreamBatch:
    # Another page of posts replaces the posts shown before it (drafts too).
    return StreamBatch(db.list_posts(slug, page), reset=True)


@authenticated.page("/dashboard/{slug}", template="dashboard.html")
class Dashboard(LiveView):
    async def mount(self, socket: LiveSocket, slug: str) -> None:
        socket.assign(page_title="Dashboard", nav="dashboard", slug=slug, active_tab="overview", page=0)
        socket.assign(form=to_form(SettingsForm), saved=None)
        socket.assign_async("org", db.fetch_org, slug)
        socket.assign_async(["profile", "rank"], db.fetch_profile_and_rank, slug)
        socket.assign_async("post_pages", db.count_post_pages, slug)
        socket.stream_configure("posts", dom_id=lambda post: f"post-{post.id}")

    async def handle_params(self, socket: LiveSocket, tab: Tab = "overview", page: Annotated[int, Field(ge=1)] = 1) -> None:
        # The tab and the page of posts live in the URL: a patch link, Back and Forward, a
        # bookmark and a remount after a restart all come through here.
        slug = socket.assigns.slug
        socket.assign(
            active_tab=tab,
            tab_urls={t: dashboard_url(slug, t, page) for t in TABS},
            newer_url=dashboard_url(slug, tab, page - 1),
            older_url=dashboard_url(slug, tab, page + 1),
        )
        if page != socket.assigns.page:  # the first call, or another page: only then load posts
            socket.assign(page=page)
            socket.stream_async("posts", posts_page, slug, page)

    @event("select-tab")
    async def select_tab(self, socket: LiveSocket, tab: str, replace: bool = False) -> None:
        if tab in TABS:
            socket.push_patch(dashboard_url(socket.assigns.slug, tab, socket.assigns.page), replace=replace)

    @event("restore_tab")
    async def restore_tab(self, socket: LiveSocket, tab: str) -> None:
        # StateCache: after a reconnect the browser sends back the tab it was showing (the URL
        # already says so: the page remounts at the URL it was patched to).
        await self.select_tab(socket, tab, replace=True)

    @event("validate")
    async def validate(self, socket: LiveSocket, form: Form[SettingsForm]) -> None:
        # Errors show only for the fields the user has touched: the form knows which.
        socket.assign(form=form, saved=None)

    @event("recover")
    async def recover(self, socket: LiveSocket, form: Form[SettingsForm]) -> None:
        # Called after a reconnect with the form's last values (and touched fields) from the DOM.
        await self.validate(socket, form)

    @event("save")
    async def save(self, socket: LiveSocket, form: Form[SettingsForm]) -> None:
        socket.assign(form=form, saved=None)
        if form.data is None:
            return  # a submit touches every field: all their errors show
        await db.save_settings(socket.assigns.slug, socket.assigns.current_user, form.data.name, form.data.email)
        socket.assign(saved=form.data.name)
        socket.put_flash("info", "Settings saved")

    @event("reload-posts")
    async def reload_posts(self, socket: LiveSocket) -> None:
        socket.stream_async("posts", db.list_posts, socket.assigns.slug, socket.assigns.page, reset=True)

    @event("add-post")
    async def add_post(self, socket: LiveSocket) -> None:
        drafts = socket.assigns.get("drafts", 0) + 1
        # A random id, not one counted from the draft number: a remounted session (its
        # worker died or restarted) counts again from 1 while the stream in the page still
        # holds the drafts made before, and an item with the same DOM id replaces them.
        draft = Post(id=f"draft-{uuid.uuid4().hex}", title=f"Draft #{drafts}", author=socket.assigns.current_user)
        socket.stream_insert("posts", draft, at=0)
        socket.assign(drafts=drafts)


@authenticated.page("/orgs/{id}", template="org.html")
class OrgPage(LiveView):
    """The seed's start_async example: the result is handled by hand in handle_async."""

    async def mount(self, socket: LiveSocket, id: int) -> None:
        socket.assign(page_title="Organization", org_id=id, org=AsyncResult.loading())
        socket.start_async("fetch_org", db.fetch_org_by_id, id)

    @event("reload")
    async def reload(self, socket: LiveSocket) -> None:
        socket.assign(org=AsyncResult.loading(socket.assigns.org))
        socket.start_async("fetch_org", db.fetch_org_by_id, socket.assigns.org_id)

    @event("cancel")
    async def cancel(self, socket: LiveSocket) -> None:
        socket.cancel_async("fetch_org", "cancelled by the user")

    async def handle_async(self, name: str, outcome: Any, socket: LiveSocket) -> None:
        match name, outcome:
            case "fetch_org", Ok(org):
                socket.assign(org=AsyncResult.ok(socket.assigns.org, org))
            case "fetch_org", Exit(reason):
                socket.assign(org=AsyncResult.failed(socket.assigns.org, reason))


class NotificationIn(BaseModel):
    user: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=2000)


live.page("/uploads", template="uploads.html")(Uploads)

# The team board: its items are LiveComponents; changes go out on the app's PubSub.
Board.store, Board.pubsub = TodoStore(), live.pubsub
authenticated.page("/todos", template="todos.html")(TodoBoard)

app = FastAPI(title="fastapi-live example")
app.include_router(live)
app.include_router(media)
# Every live session of the app, its slowest handlers and its errors: for the demo user admin only.
app.include_router(live_dashboard(live, dependencies=[Depends(admin_only)]))
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


@app.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    return templates.TemplateResponse(request, "index.html", {"current_user": _user_name(request), "live": live.helpers})


@app.get("/login", response_model=None)
async def login(request: Request, user: str | None = None) -> Response:
    if not user:
        return templates.TemplateResponse(request, "login.html", {"current_user": None, "live": live.helpers})
    response = RedirectResponse("/dashboard/acme", status_code=303)
    response.set_cookie(COOKIE, login_cookie(user), httponly=True, samesite="lax")
    _end_sign_in(request, response)  # signing in as someone else ends the old sign-in's live pages
    return response


@app.post("/logout", response_model=None)
async def logout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax")
    _end_sign_in(request, response)
    return response


def _end_sign_in(request: Request, response: Response) -> None:
    """Disconnect every live page of the browser's current sign-in, in every process.

    Once ``response`` is sent: the old pages reload as soon as they hear of it, and by then the
    browser must hold the cookie this response sets (or the page reloads as the old sign-in).
    """
    user = current_user(request)
    if user is not None:
        response.background = BackgroundTask(live.disconnect, login_identity(user))


@app.post("/api/notifications", status_code=202)
async def publish_notification(body: NotificationIn) -> dict[str, Any]:
    notification = new_notification(body.message)
    await live.publish(topic_for(body.user), notification)
    return {"published": notification.model_dump(), "to": body.user}


def _user_name(request: Request) -> str | None:
    user = current_user(request)
    return user.name if user else None
