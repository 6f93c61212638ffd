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
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

# -- headers (lower case, as ASGI gives them) ---------------------------------------------------
TOKEN_HEADER = "x-live-token"
EVENT_HEADER = "x-live-event"
REPLY_HEADER = "x-live-reply"
LAST_EVENT_ID_HEADER = "last-event-id"
HX_REQUEST_HEADER = "hx-request"  # htmx's; the client sets it on the events it posts itself
NAVIGATE_HEADER = "x-live-navigate"  # on a live navigation's page request: the token of the page it leaves
CURRENT_URL_HEADER = "hx-current-url"  # htmx's; the client keeps the stream's copy current across patches

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
AUTO_RECOVER_IGNORE = "ignore"  # data-live-auto-recover="ignore": the form is not recovered
ATTR_CONFIG = "data-live-config"
BINDING_PREFIX = "data-live-"
BINDING_KINDS = ("click", "change", "submit", "keydown", "keyup", "blur", "focus")
DOM_EVENT_BINDINGS = {  # the DOM event a binding listens to -> its kind (data-live-<kind>)
    "click": "click",
    "submit": "submit",
    "input": "change",
    "change": "change",
    "keydown": "keydown",
    "keyup": "keyup",
    "blur": "blur",
    "focus": "focus",
    "focusout": "blur",
    "focusin": "focus",
}
ATTR_SSE_CONNECT = "hx-sse:connect"
ATTR_MORPH_SKIP = "hx-morph-skip"
ATTR_MORPH_SKIP_CHILDREN = "hx-morph-skip-children"
# A stream container with static children (a header row, an empty-state placeholder) holds its
# items between these two comments, so inserts, limits and resets never touch the others.
MARKER_ITEMS_START = "live:items"
MARKER_ITEMS_END = "/live:items"

# -- parameters the client adds to an event's body --------------------------------------------------
PARAM_TARGET = "_target"  # the name of the input whose change sent the event
PARAM_KEY = "key"  # keydown / keyup: the key
PARAM_VALUE = "value"  # keydown / keyup: the element's value
PARAM_UNUSED_PREFIX = "_unused_"  # _unused_<name>: the user has not touched that field yet (LiveView's)

# -- forms -------------------------------------------------------------------------------------------
ATTR_TOUCHED = "data-live-touched"  # on a control the server's form counts as touched
ATTR_DISABLE_WITH = "data-live-disable-with"  # a submit button's text while its form's submit is in flight


def loading_class(kind: str) -> str:
    """``live-click-loading`` and friends: on an element (and its form) while its event is in flight."""
    return f"live-{kind}-loading"

# -- live navigation: links, built-in events, the flash carrier ------------------------------------
ATTR_LINK = "data-live-link"  # on an <a href>: "patch" or "navigate"
ATTR_CLEAR_AFTER = "data-live-clear-after"  # on a flash message: milliseconds until the client closes it
ATTR_LINK_STATE = "data-live-link-state"  # "push" (the default) or "replace": how the history changes
LINK_PATCH = "patch"
LINK_NAVIGATE = "navigate"
LINK_STATE_PUSH = "push"
LINK_STATE_REPLACE = "replace"
PATCH_EVENT = "live:patch"  # the client asks the page to patch its URL: {"url": ...}
LEAVE_EVENT = "live:leave"  # the page was left for another live page: its session ends
CLEAR_FLASH_EVENT = "live:clear-flash"  # a flash's close button: {"kind": ...}
RESERVED_EVENT_PREFIX = "live:"  # event names the library handles itself
FLASH_COOKIE = "fastapi_live_flash"  # a signed flash carried to the page a navigate or redirect lands on
FLASH_ID = "flash"  # the region the flash renders in (``live/flash.html``)

# -- classes on the live container -----------------------------------------------------------------
CLASS_LOADING = "live-loading"
CLASS_CONNECTED = "live-connected"
CLASS_DISCONNECTED = "live-disconnected"
CLASS_ERROR = "live-error"
CLASS_SERVER_ERROR = "live-server-error"
CLASS_CLIENT_ERROR = "live-client-error"

# -- named stream messages and DOM events -----------------------------------------------------------
EVENT_PREFIX = "live:"
REMOUNT_EVENT = "live:remount"  # the named message that carries a remounted page's fresh render
EVENT_REMOUNTED = "live:remounted"  # dispatched on the root once that render is applied
EVENT_ERROR = "live:error"  # dispatched when the server refused an event or a handler failed

