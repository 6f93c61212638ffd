"""Log records stay one line each, whatever text a request put into them."""

from __future__ import annotations

import pytest

from fastapi_live.logs import oneline


@pytest.mark.parametrize("text", ["a\nb", "a\r\nb", "a\rb", "a\x85b", "a\u2028b", "a\u2029b"])
def test_every_line_break_is_escaped(text):
    assert len(oneline(text).splitlines()) == 1


def test_plain_text_and_other_values_pass_as_their_str():
    assert oneline("fine") == "fine"
    assert oneline(ValueError("bad\nthing")) == "bad\\nthing"
