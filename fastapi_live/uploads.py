"""Uploads: ``allow_upload``'s configs and entries, their validation, signed entry tokens, chunks
written to temporary files, consuming and cleanup.

The session calls in (preflight, chunks, cancel, close); nothing here knows the session, HTTP
or the web framework. The wire's names are in ``wire``; the endpoint is the router's.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import mimetypes
import os
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from .exceptions import ConfigurationError, EventError, LiveError
from .socket import SocketState
from .wire import (
    ATTR_DROP_TARGET,
    ATTR_MORPH_SKIP,
    ATTR_UPLOAD,
    ATTR_UPLOAD_CONFIG,
    ATTR_UPLOAD_PREVIEW,
    ATTR_UPLOAD_URL,
    UPLOAD_EVENT,
    extra_attributes,
    markup_attrs,
)

TOO_LARGE = "Too large"
NOT_ACCEPTED = "Not accepted"
TOO_MANY_FILES = "Too many files"
FAILED = "Upload failed"
"""The error texts an entry (or an upload) carries, as templates show them."""

UPLOADS_KEY = "uploads"
"""The assign that holds every upload of a page: ``uploads.avatar.entries``."""
DEFAULT_CHUNK_SIZE = 1_048_576
DEFAULT_MAX_FILE_SIZE = 8_000_000
MIN_CHUNK_SIZE = 1024
TEMP_PREFIX = "fastapi-live-upload-"
_TOKEN_VERSION = 1
_SALT = "fastapi-live.upload-token"
_REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SNIFF_BYTES = 16
_FLUSH_BYTES = 262_144  # bytes gathered before one write: a thread hop per write costs more than small writes
_MAX_METADATA = 1000  # characters of a client name or type kept

# Cheap magic-byte sniffing: types whose first bytes are fixed. A type not listed is never
# refused for its content, except when the content is one of these and not accepted.
_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("image/png", 0, b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", 0, b"\xff\xd8\xff"),
    ("image/gif", 0, b"GIF87a"),
    ("image/gif", 0, b"GIF89a"),
    ("image/webp", 8, b"WEBP"),
    ("application/pdf", 0, b"%PDF-"),
    ("application/zip", 0, b"PK\x03\x04"),
    ("application/gzip", 0, b"\x1f\x8b"),
    ("application/x-executable", 0, b"\x7fELF"),
    ("application/x-msdownload", 0, b"MZ"),
)
_SNIFFABLE = frozenset(mime for mime, _, _ in _SIGNATURES)


def sniff(head: bytes) -> str | None:
    """The MIME type that ``head`` (a file's first bytes) starts with, for the few types with a fixed signature."""
    for mime, at, signature in _SIGNATURES:
        if head[at : at + len(signature)] == signature and (mime != "image/webp" or head.startswith(b"RIFF")):
            return mime
    return None


def _guess(name: str) -> str | None:
    return mimetypes.guess_type(name, strict=False)[0]


class UploadRefused(LiveError):
    """A chunk (or an upload message) the server will not take: ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------------------------------------
# Entries and configs: what templates read
# ------------------------------------------------------------------------------------------------


class UploadEntry:
    """One chosen file: ``client_name``, ``client_size``, ``client_type``, ``progress`` (0–100),
    ``done``, ``errors`` (e.g. ``["Too large"]``) and ``valid``.

    >>> for entry in uploads.avatar.entries:  # doctest: +SKIP
    ...     print(entry.client_name, entry.progress, entry.errors)
    """

    def __init__(self, upload: str, ref: str, name: str, size: int, type_: str, last_modified: int | None) -> None:
        self.upload = upload
        self.ref = ref
        self.client_name = name
        self.client_size = size
        self.client_type = type_
        self.client_last_modified = last_modified
        self.uuid = secrets.token_urlsafe(12)
        self.progress = 0
        self.done = False
        self.cancelled = False
        self.preflighted = False
        self.errors: list[str] = []
        self.meta: dict[str, Any] | None = None  # an external upload's meta (from ``external=``)
        self.received = 0
        self.path: str | None = None
        self._fd: int | None = None
        self._busy = False
        self._last_notice = 0.0

    @property
    def valid(self) -> bool:
        """No errors: the entry may be (or was) transferred."""
        return not self.errors

    @property
    def failed(self) -> bool:
        """The transfer failed (the server refused a chunk, or an external uploader reported an error)."""
        return FAILED in self.errors or (self.preflighted and not self.valid)

    @property
    def external(self) -> bool:
        return self.meta is not None

    def __repr__(self) -> str:
        state = "done" if self.done else f"{self.progress}%"
        return f"<UploadEntry {self.ref} {self.client_name!r} {self.client_size} B {state}{' ' + str(self.errors) if self.errors else ''}>"

    # -- the temporary file ----------------------------------------------------------------------
    def _open(self, directory: str | None) -> int:
        if self._fd is None:
            self._fd, self.path = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
        return self._fd

    def _discard(self) -> None:
        """Close and remove the temporary file (later, when a write is in flight)."""
        if self._busy:
            return  # the chunk being received cleans up when its write returns
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None

    def _close_file(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _fail(self, error: str) -> None:
        if error not in self.errors:
            self.errors.append(error)
        self._discard()


Progress = Callable[[str, UploadEntry, Any], Any]
External = Callable[[UploadEntry, Any], Any]


class UploadConfig:
    """One ``allow_upload``: its options and ``entries``; ``errors`` are the upload's own
    (``["Too many files"]``), each entry has its own too.

    >>> uploads.avatar.entries, uploads.avatar.errors  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        *,
        accept: Sequence[str] | str,
        max_entries: int,
        max_file_size: int,
        chunk_size: int,
        auto_upload: bool,
        external: External | None,
        progress: Progress | None,
        view_name: str,
    ) -> None:
        where = f"{view_name}: allow_upload({name!r})"
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigurationError(f"{view_name}: allow_upload() needs a name of letters, digits and '_' (it names the assign and the input)\nGot: {name!r}")
        self.name = name
        self.ref = f"live-upload-{name}"
        self.accept = _accept_list(accept, where)
        for option, value, least in (("max_entries", max_entries, 1), ("max_file_size", max_file_size, 1), ("chunk_size", chunk_size, MIN_CHUNK_SIZE)):
            if type(value) is not int or value < least:
                raise ConfigurationError(f"{where}: {option} must be a whole number of at least {least}\nGot: {value!r}")
        for option, fn in (("external", external), ("progress", progress)):
            if fn is not None and not callable(fn):
                raise ConfigurationError(f"{where}: {option}= must be a function\nGot: {fn!r}")
        self.max_entries = max_entries
        self.max_file_size = max_file_size
        self.chunk_size = chunk_size
        self.auto_upload = bool(auto_upload)
        self.external = external
        self.progress = progress
        self.entries: list[UploadEntry] = []
        self._exts = frozenset(a for a in self.accept if a.startswith("."))
        self._mimes = tuple(a for a in self.accept if "/" in a)
        self._any = "*" in self.accept

    @property
    def errors(self) -> list[str]:
        """The upload's own errors: ``["Too many files"]`` while more files are chosen than it allows."""
        return [TOO_MANY_FILES] if any(TOO_MANY_FILES in e.errors for e in self.entries) else []

    def get(self, ref: str) -> UploadEntry | None:
        return next((e for e in self.entries if e.ref == ref), None)

    def client_config(self) -> dict[str, Any]:
        """What the browser validates with before it sends a byte."""
        return {
            "accept": list(self.accept),
            "max_entries": self.max_entries,
            "max_file_size": self.max_file_size,
            "chunk_size": self.chunk_size,
            "auto_upload": self.auto_upload,
        }

    def accepts_name(self, name: str, client_type: str) -> bool:
        if self._any:
            return True
        ext = os.path.splitext(name)[1].lower()
        if ext and ext in self._exts:
            return True
        return any(self._mime_ok(mime) for mime in (_guess(name), client_type.lower() or None) if mime)

    def _mime_ok(self, mime: str) -> bool:
        for pattern in self._mimes:
            if pattern == mime or (pattern.endswith("/*") and mime.startswith(pattern[:-1])):
                return True
        return any(_guess("x" + ext) == mime for ext in self._exts)

    def accepts_content(self, entry: UploadEntry, head: bytes) -> bool:
        """Whether the first bytes fit: a sniffable claimed type must be there and accepted;
        sniffable content of another kind must be accepted itself."""
        if self._any:
            return True
        detected = sniff(head)
        claimed = _guess(entry.client_name) or entry.client_type.lower()
        if claimed in _SNIFFABLE:
            return detected is not None and self._mime_ok(detected)
        return detected is None or self._mime_ok(detected)

    def __repr__(self) -> str:
        return f"<UploadConfig {self.name!r} accept={list(self.accept)} {len(self.entries)}/{self.max_entries} entries>"