# -- swap styles -------------------------------------------------------------------------------------
SWAP_MORPH = "outerMorph"
SWAP_INNER_MORPH = "innerMorph"
SWAP_INNER_HTML = "innerHTML"
SWAP_DELETE = "delete"
SWAP_NONE = "none"
SWAP_STREAM = "liveStream"  # the client's own swap style for stream inserts
SWAP_TEXT = "liveText"  # the client's own swap style for a region whose change is one text node

# -- the elements a message is made of ---------------------------------------------------------------
PARTIAL_TAG = "hx-partial"  # htmx 4 swaps each into its hx-target
LIVE_TAG = "hx-live"  # a client operation, handled by the client's htmx_process_live

# -- client operations carried in <hx-live> -----------------------------------------------------------
OP_PUSH = "push"
OP_REDIRECT = "redirect"
OP_NAVIGATE = "navigate"
OP_PATCH = "patch"
OP_ERROR = "error"
OP_JS = "js"  # client-side commands the server sends (socket.exec_js)

# -- client-side commands (commands.py, LiveView's JS) --------------------------------------------------
# A binding whose value is a JSON list of [command, arguments] runs in the browser, no request sent.
JS_COMMANDS = (
    "show",
    "hide",
    "toggle",
    "add_class",
    "remove_class",
    "toggle_class",
    "set_attribute",
    "remove_attribute",
    "toggle_attribute",
    "transition",
    "focus",
    "focus_first",
    "dispatch",
    "push",
)
ATTR_KEY = "data-live-key"  # the key a keydown / keyup chain waits for
DISPLAY_HIDDEN = "none"  # the style display JS.hide() gives (the client and the testing DOM agree on it)
DISPLAY_SHOWN = "block"  # JS.show()'s default display

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
# A text patch the page could not apply (its region is not what the server last sent): the
# client asks for the region whole. {"id": <region id>, "why": "text" | "version"}
REFRESH_EVENT = "live:refresh"
REFRESH_TEXT = "text"  # the region's text is not what the server sent: the DOM was changed beside the server
REFRESH_VERSION = "version"  # the region shows another version than the patch's base (frames crossed)
BUILTIN_EVENTS = (PATCH_EVENT, LEAVE_EVENT, CLEAR_FLASH_EVENT, UPLOAD_EVENT, UPLOAD_PROGRESS_EVENT, REFRESH_EVENT)  # every name the library handles itself

# Components.
ATTR_COMPONENT = "data-live-component"  # on a component's top element: its id within the page (cid)
ATTR_TARGET = "data-live-target"  # on a bound element: a CSS selector; the event goes to the component holding the match
PARAM_COMPONENT = "_live_component"  # an event's param naming the component it is for

# -- one stream for every live page of a browser (``multiplex``) -------------------------------------------
MUX_HEADER = "x-live-mux"  # GET of the stream URL: "open" opens a shared stream; POST: the shared stream's id
MUX_OPEN = "open"
MUX_PAGE_HEADER = "x-live-mux-page"  # POST (attach): the channel the page's frames travel on
MUX_DETACH_HEADER = "x-live-mux-detach"  # POST (detach): the channels to close, comma-separated
MUX_OPEN_EVENT = "live:mux-open"  # the shared stream's first message: its id
MUX_FRAME_EVENT = "live:mux-frame"  # one page's frames: the channel, a line break, the page's own SSE text
MUX_END_EVENT = "live:mux-end"  # a page's stream ended on the server (replaced, overflowed, closed): the channel

def _header_case(name: str) -> str:
    return "-".join(part.capitalize() if part != "hx" else "HX" for part in name.split("-"))


def binding_attribute(kind: str) -> str:
    """``data-live-click`` and friends: the attribute that names an element's event."""
    return BINDING_PREFIX + kind


ClientConstant = str | dict[str, str]

