"""``file_input`` and ``render_upload``: files chosen in a test and sent as the browser sends them."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ..wire import (
    ATTR_UPLOAD,
    ATTR_UPLOAD_URL,
    REPLY_HEADER,
    TOKEN_HEADER,
    UPLOAD_EVENT,
    UPLOAD_OFFSET_HEADER,
    UPLOAD_PROGRESS_EVENT,
    UPLOAD_REF_HEADER,
    UPLOAD_TOKEN_HEADER,
)
from ._dom import describe
from ._errors import LiveTestError
from ._forms import form_data
from ._view import LiveTestView, _event_error

DEFAULT_TIMEOUT = 5.0


class UploadFile:
    """One file of a ``file_input``: its name, bytes and type, and what the server granted it."""

    def __init__(self, spec: Mapping[str, Any], index: int) -> None:
        name = spec.get("name")
        content = spec.get("content", b"")
        if not isinstance(name, str) or not name:
            raise LiveTestError(f"file_input(): file {index} needs a name\nExpected: {{'name': 'cat.png', 'content': b'...'}}\nGot: {dict(spec)!r}")
        if isinstance(content, str):
            content = content.encode()
        if not isinstance(content, (bytes, bytearray)):
            raise LiveTestError(f"file_input(): the content of {name!r} must be bytes or text\nGot: {type(content).__name__}")
        self.name = name
        self.content = bytes(content)
        self.type = str(spec.get("type") or mimetypes.guess_type(name)[0] or "")
        self.size = int(spec.get("size", len(self.content)))  # a declared size that lies, for tests of the server's limits
        self.ref = f"t{index}-{secrets.token_hex(3)}"
        self.grant: dict[str, Any] | None = None
        self.errors: list[str] = []
        self.offset = 0


class Upload:
    """What ``file_input`` returns: files chosen in an upload's input of a form, not sent yet.

    >>> upload = file_input(view, "#upload-form", "photos", [{"name": "cat.png", "content": PNG, "type": "image/png"}])
    >>> html = await render_upload(upload, "cat.png")
    """

    def __init__(self, view: LiveTestView, form_selector: str, name: str, files: list[UploadFile], upload_url: str) -> None:
        self.view = view
        self.form_selector = form_selector
        self.name = name
        self.files = files
        self.upload_url = upload_url
        self.preflighted = False

    def __repr__(self) -> str:
        return f"<Upload {self.name!r} of {self.view.view_name}: {[f.name for f in self.files]}>"

    def file(self, name: str) -> UploadFile:
        found = next((f for f in self.files if f.name == name), None)
        if found is None:
            names = ", ".join(f.name for f in self.files)
            raise LiveTestError(f"render_upload(): no file named {name!r} in this upload\nExpected one of: {names}\nGot: {name!r}")
        return found


def file_input(view: LiveTestView, form_selector: str, name: str, files: Sequence[Mapping[str, Any]]) -> Upload:
    """Choose ``files`` in the upload ``name``'s input of the form at ``form_selector``, as LiveViewTest's ``file_input``.

    Each file is ``{"name": ..., "content": bytes, "type": "image/png"}`` (``type`` guessed from
    the name when left out; ``size`` declares another size than the content's, to test the
    server's limits). Nothing is sent until ``preflight_upload`` or ``render_upload``.

    >>> upload = file_input(view, "#upload-form", "photos", [{"name": "cat.png", "content": PNG}])
    """
    view._require_usable("file_input")
    document = view._document
    forms = document.select(form_selector, document.root())
    if len(forms) != 1:
        got = [describe(n, 60) for n in forms[:3]]
        raise LiveTestError(f"file_input(view, {form_selector!r}, ...) matched {len(forms)} elements\nExpected: exactly one form\nGot: {got}")
    inputs = [n for n in document.select(f"input[{ATTR_UPLOAD}]", forms[0]) if n.attrs.get(ATTR_UPLOAD) == name]
    if not inputs:
        found = [n.attrs.get(ATTR_UPLOAD) for n in document.select(f"input[{ATTR_UPLOAD}]", forms[0])]
        raise LiveTestError(
            f"file_input(): {describe(forms[0], 60)} has no file input for the upload {name!r}\n"
            f"Expected: {{{{ live.file_input({name!r}) }}}} inside the form\nGot: uploads in the form: {found or 'none'}"
        )
    if isinstance(files, Mapping) or not all(isinstance(f, Mapping) for f in files):
        raise LiveTestError(f"file_input() takes a list of files, each a dict\nExpected: [{{'name': 'cat.png', 'content': b'...'}}]\nGot: {files!r}"[:400])
    url = view.client.path_of(inputs[0].attrs.get(ATTR_UPLOAD_URL) or "/_live/upload")
    return Upload(view, form_selector, name, [UploadFile(spec, i) for i, spec in enumerate(files)], url)


async def preflight_upload(upload: Upload, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Tell the server of the chosen files, as the browser does when they are chosen: their entries
    (with errors such as "Too large") render, then the form's change event is sent. Returns the HTML.

    >>> html = await preflight_upload(file_input(view, "#upload-form", "photos", [big]))
    >>> assert "Too large" in html
    """
    view = upload.view
    view._require_usable("preflight_upload")
    fresh = [f for f in upload.files if f.grant is None and not f.errors]
    entries = [{"ref": f.ref, "name": f.name, "size": f.size, "type": f.type, "last_modified": 0} for f in fresh]
    body = json.dumps({"upload": upload.name, "entries": entries}).encode()
    response, error = await view._send(UPLOAD_EVENT, body, view._event_headers(UPLOAD_EVENT, "application/json"))
    if response.status_code != 200:
        raise _event_error(view, UPLOAD_EVENT, response.status_code, response.text, None, "", error)
    reply = json.loads(response.headers.get(REPLY_HEADER) or "{}").get("entries", {})
    for f in fresh:
        grant = reply.get(f.ref, {})
        if "token" in grant:
            f.grant = grant
        else:
            f.errors = list(grant.get("errors") or ["refused"])
    upload.preflighted = True
    view._apply(response.text)
    form = view._document.select(upload.form_selector, view._document.root())
    change = form[0].attrs.get("data-live-change") if form else None
    if change:
        pairs = [(k, v) for k, v in form_data(view._document, form[0]) if k != upload.name]
        pairs.append(("_target", upload.name))
        answer, error = await view._send(change, urlencode(pairs).encode(), view._event_headers(change, "application/x-www-form-urlencoded", form[0]))
        if answer.status_code != 200:
            raise _event_error(view, change, answer.status_code, answer.text, form[0], "", error)
        view._apply(answer.text)
    await view._sync(timeout)
    return view._html()


async def render_upload(upload: Upload, name: str, percent: int = 100, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Send ``percent`` of the file ``name`` through the real upload endpoint (the preflight first,
    when it has not run), as LiveViewTest's ``render_upload``; returns the HTML once its progress rendered.

    Chunks are whole, so the server holds at least ``percent`` of the bytes afterwards. An
    external upload reports ``percent`` as its uploader would. A file the server refused
    (``"Too large"``, ...) raises ``LiveTestError`` naming why.

    >>> html = await render_upload(upload, "cat.png", 50)
    >>> html = await render_upload(upload, "cat.png")  # the rest
    """
    view = upload.view
    view._require_usable("render_upload")
    if not (isinstance(percent, int) and 0 <= percent <= 100):
        raise LiveTestError(f"render_upload(): percent is a whole number from 0 to 100\nGot: {percent!r}")
    chosen = upload.file(name)
    if chosen.grant is None and not chosen.errors:
        await preflight_upload(upload, timeout=timeout)
    if chosen.grant is None:
        raise LiveTestError(
            f"render_upload(): the server refused {name!r} for the upload {upload.name!r}: {', '.join(chosen.errors)}\n"
            "Expected: a file within the upload's accept, max_file_size and max_entries\n"
            f"Got: {chosen.size} bytes of type {chosen.type!r}"
        )
    grant = chosen.grant
    if "external" in grant:
        payload = {"token": grant["token"], "progress": percent}
        await view._post_event(UPLOAD_PROGRESS_EVENT, payload=payload, timeout=timeout)
        return view._html()
    target = len(chosen.content) * percent // 100
    chunk_size = int(grant["chunk_size"])
    while percent > 0:
        data = chosen.content[chosen.offset : chosen.offset + chunk_size]
        headers = [
            (TOKEN_HEADER, view._token),
            (UPLOAD_TOKEN_HEADER, grant["token"]),
            (UPLOAD_REF_HEADER, chosen.ref),
            (UPLOAD_OFFSET_HEADER, str(chosen.offset)),
            ("content-type", "application/octet-stream"),
            ("origin", view.client._origin),
            ("sec-fetch-site", "same-origin"),
        ]
        response = await view.client.request("POST", upload.upload_url, headers=headers, content=data)
        if response.status_code != 200:
            detail = response.json().get("detail") if response.headers.get("content-type", "").startswith("application/json") else response.text[:300]
            await _settle(view, timeout)
            raise LiveTestError(
                f"render_upload(): the server refused a chunk of {name!r} at offset {chosen.offset} with {response.status_code}: {detail}\n"
                f"Expected: 200 for every chunk\nGot: {response.status_code}"
            )
        answer = response.json()
        chosen.offset = answer["offset"]
        if answer["done"] or chosen.offset >= target:
            break
    await _settle(view, timeout)
    return view._html()


async def _settle(view: LiveTestView, timeout: float) -> None:
    """Wait until the progress the chunks caused is rendered and applied."""
    session = await view._live_session(timeout)
    if not session.closed:
        # A call queued behind the session's progress messages returns once they are handled.
        await asyncio.wait_for(session.call(lambda socket: None), timeout)
    await view._sync(timeout)