def _accept_list(accept: Sequence[str] | str, where: str) -> tuple[str, ...]:
    items = [accept] if isinstance(accept, str) else list(accept) if isinstance(accept, (list, tuple)) else None
    if items is None or not items:
        raise ConfigurationError(f"{where}: accept= needs extensions or MIME types, e.g. ['.png', '.jpg'] or ['image/*'], or '*' for any file\nGot: {accept!r}")
    out = []
    for item in items:
        if not isinstance(item, str) or not (item == "*" or re.match(r"^\.[A-Za-z0-9]+$", item) or re.match(r"^[a-z0-9.+-]+/([a-z0-9.+-]+|\*)$", item.lower())):
            raise ConfigurationError(
                f"{where}: accept= takes extensions ('.png'), MIME types ('image/png', 'image/*') or '*'\nGot: {item!r} in {accept!r}"
            )
        out.append(item.lower())
    return tuple(out)


class Uploads(Mapping[str, UploadConfig]):
    """Every upload of a page, by name or attribute: ``uploads.avatar``."""

    __slots__ = ("_configs",)

    def __init__(self) -> None:
        self._configs: dict[str, UploadConfig] = {}

    def __getitem__(self, name: str) -> UploadConfig:
        return self._configs[name]

    def __getattr__(self, name: str) -> UploadConfig:
        try:
            return self._configs[name]
        except KeyError:
            raise AttributeError(f"no upload named {name!r}; allowed: {sorted(self._configs)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def __eq__(self, other: object) -> bool:
        return other is self

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Uploads({list(self._configs.values())!r})"


# ------------------------------------------------------------------------------------------------
# Entry tokens
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadToken:
    """What an entry's upload token says: whose page, which upload and entry, and the chunk limit."""

    session_id: str
    upload: str
    ref: str
    uuid: str
    chunk_size: int


class UploadSigner:
    """Signs and verifies per-entry upload tokens (itsdangerous, salted apart from page tokens)."""

    def __init__(self, secret_key: str | bytes, *, max_age: float = 86_400.0) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age = max_age

    def sign(self, token: UploadToken) -> str:
        return self._serializer.dumps([_TOKEN_VERSION, token.session_id, token.upload, token.ref, token.uuid, token.chunk_size])

    def verify(self, raw: str | None) -> UploadToken:
        """The token's contents, or ``UploadRefused(403)`` saying why."""
        if not raw:
            raise UploadRefused(403, "missing upload token: expected the X-Live-Upload-Token header from the upload's preflight")
        if len(raw) > 2048:
            raise UploadRefused(403, "invalid upload token: too long")
        try:
            payload = self._serializer.loads(raw, max_age=int(self.max_age))
        except SignatureExpired:
            raise UploadRefused(403, "expired upload token: choose the file again") from None
        except BadSignature:
            raise UploadRefused(403, "invalid upload token: bad signature") from None
        if not (isinstance(payload, list) and len(payload) == 6 and payload[0] == _TOKEN_VERSION and isinstance(payload[5], int)):
            raise UploadRefused(403, "invalid upload token: malformed payload")
        _, session_id, upload, ref, uuid, chunk_size = payload
        return UploadToken(str(session_id), str(upload), str(ref), str(uuid), chunk_size)


# ------------------------------------------------------------------------------------------------
# The socket's side: allow_upload and friends
# ------------------------------------------------------------------------------------------------


class UploadsMixin(SocketState):
    """``allow_upload``, ``cancel_upload``, ``consume_uploaded_entries`` on ``LiveSocket``."""

    def _uploads(self) -> Uploads:
        current = self._data.get(UPLOADS_KEY)
        if current is None:
            current = Uploads()
            self._data[UPLOADS_KEY] = current
            self._mark(UPLOADS_KEY)
        elif not isinstance(current, Uploads):
            raise LiveError(f"{self.view_name}: the assign {UPLOADS_KEY!r} is reserved for uploads once allow_upload() is used\nGot: {current!r}")
        return current

    def _require_upload(self, name: str, verb: str) -> UploadConfig:
        uploads = self._data.get(UPLOADS_KEY)
        config = uploads._configs.get(name) if isinstance(uploads, Uploads) else None
        if config is None:
            allowed = sorted(uploads._configs) if isinstance(uploads, Uploads) else []
            raise LiveError(
                f"{self.view_name}: {verb}({name!r}) names no upload\n"
                f"Expected one of: {', '.join(allowed) or '(none: call socket.allow_upload(...) in mount)'}\nGot: {name!r}"
            )
        return config

    def allow_upload(
        self,
        name: str,
        *,
        accept: Sequence[str] | str,
        max_entries: int = 1,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        auto_upload: bool = False,
        external: External | None = None,
        progress: Progress | None = None,
    ) -> UploadConfig:
        """Allow files to be uploaded as ``name``; the template shows ``uploads.<name>`` and
        ``{{ live.file_input("<name>") }}``.

        ``accept`` lists extensions or MIME types (``'*'`` for any file); the browser and the
        server both check type, size and count. ``auto_upload`` starts sending as soon as
        files are chosen, otherwise the form's submit sends them first. ``progress(name,
        entry, socket)`` runs as the server receives bytes; ``external(entry, socket)``
        returns ``{"url": ..., "fields": {...}}`` for the browser to upload straight to
        (S3-style presigned POST).

        >>> socket.allow_upload("avatar", accept=[".png", ".jpg"], max_entries=1, max_file_size=2_000_000)  # doctest: +SKIP
        """
        uploads = self._uploads()
        old = uploads._configs.get(name)
        if old is not None and any(not e.cancelled for e in old.entries):
            raise LiveError(f"{self.view_name}: allow_upload({name!r}) again while it has entries; cancel or consume them first")
        uploads._configs[name] = UploadConfig(
            name,
            accept=accept,
            max_entries=max_entries,
            max_file_size=max_file_size,
            chunk_size=chunk_size,
            auto_upload=auto_upload,
            external=external,
            progress=progress,
            view_name=self.view_name,
        )
        self._mark(UPLOADS_KEY)
        return uploads._configs[name]

    def disallow_upload(self, name: str) -> None:
        """Remove the upload ``name``; its entries are cancelled and their files removed."""
        config = self._require_upload(name, "disallow_upload")
        for entry in config.entries:
            entry.cancelled = True
            entry._discard()
        del self._uploads()._configs[name]
        self._mark(UPLOADS_KEY)

    def cancel_upload(self, name: str, ref: str) -> None:
        """Drop one entry (its transfer stops, its temporary file is removed).

        >>> @event("cancel")  # doctest: +SKIP
        ... async def cancel(self, socket, ref: str) -> None:
        ...     socket.cancel_upload("avatar", ref)
        """
        config = self._require_upload(name, "cancel_upload")
        entry = config.get(ref)
        if entry is None:
            return  # already gone (consumed, cancelled, or cancelled twice by a double click)
        entry.cancelled = True
        entry._discard()
        config.entries.remove(entry)
        self._mark(UPLOADS_KEY)

    def uploaded_entries(self, name: str) -> tuple[list[UploadEntry], list[UploadEntry]]:
        """``(completed, in_progress)`` entries of the upload ``name``."""
        config = self._require_upload(name, "uploaded_entries")
        done = [e for e in config.entries if e.done and e.valid]
        return done, [e for e in config.entries if not e.done and e.valid]

    async def consume_uploaded_entries(self, name: str, fn: Callable[[dict[str, Any], UploadEntry], Any]) -> list[Any]:
        """See ``consume_uploaded_entries(socket, name, fn)``."""
        return await consume_uploaded_entries(self, name, fn)

    # -- used by the session -------------------------------------------------------------------------
    def _upload_configs(self) -> list[UploadConfig]:
        uploads = self._data.get(UPLOADS_KEY)
        return list(uploads._configs.values()) if isinstance(uploads, Uploads) else []

    def _discard_uploads(self) -> int:
        """Remove every entry's temporary file (the session ended); returns how many entries there were."""
        count = 0
        for config in self._upload_configs():
            for entry in config.entries:
                entry.cancelled = True
                entry._discard()
                count += 1
        return count


async def consume_uploaded_entries(socket: UploadsMixin, name: str, fn: Callable[[dict[str, Any], UploadEntry], Any]) -> list[Any]:
    """Hand each completed entry of ``name`` to ``fn(meta, entry)``; its results, in order.

    ``meta["path"]`` is the temporary file (removed once ``fn`` returns, so copy or move it);
    for external uploads ``meta`` is what ``external=`` returned. Consumed entries leave the
    upload; entries still in progress or with errors stay. ``fn`` may be async.

    >>> @event("save")  # doctest: +SKIP
    ... async def save(self, socket) -> None:
    ...     def store(meta, entry):
    ...         dest = MEDIA / f"{entry.uuid}-{entry.client_name}"
    ...         shutil.copy(meta["path"], dest)
    ...         return dest.name
    ...     names = await consume_uploaded_entries(socket, "photos", store)
    """
    config = socket._require_upload(name, "consume_uploaded_entries")
    results = []
    for entry in [e for e in config.entries if e.done and e.valid]:
        results.append(await consume_uploaded_entry(socket, entry, fn))
    return results


async def consume_uploaded_entry(socket: UploadsMixin, entry: UploadEntry, fn: Callable[[dict[str, Any], UploadEntry], Any]) -> Any:
    """Hand one completed entry to ``fn(meta, entry)`` (see ``consume_uploaded_entries``)."""
    config = socket._require_upload(entry.upload, "consume_uploaded_entry")
    if entry not in config.entries or not entry.done:
        raise LiveError(
            f"{socket.view_name}: consume_uploaded_entry() needs a completed entry of {entry.upload!r}\n"
            f"Expected: an entry with done=True still in uploads.{entry.upload}.entries\nGot: {entry!r}"
        )
    meta = dict(entry.meta) if entry.meta is not None else {"path": entry.path}
    entry._close_file()
    try:
        result = fn(meta, entry)
        if inspect.isawaitable(result):
            result = await result
    finally:
        entry._discard()
        if entry in config.entries:
            config.entries.remove(entry)
        socket._mark(UPLOADS_KEY)
    return result


# ------------------------------------------------------------------------------------------------
# The session's side: preflight, chunks, external progress
# ------------------------------------------------------------------------------------------------


async def preflight(socket: UploadsMixin, params: Mapping[str, Any], session_id: str, signer: UploadSigner) -> dict[str, Any]:
    """Register the files a browser chose for an upload, validate them, and answer with a token
    (or an external uploader's meta) for each valid entry.

    ``params``: ``{"upload": name, "entries": [{"ref", "name", "size", "type", "last_modified"}]}``.
    """
    name = params.get("upload")
    raw_entries = params.get("entries")
    if not isinstance(name, str) or not isinstance(raw_entries, list) or len(raw_entries) > 1000:
        raise UploadRefused(400, 'malformed upload preflight: expected {"upload": name, "entries": [{"ref", "name", "size", "type"}, ...]}')
    uploads = socket._data.get(UPLOADS_KEY)
    config = uploads._configs.get(name) if isinstance(uploads, Uploads) else None
    if config is None:
        raise UploadRefused(404, f"{socket.view_name} allows no upload named {name!r}")
    fresh = [_parse_entry(config, raw) for raw in raw_entries]
    if config.max_entries == 1 and len(fresh) == 1:
        # A single-file upload: choosing another file replaces the one chosen before.
        for old in config.entries:
            old.cancelled = True
            old._discard()
        config.entries.clear()
    known = {e.ref for e in config.entries}
    for entry in fresh:
        if entry.ref in known:
            raise UploadRefused(409, f"upload {name!r} already has an entry {entry.ref!r}; refs are unique per page")
        known.add(entry.ref)
        config.entries.append(entry)
    counted = 0
    for entry in config.entries:
        if TOO_MANY_FILES in entry.errors:
            continue
        counted += 1
        if counted > config.max_entries:
            entry.errors.append(TOO_MANY_FILES)
    answer: dict[str, Any] = {}
    for entry in config.entries:
        if entry.preflighted or not entry.valid:
            if not entry.valid:
                answer[entry.ref] = {"errors": list(entry.errors)}
            continue
        entry.preflighted = True
        grant: dict[str, Any] = {"chunk_size": config.chunk_size}
        if config.external is not None:
            meta = config.external(entry, socket)
            if inspect.isawaitable(meta):
                meta = await meta
            entry.meta = _external_meta(socket.view_name, config, meta)
            grant["external"] = entry.meta
        grant["token"] = signer.sign(UploadToken(session_id, name, entry.ref, entry.uuid, config.chunk_size))
        answer[entry.ref] = grant
    socket._mark(UPLOADS_KEY)
    return {"upload": name, "entries": answer}


def _parse_entry(config: UploadConfig, raw: Any) -> UploadEntry:
    if not isinstance(raw, Mapping):
        raise UploadRefused(400, f"malformed upload entry: expected an object with ref, name, size and type\nGot: {raw!r}"[:300])
    ref, name, size, type_, modified = raw.get("ref"), raw.get("name"), raw.get("size"), raw.get("type", ""), raw.get("last_modified")
    if not isinstance(ref, str) or not _REF.match(ref):
        raise UploadRefused(400, f"malformed upload entry: ref must be 1 to 64 letters, digits, '-' or '_'\nGot: {ref!r}"[:300])
    if not isinstance(name, str) or not name or type(size) is not int or size < 0 or not isinstance(type_, str):
        raise UploadRefused(400, f"malformed upload entry {ref!r}: expected name (text), size (bytes, a whole number) and type (text)")
    if not (modified is None or type(modified) is int):
        modified = None
    name = os.path.basename(name.replace("\\", "/"))[:_MAX_METADATA] or "file"
    entry = UploadEntry(config.name, ref, name, size, type_[:_MAX_METADATA], modified)
    if not config.accepts_name(name, type_):
        entry.errors.append(NOT_ACCEPTED)
    if size > config.max_file_size:
        entry.errors.append(TOO_LARGE)
    return entry


def _external_meta(view_name: str, config: UploadConfig, meta: Any) -> dict[str, Any]:
    fn = getattr(config.external, "__qualname__", repr(config.external))
    if not isinstance(meta, Mapping) or not isinstance(meta.get("url"), str) or not isinstance(meta.get("fields", {}), Mapping):
        raise LiveError(
            f"invalid return from {fn}() (external= of {view_name}'s upload {config.name!r}): expected a dict with a 'url' and, for a "
            f"presigned POST, its 'fields'\nExpected: {{'url': 'https://bucket.s3.amazonaws.com', 'fields': {{'key': ..., 'policy': ...}}}}\nGot: {meta!r}"
        )
    return dict(meta)


def find_entry(socket: UploadsMixin, token: UploadToken) -> tuple[UploadConfig, UploadEntry]:
    """The entry a verified token names; ``UploadRefused`` when it is gone or the token is another entry's."""
    uploads = socket._data.get(UPLOADS_KEY)
    config = uploads._configs.get(token.upload) if isinstance(uploads, Uploads) else None
    entry = config.get(token.ref) if config is not None else None
    if config is None or entry is None:
        raise UploadRefused(410, f"upload entry {token.ref!r} is gone (cancelled, consumed or never chosen); choose the file again")
    if entry.uuid != token.uuid:
        raise UploadRefused(403, f"upload token for another entry: entry {token.ref!r} was chosen again since the token was issued")
    if entry.cancelled:
        raise UploadRefused(410, f"upload entry {token.ref!r} was cancelled")
    return config, entry


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk request, as the router parsed it."""

    token: UploadToken
    offset: int
    length: int | None  # Content-Length, None for a chunked body


Notify = Callable[[UploadEntry, bool], None]


async def receive_chunk(socket: UploadsMixin, chunk: Chunk, body: AsyncIterator[bytes], *, directory: str | None, notify: Notify) -> dict[str, Any]:
    """Write one chunk to its entry's temporary file, as the bytes arrive; returns ``{"offset", "done"}``.

    Every chunk but the last is ``chunk_size`` bytes and starts where the previous ended. A
    chunk that breaks the protocol or a limit fails the entry (``UploadRefused`` with a 4xx).
    A chunk cut off by the network (the client went away) is rolled back, so a retry resumes.
    """
    config, entry = find_entry(socket, chunk.token)
    expected = _admit(config, entry, chunk, notify)
    if expected is None:  # nothing to write: done already, or a resend of what arrived
        return {"offset": entry.received, "done": entry.done}
    entry._busy = True
    receiver = _ChunkReceiver(config, entry, entry._open(directory), chunk.offset, expected)
    complete = False
    try:
        async for piece in body:
            if piece:
                await receiver.feed(piece)
                notify(entry, False)
        complete = True
        await receiver.finish()
        notify(entry, entry.done)
        return {"offset": entry.received, "done": entry.done}
    finally:
        entry._busy = False
        if entry.cancelled or not entry.valid:
            entry._discard()
            notify(entry, True)
        elif not complete and not entry.done:
            receiver.roll_back()


def _admit(config: UploadConfig, entry: UploadEntry, chunk: Chunk, notify: Notify) -> int | None:
    """The bytes ``chunk`` must bring, None when it brings nothing new; ``UploadRefused`` if it breaks the protocol."""
    if entry.external:
        raise UploadRefused(409, f"upload entry {entry.ref!r} goes to an external uploader, not to this server")
    if not entry.valid:
        raise UploadRefused(409, f"upload entry {entry.ref!r} has failed ({', '.join(entry.errors)}); cancel it and choose the file again")
    if entry.done:
        return None
    if entry._busy:
        raise UploadRefused(409, f"a chunk of upload entry {entry.ref!r} is already being received")
    start = chunk.offset
    expected = min(config.chunk_size, entry.client_size - start) if start <= entry.client_size else -1
    if start < entry.received and chunk.length is not None and start + chunk.length <= entry.received:
        return None  # a resend of what arrived (its answer was lost)
    if start != entry.received:
        _fail(entry, notify, FAILED)
        raise UploadRefused(409, f"out-of-order chunk for upload entry {entry.ref!r}: expected offset {entry.received}, got {start}; the entry failed")
    if chunk.length is not None and chunk.length > expected:
        _fail(entry, notify, TOO_LARGE if start + chunk.length > entry.client_size else FAILED)
        raise UploadRefused(
            413,
            f"chunk past the limit for upload entry {entry.ref!r}: at most {expected} bytes at offset {start} "
            f"(declared size {entry.client_size}, chunk size {config.chunk_size}), got {chunk.length}; the entry failed",
        )
    return expected


class _ChunkReceiver:
    """One chunk's bytes on their way to the entry's file: counted, sniffed, written in batches."""

    __slots__ = ("config", "entry", "expected", "fd", "head", "pending", "received", "sniffed", "start", "written")

    def __init__(self, config: UploadConfig, entry: UploadEntry, fd: int, start: int, expected: int) -> None:
        self.config, self.entry, self.fd = config, entry, fd
        self.start, self.expected = start, expected
        self.pending = bytearray()
        self.written = self.received = start
        self.head = b""
        self.sniffed = start > 0  # only a file's first bytes say what it is

    async def feed(self, piece: bytes) -> None:
        entry = self.entry
        self.received += len(piece)
        if self.received - self.start > self.expected:
            _fail_later(entry, TOO_LARGE if self.received > entry.client_size else FAILED)
            raise UploadRefused(
                413,
                f"chunk past the limit for upload entry {entry.ref!r}: more than {self.expected} bytes at offset {self.start} "
                f"(declared size {entry.client_size}); the entry failed",
            )
        if not self.sniffed:
            self.head += piece[: _SNIFF_BYTES - len(self.head)]
            if len(self.head) >= _SNIFF_BYTES or self.received >= entry.client_size:
                self.sniffed = True
                self._check_content()
        self.pending += piece
        if len(self.pending) >= _FLUSH_BYTES:
            await self._flush()
        entry.progress = min(99, self.received * 100 // entry.client_size) if entry.client_size else 0

    async def finish(self) -> None:
        """The body ended: the chunk must be whole and, if it is the file's start, what it says it is."""
        entry = self.entry
        if self.received - self.start < self.expected:
            _fail_later(entry, FAILED)
            raise UploadRefused(
                400,
                f"truncated chunk for upload entry {entry.ref!r}: expected {self.expected} bytes at offset {self.start}, "
                f"got {self.received - self.start}; the entry failed",
            )
        if not self.sniffed:
            self._check_content()
        await self._flush()
        entry.received = self.written
        if entry.received == entry.client_size:
            entry._close_file()
            entry.done = True
            entry.progress = 100

    def roll_back(self) -> None:
        """Cut off mid-chunk (the client went away, or the body broke): keep what came before it."""
        entry = self.entry
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, self.start)
        entry.received = self.start
        entry.progress = self.start * 100 // entry.client_size if entry.client_size else 0

    def _check_content(self) -> None:
        entry, config = self.entry, self.config
        if not config.accepts_content(entry, self.head):
            _fail_later(entry, NOT_ACCEPTED)
            raise UploadRefused(
                415,
                f"upload entry {entry.ref!r} is not what its name says ({entry.client_name!r}), or not accepted: {', '.join(config.accept)}; the entry failed",
            )

    async def _flush(self) -> None:
        if self.pending:
            self.written = await _write(self.entry, self.fd, self.pending, self.written)
            self.pending = bytearray()