CLIENT_CONSTANTS: dict[str, ClientConstant] = {
    "ROOT_SELECTOR": f"[{ATTR_ROOT}]",
    "ATTR_TOKEN": ATTR_TOKEN,
    "ATTR_VERSION": ATTR_VERSION,
    "ATTR_HOOK": ATTR_HOOK,
    "ATTR_EVENT_URL": ATTR_EVENT_URL,
    "ATTR_AUTO_RECOVER": ATTR_AUTO_RECOVER,
    "AUTO_RECOVER_IGNORE": AUTO_RECOVER_IGNORE,
    "ATTR_CONFIG": ATTR_CONFIG,
    "ATTR_SSE_CONNECT": ATTR_SSE_CONNECT,
    "ATTR_STREAM": ATTR_STREAM,
    "ATTR_MORPH_SKIP_CHILDREN": ATTR_MORPH_SKIP_CHILDREN,
    "MARKER_ITEMS_START": MARKER_ITEMS_START,
    "MARKER_ITEMS_END": MARKER_ITEMS_END,
    "BINDING_BY_DOM_EVENT": {dom_event: binding_attribute(kind) for dom_event, kind in DOM_EVENT_BINDINGS.items()},
    "HEADER_TOKEN": _header_case(TOKEN_HEADER),
    "HEADER_EVENT": _header_case(EVENT_HEADER),
    "HEADER_REPLY": _header_case(REPLY_HEADER),
    "HEADER_HX_REQUEST": _header_case(HX_REQUEST_HEADER),
    "PARAM_TARGET": PARAM_TARGET,
    "PARAM_KEY": PARAM_KEY,
    "PARAM_VALUE": PARAM_VALUE,
    "PARAM_UNUSED_PREFIX": PARAM_UNUSED_PREFIX,
    "ATTR_TOUCHED": ATTR_TOUCHED,
    "ATTR_DISABLE_WITH": ATTR_DISABLE_WITH,
    "LOADING_CLASS_BY_DOM_EVENT": {dom_event: loading_class(kind) for dom_event, kind in DOM_EVENT_BINDINGS.items()},
    "CLASS_LOADING": CLASS_LOADING,
    "CLASS_CONNECTED": CLASS_CONNECTED,
    "CLASS_DISCONNECTED": CLASS_DISCONNECTED,
    "CLASS_ERROR": CLASS_ERROR,
    "CLASS_SERVER_ERROR": CLASS_SERVER_ERROR,
    "CLASS_CLIENT_ERROR": CLASS_CLIENT_ERROR,
    "EVENT_PREFIX": EVENT_PREFIX,
    "REMOUNT_EVENT": REMOUNT_EVENT,
    "EVENT_REMOUNTED": EVENT_REMOUNTED,
    "EVENT_ERROR": EVENT_ERROR,
    "SWAP_NONE": SWAP_NONE,
    "SWAP_STREAM": SWAP_STREAM,
    "SWAP_TEXT": SWAP_TEXT,
    "REFRESH_EVENT": REFRESH_EVENT,
    "REFRESH_TEXT": REFRESH_TEXT,
    "REFRESH_VERSION": REFRESH_VERSION,
    "OP_PUSH": OP_PUSH,
    "OP_REDIRECT": OP_REDIRECT,
    "OP_NAVIGATE": OP_NAVIGATE,
    "OP_ERROR": OP_ERROR,
    "HEADER_UPLOAD_TOKEN": _header_case(UPLOAD_TOKEN_HEADER),
    "HEADER_UPLOAD_REF": _header_case(UPLOAD_REF_HEADER),
    "HEADER_UPLOAD_OFFSET": _header_case(UPLOAD_OFFSET_HEADER),
    "ATTR_UPLOAD": ATTR_UPLOAD,
    "ATTR_UPLOAD_CONFIG": ATTR_UPLOAD_CONFIG,
    "ATTR_UPLOAD_URL": ATTR_UPLOAD_URL,
    "ATTR_DROP_TARGET": ATTR_DROP_TARGET,
    "ATTR_UPLOAD_PREVIEW": ATTR_UPLOAD_PREVIEW,
    "CLASS_DROP_ACTIVE": CLASS_DROP_ACTIVE,
    "CLASS_UPLOADING": CLASS_UPLOADING,
    "UPLOAD_EVENT": UPLOAD_EVENT,
    "UPLOAD_PROGRESS_EVENT": UPLOAD_PROGRESS_EVENT,
    "OP_PATCH": OP_PATCH,
    "ATTR_LINK": ATTR_LINK,
    "ATTR_LINK_STATE": ATTR_LINK_STATE,
    "ATTR_CLEAR_AFTER": ATTR_CLEAR_AFTER,
    "LINK_PATCH": LINK_PATCH,
    "LINK_NAVIGATE": LINK_NAVIGATE,
    "LINK_STATE_PUSH": LINK_STATE_PUSH,
    "LINK_STATE_REPLACE": LINK_STATE_REPLACE,
    "PATCH_EVENT": PATCH_EVENT,
    "HEADER_NAVIGATE": _header_case(NAVIGATE_HEADER),
    "HEADER_CURRENT_URL": "HX-Current-URL",
    "FLASH_COOKIE": FLASH_COOKIE,
    "OP_JS": OP_JS,
    "JS_COMMANDS": {name: name for name in JS_COMMANDS},
    "ATTR_KEY": ATTR_KEY,
    "DISPLAY_HIDDEN": DISPLAY_HIDDEN,
    "DISPLAY_SHOWN": DISPLAY_SHOWN,
    "ATTR_COMPONENT": ATTR_COMPONENT,
    "ATTR_TARGET": ATTR_TARGET,
    "PARAM_COMPONENT": PARAM_COMPONENT,
    "HEADER_MUX": _header_case(MUX_HEADER),
    "MUX_OPEN": MUX_OPEN,
    "HEADER_MUX_PAGE": _header_case(MUX_PAGE_HEADER),
    "HEADER_MUX_DETACH": _header_case(MUX_DETACH_HEADER),
    "MUX_OPEN_EVENT": MUX_OPEN_EVENT,
    "MUX_FRAME_EVENT": MUX_FRAME_EVENT,
    "MUX_END_EVENT": MUX_END_EVENT,
}
"""The client's constants block (``static/fastapi-live.js``), name by name; ``tests/test_wire.py``
holds the two equal."""


