"""``live`` in templates: bindings rendered as htmx attributes, whatever was rendered before."""

from __future__ import annotations

import enum

from fastapi_live.helpers import TemplateHelpers


class Size(enum.IntEnum):
    BIG = 1


def test_equal_values_of_other_types_keep_their_own_json_in_a_binding():
    helpers = TemplateHelpers("/_live/event", "/_live/static")
    rendered = [str(helpers.click("set", value=v)) for v in (1, True, "1", None, Size.BIG, 1, True)]
    vals = [html.split("hx-vals=")[1] for html in rendered]
    expected = ["1", "true", "&#34;1&#34;", "null", "1"]
    assert vals[:5] == [f'"{{&#34;value&#34;: {json}}}"' for json in expected]
    assert vals[5:] == vals[:2]


def test_a_binding_reflects_a_mutable_value_as_it_is_at_each_render():
    helpers = TemplateHelpers("/_live/event", "/_live/static")
    ids = [1]
    first = str(helpers.click("pick", ids=ids))
    ids.append(2)
    assert "[1]" in first and "[1, 2]" in str(helpers.click("pick", ids=ids))
