"""Demo login: a signed cookie naming the user, and the hooks that require it."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from fastapi import Depends, Request
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


def login_cookie(name: str) -> str:
    return _signer.dumps(name)


def current_user(request: Request) -> User | None:
    """The signed-in user, or None: a FastAPI dependency."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        name = _signer.loads(raw)
    except BadSignature:
        return None
    if not isinstance(name, str) or not name:
        return None
    return User(id=name, name=name)


async def ensure_authenticated(socket: LiveSocket, user: User | None = Depends(current_user)) -> object:
    """on_mount hook: pages behind it need a signed-in user (LiveView's ``ensure_authenticated``)."""
    if user is None:
        socket.redirect("/login")
        return HALT
    socket.assign(current_user=user.name)
    return None
