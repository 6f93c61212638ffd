"""Demo login: a signed cookie naming the user and the sign-in, and the hooks that require it."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer

from fastapi_live import HALT, LiveSocket

COOKIE = "example_user"
# The same key as the live pages' (its own salt keeps the two apart); unset, a random one for
# this run: sign-ins then last as long as the process, and no key is known to anyone.
_signer = URLSafeSerializer(os.environ.get("FASTAPI_LIVE_SECRET") or secrets.token_hex(32), salt="example-login")


@dataclass(frozen=True)
class User:
    id: str
    name: str
    login: str = ""  # this sign-in's own id: its live pages join it, and signing out ends them


def login_cookie(name: str) -> str:
    """A signed-in cookie for ``name``: a fresh sign-in, with an id of its own."""
    return _signer.dumps({"user": name, "login": secrets.token_urlsafe(12)})


def login_identity(user: User) -> str:
    """The live identity of one sign-in (``socket.identify`` / ``live.disconnect``)."""
    return f"login:{user.login}"


def current_user(request: Request) -> User | None:
    """The signed-in user, or None: a FastAPI dependency."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _signer.loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) and data[key] for key in ("user", "login")):
        return None
    return User(id=data["user"], name=data["user"], login=data["login"])


async def ensure_authenticated(socket: LiveSocket, user: User | None = Depends(current_user)) -> object:
    """on_mount hook: pages behind it need a signed-in user (LiveView's ``ensure_authenticated``).

    The page joins its sign-in's identity, so signing out (or in as someone else) ends it.
    """
    if user is None:
        socket.redirect("/login")
        return HALT
    await socket.identify(login_identity(user))
    socket.assign(current_user=user.name)
    return None


ADMIN = "admin"


def admin_only(user: User | None = Depends(current_user)) -> None:
    """The live dashboard's guard: the demo user ``admin`` only (``/login?user=admin``); anyone else gets a 403."""
    if user is None or user.name != ADMIN:
        raise HTTPException(status_code=403, detail="the live dashboard is for the admin user: sign in at /login?user=admin")
