"""Where a live page may send the browser: a path on this site, or an outside URL chosen explicitly.

A redirect target often comes from a request (``?return_to=``). Browsers read ``//evil.example``
and ``/\\evil.example`` as another site and run ``javascript:`` URLs in the page, so a
target that is not plainly local is refused unless the app says ``external=``, as LiveView's
``redirect(socket, external: url)`` does.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .exceptions import RedirectError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # browsers drop tabs and line breaks from URLs: "/\t/x" is "//x"
_EXTERNAL_SCHEMES = ("http", "https")


def local_path(to: object, operation: str) -> str:
    """``to`` when it is a path on this site; ``RedirectError`` naming the fix otherwise."""
    if isinstance(to, str) and to.startswith("/") and not to.startswith(("//", "/\\")) and "\\" not in to and not _CONTROL.search(to):
        return to
    hint = f"\nFor another site, say so: socket.{operation}(external={to!r})" if operation == "redirect" else ""
    raise RedirectError(
        f"socket.{operation}() takes a path on this site, got {to!r}\n"
        f"Expected: a path starting with a single '/', without backslashes or control characters, e.g. '/dashboard'{hint}"
    )


def external_url(url: object) -> str:
    """``url`` when it is an absolute http(s) URL; ``RedirectError`` otherwise."""
    if isinstance(url, str) and not _CONTROL.search(url):
        parts = urlsplit(url)
        if parts.scheme.lower() in _EXTERNAL_SCHEMES and parts.netloc and "\\" not in parts.netloc:
            return url
    raise RedirectError(
        f"socket.redirect(external=...) takes an absolute http:// or https:// URL, got {url!r}\n"
        "Expected one of: http://host/path, https://host/path"
    )
