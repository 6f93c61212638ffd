"""Live sessions by identity: a page joins one (``socket.identify``), and disconnecting it ends
every such session in every process (LiveView's ``live_socket_id`` and its "disconnect").

An identity is any string the app picks, usually one per sign-in (``"login:<id>"``): signing
out, or in as someone else, then ends the pages the old sign-in opened, instead of leaving
them live as the old user.
"""

from __future__ import annotations

from .exceptions import LiveError

IDENTITY_TOPIC = "fastapi-live:identity:"
DISCONNECT = "disconnect"


def identity_topic(identity: object) -> str:
    """The PubSub topic of ``identity``'s sessions; ``LiveError`` for anything but a non-empty string."""
    if not isinstance(identity, str) or not identity:
        raise LiveError(f"a live identity must be a non-empty string, e.g. f'login:{{login_id}}'\nGot: {identity!r}")
    return IDENTITY_TOPIC + identity