async def _write(entry: UploadEntry, fd: int, data: bytearray, at: int) -> int:
    if entry.cancelled:
        raise UploadRefused(410, f"upload entry {entry.ref!r} was cancelled")
    await asyncio.to_thread(os.pwrite, fd, data, at)
    if entry.cancelled:
        raise UploadRefused(410, f"upload entry {entry.ref!r} was cancelled")
    return at + len(data)


def _fail(entry: UploadEntry, notify: Notify, error: str) -> None:
    entry._fail(error)
    notify(entry, True)


def _fail_later(entry: UploadEntry, error: str) -> None:
    """Fail an entry whose chunk is being received: its file goes when the chunk ends."""
    if error not in entry.errors:
        entry.errors.append(error)


def external_progress(socket: UploadsMixin, token: UploadToken, params: Mapping[str, Any]) -> UploadEntry:
    """An external uploader's report: ``{"progress": 0..100}`` or ``{"error": "..."}``."""
    _, entry = find_entry(socket, token)
    if not entry.external:
        raise UploadRefused(409, f"upload entry {entry.ref!r} is uploaded to this server; its progress is the server's to tell")
    if entry.done or not entry.valid:
        return entry
    error = params.get("error")
    if error is not None:
        entry._fail(FAILED)
        return entry
    progress = params.get("progress")
    if type(progress) is not int or not 0 <= progress <= 100:
        raise UploadRefused(400, f"malformed upload progress: expected a whole number from 0 to 100\nGot: {progress!r}")
    entry.progress = max(entry.progress, progress)
    if progress == 100:
        entry.done = True
    return entry