_PARTIAL_CLOSE = f"</{PARTIAL_TAG}>"


def partial(target_id: str, content: str, swap: str = SWAP_MORPH) -> str:
    """One ``<hx-partial>`` that htmx 4 swaps into ``#target_id``."""
    return _partial_open(target_id, swap) + content + _PARTIAL_CLOSE


@functools.lru_cache(maxsize=4096)
def _partial_open(target_id: str, swap: str) -> str:
    return f'<{PARTIAL_TAG} hx-target="#{css_id(target_id)}" hx-swap="{swap}">'


def stream_swap(at: int, limit: int | None, update_only: bool) -> str:
    """The ``hx-swap`` of one stream insert: ``liveStream at:0 limit:-50 updateOnly:true``."""
    spec = f"{SWAP_STREAM} at:{at}"
    if limit is not None:
        spec += f" limit:{limit}"
    if update_only:
        spec += " updateOnly:true"
    return spec


def text_partial(target_id: str, text: str, version: int, base: int, index: int, checksum: str) -> str:
    """A text patch: ``<hx-partial id=… hx-swap="liveText v:<version> b:<base> n:<node> h:<checksum>">text</hx-partial>``.

    htmx targets a partial without ``hx-target`` by its own id. The client applies it only to
    the region at version ``base`` whose text nodes (the non-empty ones, in document order,
    joined by NUL) have the CRC-32 ``checksum`` (over their UTF-16 code units, little-endian,
    written in the letters a-z: htmx would read digits as a number): text node ``index`` then
    takes the partial's text, and the region ``version``. Anything else asks for the region
    whole (``REFRESH_EVENT``).
    """
    return f'<{PARTIAL_TAG} id="{html.escape(target_id)}" hx-swap="{SWAP_TEXT} v:{version} b:{base} n:{index} h:{checksum}">{text}{_PARTIAL_CLOSE}'


def items_markers() -> tuple[str, str]:
    """The comments around a stream's items in a container that has static children too."""
    return f"<!--{MARKER_ITEMS_START}-->", f"<!--{MARKER_ITEMS_END}-->"


def push_element(kind: str, name: str, payload: Any) -> str:
    """A client operation (push event, redirect, navigation, error) as a ``<hx-live>`` element.

    ``static/fastapi-live.js`` handles these after the message's partials are applied,
    so a pushed event always sees the DOM its handler produced.
    """
    body = json.dumps({"kind": kind, "name": name, "payload": payload}, default=str, separators=(",", ":"))
    return f"<{LIVE_TAG}>{html.escape(body, quote=False)}</{LIVE_TAG}>"


def css_id(dom_id: str) -> str:
    """A DOM id as a CSS id selector's name (``:`` and ``.`` escaped)."""
    return re.sub(r"([:.])", r"\\\1", dom_id)


def extra_attributes(attrs: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """A helper's extra keyword arguments as attribute pairs: ``class_`` is ``class``, ``data_x``
    is ``data-x``; True is a bare attribute, False and None none."""
    out: list[tuple[str, str | None]] = []
    for name, value in attrs.items():
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            out.append((name, None))
        elif value is not False and value is not None:
            out.append((name, str(value)))
    return out


def markup_attrs(attrs: Iterable[tuple[str, str | None]]) -> Markup:
    """Render ``(name, value)`` pairs as HTML attributes; a ``None`` value is a bare attribute."""
    out = []
    for name, value in attrs:
        out.append(name if value is None else f'{name}="{escape(value)}"')
    return Markup(" ".join(out))
