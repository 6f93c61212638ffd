"""The wire's vocabulary: every header, attribute, class, event and swap name, and the builders
of what the server sends (``<hx-partial>`` fragments, ``<hx-live>`` client operations).

``static/fastapi-live.js`` opens with the same names in its constants block; a test holds the
two against each other (``CLIENT_CONSTANTS``).
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

# -- headers (lower case, as ASGI gives them) ---------------------------------------------------
TOKEN_HEADER = "x-live-token"
EVENT_HEADER = "x-live-event"
REPLY_HEADER = "x-live-reply"
LAST_EVENT_ID_HEADER = "last-event-id"

# -- attributes the library writes into the page --------------------------------------------------
ROOT_ID = "live-root"
ATTR_ROOT = "data-live-root"
ATTR_REGION = "data-live-region"
ATTR_VERSION = "data-live-v"
ATTR_TOKEN = "data-live-token"
ATTR_STREAM = "data-live-stream"
ATTR_VIEW = "data-live-view"
ATTR_EVENT_URL = "data-live-event-url"
ATTR_HOOK = "data-live-hook"
ATTR_AUTO_RECOVER = "data-live-auto-recover"
ATTR_CONFIG = "data-live-config"
BINDING_PREFIX = "data-live-"
BINDING_KINDS = ("click", "change", "submit", "keydown", "keyup", "blur", "focus")
ATTR_SSE_CONNECT = "hx-sse:connect"
ATTR_MORPH_SKIP = "hx-morph-skip"
ATTR_MORPH_SKIP_CHILDREN = "hx-morph-skip-children"

# -- classes on the live container -----------------------------------------------------------------
CLASS_LOADING = "live-loading"
CLASS_CONNECTED = "live-connected"
CLASS_DISCONNECTED = "live-disconnected"
CLASS_ERROR = "live-error"
CLASS_SERVER_ERROR = "live-server-error"
CLASS_CLIENT_ERROR = "live-client-error"

# -- named stream messages and DOM events -----------------------------------------------------------
EVENT_PREFIX = "live:"
REMOUNT_EVENT = "live:remount"

# -- swap styles -------------------------------------------------------------------------------------
SWAP_MORPH = "outerMorph"
SWAP_INNER_MORPH = "innerMorph"
SWAP_INNER_HTML = "innerHTML"
SWAP_DELETE = "delete"
SWAP_NONE = "none"
SWAP_STREAM = "liveStream"  # the client's own swap style for stream inserts

# -- client operations carried in <hx-live> -----------------------------------------------------------
OP_PUSH = "push"
OP_REDIRECT = "redirect"
OP_NAVIGATE = "navigate"
OP_ERROR = "error"

# -- uploads (``uploads.py``; the client's upload section) -------------------------------------------
UPLOAD_TOKEN_HEADER = "x-live-upload-token"
UPLOAD_REF_HEADER = "x-live-upload-ref"
UPLOAD_OFFSET_HEADER = "x-live-upload-offset"
ATTR_UPLOAD = "data-live-upload"  # on the file input: the upload's name
ATTR_UPLOAD_CONFIG = "data-live-upload-config"  # on the file input: what the browser validates with
ATTR_UPLOAD_URL = "data-live-upload-url"  # on the file input: where chunks go
ATTR_DROP_TARGET = "data-live-drop-target"  # on a drop zone: the upload's name
ATTR_UPLOAD_PREVIEW = "data-live-upload-preview"  # on an <img>: the entry ref whose file it previews
CLASS_DROP_ACTIVE = "live-drop-active"
CLASS_UPLOADING = "live-uploading"  # on a form while its files go before its submit
UPLOAD_EVENT = "live:upload"  # the preflight, sent as an event: entries in, tokens back
UPLOAD_PROGRESS_EVENT = "live:upload-progress"  # an external uploader's progress, sent as an event

CLIENT_CONSTANTS: dict[str, str] = {
    "ROOT_SELECTOR": f"[{ATTR_ROOT}]",
    "ATTR_TOKEN": ATTR_TOKEN,
    "ATTR_VERSION": ATTR_VERSION,
    "ATTR_HOOK": ATTR_HOOK,
    "ATTR_EVENT_URL": ATTR_EVENT_URL,
    "ATTR_AUTO_RECOVER": ATTR_AUTO_RECOVER,
    "HEADER_TOKEN": "X-Live-Token",
    "HEADER_EVENT": "X-Live-Event",
    "HEADER_REPLY": "X-Live-Reply",
    "CLASS_LOADING": CLASS_LOADING,
    "CLASS_CONNECTED": CLASS_CONNECTED,
    "CLASS_DISCONNECTED": CLASS_DISCONNECTED,
    "CLASS_ERROR": CLASS_ERROR,
    "CLASS_SERVER_ERROR": CLASS_SERVER_ERROR,
    "CLASS_CLIENT_ERROR": CLASS_CLIENT_ERROR,
    "EVENT_PREFIX": EVENT_PREFIX,
    "HEADER_UPLOAD_TOKEN": "X-Live-Upload-Token",
    "HEADER_UPLOAD_REF": "X-Live-Upload-Ref",
    "HEADER_UPLOAD_OFFSET": "X-Live-Upload-Offset",
    "ATTR_UPLOAD": ATTR_UPLOAD,
    "ATTR_UPLOAD_CONFIG": ATTR_UPLOAD_CONFIG,
    "ATTR_UPLOAD_URL": ATTR_UPLOAD_URL,
    "ATTR_DROP_TARGET": ATTR_DROP_TARGET,
    "ATTR_UPLOAD_PREVIEW": ATTR_UPLOAD_PREVIEW,
    "CLASS_DROP_ACTIVE": CLASS_DROP_ACTIVE,
    "CLASS_UPLOADING": CLASS_UPLOADING,
    "UPLOAD_EVENT": UPLOAD_EVENT,
    "UPLOAD_PROGRESS_EVENT": UPLOAD_PROGRESS_EVENT,
}
"""The client's constants block (``static/fastapi-live.js``), name by name."""