class ProgressThrottle:
    """Decides when an entry's progress is worth a render: at most every ``interval`` seconds,
    and always when it completes or fails."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def due(self, entry: UploadEntry, force: bool) -> bool:
        now = time.monotonic()
        if force or now - entry._last_notice >= self.interval:
            entry._last_notice = now
            return True
        return False



class SessionUploads:
    """A session's side of its uploads: the preflight and progress events, chunks as they
    arrive, and their progress told to the page — at most every ``interval`` seconds.

    ``notify(upload, ref)`` asks the session for a turn of its mailbox, in which it calls
    ``changed``; one is pending per entry at a time.
    """

    __slots__ = ("_notify", "_pending", "_signer", "_throttle", "directory", "session_id")

    def __init__(self, session_id: str, signer: UploadSigner, *, directory: str | None, interval: float, notify: Callable[[str, str], None]) -> None:
        self.session_id = session_id
        self.directory = directory
        self._signer = signer
        self._throttle = ProgressThrottle(interval)
        self._notify = notify
        self._pending: set[tuple[str, str]] = set()  # entries with a turn asked for

    async def event(self, socket: UploadsMixin, name: str, params: Mapping[str, Any]) -> Any:
        """The preflight of chosen files (their tokens are the reply), or an external uploader's
        progress; what it refuses is an ``EventError`` with the status to answer."""
        try:
            if name == UPLOAD_EVENT:
                return await preflight(socket, params, self.session_id, self._signer)
            token = self._signer.verify(params.get("token"))
            if token.session_id != self.session_id:
                raise UploadRefused(403, "upload token for another page")
            entry = external_progress(socket, token, params)
        except UploadRefused as exc:
            raise EventError(str(exc), status_code=exc.status) from None
        await self._progress(socket, entry)
        return None

    async def receive(self, socket: UploadsMixin, chunk: Chunk, body: AsyncIterator[bytes]) -> dict[str, Any]:
        return await receive_chunk(socket, chunk, body, directory=self.directory, notify=self._notice)

    def _notice(self, entry: UploadEntry, force: bool) -> None:
        key = (entry.upload, entry.ref)
        if key in self._pending or not self._throttle.due(entry, force):
            return
        self._pending.add(key)
        self._notify(*key)

    async def changed(self, socket: UploadsMixin, upload: str, ref: str) -> None:
        """The mailbox's turn for an entry's progress: the page re-renders its uploads."""
        self._pending.discard((upload, ref))
        for config in socket._upload_configs():
            if config.name == upload and (entry := config.get(ref)) is not None:
                await self._progress(socket, entry)
                return

    async def _progress(self, socket: UploadsMixin, entry: UploadEntry) -> None:
        socket.mark_changed(UPLOADS_KEY)
        config = next((c for c in socket._upload_configs() if c.name == entry.upload), None)
        if config is not None and config.progress is not None:
            result = config.progress(entry.upload, entry, socket)
            if inspect.isawaitable(result):
                await result


class UploadTags:
    """The upload helpers of ``live`` in templates (mixed into ``helpers.TemplateHelpers``)."""

    upload_url: str

    @pass_context
    def file_input(self, context: Context, upload: str | UploadConfig, /, **attrs: Any) -> Markup:
        """The file input of an upload (``socket.allow_upload(name, ...)``), as LiveView's ``live_file_input``.

        ``{{ live.file_input("avatar") }}`` renders ``<input type="file" name="avatar" accept=".png,.jpg" …>``
        with what the browser validates with; extra keyword arguments become attributes
        (``class_="..."`` for ``class``).
        """
        config = _upload_config(context, upload, "file_input")
        pairs: list[tuple[str, str | None]] = [
            ("type", "file"),
            ("id", str(attrs.pop("id", config.ref))),
            ("name", config.name),
            (ATTR_UPLOAD, config.name),
            (ATTR_UPLOAD_URL, self.upload_url),
            (ATTR_UPLOAD_CONFIG, json.dumps(config.client_config(), separators=(",", ":"))),
        ]
        if "*" not in config.accept:
            pairs.append(("accept", ",".join(config.accept)))
        if config.max_entries > 1:
            pairs.append(("multiple", None))
        pairs += extra_attributes(attrs)
        return Markup(f"<input {markup_attrs(pairs)}>")

    @pass_context
    def drop_target(self, context: Context, upload: str | UploadConfig, /) -> Markup:
        """Make an element a drop zone for an upload's files: ``<div {{ live.drop_target("avatar") }}>``.

        While files are dragged over it, it has the class ``live-drop-active``.
        """
        config = _upload_config(context, upload, "drop_target")
        return markup_attrs([(ATTR_DROP_TARGET, config.name)])

    def img_preview(self, entry: UploadEntry, /, **attrs: Any) -> Markup:
        """An ``<img>`` the browser fills with a chosen image before it is uploaded (LiveView's ``live_img_preview``)."""
        if not isinstance(entry, UploadEntry):
            raise ConfigurationError(f"live.img_preview() takes an upload entry (for entry in uploads.avatar.entries)\nGot: {entry!r}")
        pairs: list[tuple[str, str | None]] = [
            ("id", str(attrs.pop("id", f"live-preview-{entry.ref}"))),
            (ATTR_UPLOAD_PREVIEW, entry.ref),
            (ATTR_UPLOAD, entry.upload),
            (ATTR_MORPH_SKIP, None),  # the browser set its src: a re-render must not take it away
            ("alt", str(attrs.pop("alt", entry.client_name))),
        ]
        pairs += extra_attributes(attrs)
        return Markup(f"<img {markup_attrs(pairs)}>")


def _upload_config(context: Context, upload: str | UploadConfig, helper: str) -> UploadConfig:
    if isinstance(upload, UploadConfig):
        return upload
    uploads = context.get(UPLOADS_KEY)
    config = uploads.get(upload) if isinstance(uploads, Uploads) and isinstance(upload, str) else None
    if config is None:
        allowed = sorted(uploads) if isinstance(uploads, Uploads) else []
        raise ConfigurationError(
            f"live.{helper}({upload!r}) names no upload of this page\n"
            f"Expected one of: {', '.join(allowed) or '(none: call socket.allow_upload(name, accept=...) in mount)'}\nGot: {upload!r}"
        )
    return config
