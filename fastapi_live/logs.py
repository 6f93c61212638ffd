"""The library's log records: one line each, whatever a request put into them."""

from __future__ import annotations

_LINE_BREAKS = str.maketrans({"\r": "\\r", "\n": "\\n", "\x85": "\\x85", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def oneline(value: object) -> str:
    """``str(value)`` with its line breaks escaped, so a log record stays on one line.

    Text from a request (a path, a param name, an error about either) could otherwise
    start a line of its own in the log and pass for a record of the server's.
    """
    return str(value).translate(_LINE_BREAKS)