def binding_attribute(kind: str) -> str:
    """``data-live-click`` and friends: the attribute that names an element's event."""
    return BINDING_PREFIX + kind


def partial(target_id: str, content: str, swap: str = SWAP_MORPH) -> str:
    """One ``<hx-partial>`` that htmx 4 swaps into ``#target_id``."""
    return _partial_open(target_id, swap) + content + "</hx-partial>"


@functools.lru_cache(maxsize=4096)
def _partial_open(target_id: str, swap: str) -> str:
    return f'<hx-partial hx-target="#{css_id(target_id)}" hx-swap="{swap}">'


def stream_swap(at: int, limit: int | None, update_only: bool) -> str:
    """The ``hx-swap`` of one stream insert: ``liveStream at:0 limit:-50 updateOnly:true``."""
    spec = f"{SWAP_STREAM} at:{at}"
    if limit is not None:
        spec += f" limit:{limit}"
    if update_only:
        spec += " updateOnly:true"
    return spec


def push_element(kind: str, name: str, payload: Any) -> str:
    """A client operation (push event, redirect, navigation, error) as a ``<hx-live>`` element.

    ``static/fastapi-live.js`` handles these after the message's partials are applied,
    so a pushed event always sees the DOM its handler produced.
    """
    body = json.dumps({"kind": kind, "name": name, "payload": payload}, default=str, separators=(",", ":"))
    return f"<hx-live>{html.escape(body, quote=False)}</hx-live>"


def css_id(dom_id: str) -> str:
    """A DOM id as a CSS id selector's name (``:`` and ``.`` escaped)."""
    return re.sub(r"([:.])", r"\\\1", dom_id)


def markup_attrs(attrs: Iterable[tuple[str, str | None]]) -> Markup:
    """Render ``(name, value)`` pairs as HTML attributes; a ``None`` value is a bare attribute."""
    out = []
    for name, value in attrs:
        out.append(name if value is None else f'{name}="{escape(value)}"')
    return Markup(" ".join(out))
