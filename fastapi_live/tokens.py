"""Signs and verifies page tokens; a failed check says why (invalid, expired, outdated, foreign).

A token is bound to the browser that rendered the page by a keyed digest of the browser
cookie, never by the cookie itself: the token is public (page source, HAR files, a proxy's
log of ``X-Live-Token``), the cookie is not, and one must not give away the other.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode, want_bytes

from .exceptions import TokenError

TOKEN_VERSION = 2
_SALT = "fastapi-live.page-token"
_BINDING_PURPOSE = b"fastapi-live.browser-binding"
# Browsers whose digest is kept (about 150 bytes each): those loading pages now. An event to a
# page held here needs none (the session knows its browser), so more would only be memory.
_DIGESTS = 512


@dataclass(frozen=True, slots=True)
class PageToken:
    """What a page token stands for: enough to find, or remount, the page's session.

    ``browser_id`` is the browser cookie the token was checked against (the token itself only
    carries its digest); ``issued_at`` is when it was signed, in seconds since the epoch.
    """

    session_id: str
    view: str
    browser_id: str
    url: str
    issued_at: float = 0.0


class _Signer(TimestampSigner):
    """Derives its key once: itsdangerous derives it again for every signature, and a page
    token is signed on every page and checked on every event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self._derived.get(secret_key)
        if key is None:
            key = self._derived[secret_key] = super().derive_key(secret_key)
        return key


class _Serializer(URLSafeTimedSerializer):
    """Never tries to compress (page tokens are small, and zlib would run on every page); one
    signer per salt, made once (the same tokens, byte for byte, as a signer made per call)."""

    default_signer = _Signer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, Signer] = {}

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(self.serializer.dumps(obj, **self.serializer_kwargs).encode("utf-8"))


class TokenSigner:
    """Signs ``PageToken``s and checks them against the browser that presents them."""

    def __init__(self, secret_key: str | bytes, *, max_age: float = 86_400.0) -> None:
        self._serializer = _Serializer(secret_key, salt=_SALT)
        self._binding_key = hmac.new(want_bytes(secret_key), _BINDING_PURPOSE, hashlib.sha256).digest()
        self.max_age = max_age
        self._digests: dict[str, str] = {}  # a browser's pages and events need its digest again and again

    def browser_digest(self, browser_id: str) -> str:
        """The keyed digest that binds a token to ``browser_id``; it cannot be turned back into it."""
        cached = self._digests.get(browser_id)
        if cached is not None:
            return cached
        digest = hmac.new(self._binding_key, browser_id.encode("utf-8"), hashlib.sha256).digest()[:18]
        if len(self._digests) >= _DIGESTS:
            self._digests.clear()
        text = self._digests[browser_id] = base64_encode(digest).decode("ascii")
        return text

    def sign(self, token: PageToken) -> str:
        return self._serializer.dumps([TOKEN_VERSION, token.session_id, token.view, self.browser_digest(token.browser_id), token.url])

    def verify(self, raw: str | None, *, browser_id: str | None) -> PageToken:
        """Return the token's contents, or raise ``TokenError`` with the reason."""
        if not raw:
            raise TokenError("missing", "missing page token: expected the X-Live-Token header")
        if len(raw) > 4096:
            raise TokenError("invalid", "invalid page token: too long")
        try:
            payload, signed_at = self._serializer.loads(raw, max_age=int(self.max_age), return_timestamp=True)
        except SignatureExpired:
            raise TokenError("expired", "expired page token: reload the page") from None
        except BadSignature:
            raise TokenError("invalid", "invalid page token: bad signature") from None
        if not _canonical(raw):
            # Base64 lets a few characters vary without changing the bytes; only the exact
            # token that was issued is accepted.
            raise TokenError("invalid", "invalid page token: not in the form it was issued in")
        if not (isinstance(payload, list) and len(payload) == 5 and all(isinstance(p, (str, int)) for p in payload)):
            raise TokenError("invalid", "invalid page token: malformed payload")
        version, session_id, view, binding, url = payload
        if version != TOKEN_VERSION:
            raise TokenError("outdated", f"outdated page token: version {version!r}, expected {TOKEN_VERSION}")
        if browser_id is None or not hmac.compare_digest(str(binding), self.browser_digest(browser_id)):
            raise TokenError("foreign", "foreign page token: it was issued to another browser session")
        return PageToken(str(session_id), str(view), browser_id, str(url), signed_at.timestamp())


def _canonical(raw: str) -> bool:
    segments = raw.lstrip(".").split(".")
    try:
        return all(base64_encode(base64_decode(segment)).decode() == segment for segment in segments)
    except Exception:  # not base64 at all: the signature check already refused such tokens
        return False
