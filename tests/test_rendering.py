"""Templates split into regions: what each region reads, which to re-render, how they render."""

from __future__ import annotations

import json
import os
import re

import pytest
from fastapi.templating import Jinja2Templates
from jinja2 import TemplateSyntaxError
from markupsafe import Markup

from fastapi_live import AsyncResult, ConfigurationError, LiveRouter
from fastapi_live.helpers import TemplateHelpers
from fastapi_live.rendering import ALWAYS, PageContext, PageTemplate
from fastapi_live.wire import ROOT_ID, partial, push_element
from tests.support.harness import environment, page_template

PAGE = """<html><h1>{{ outside }}</h1>
{% live_root %}
  <p>{{ title }}</p>
  {% region "cart" tag="section" class="card" data_role="cart" %}
    Items: {{ cart | length }}
    {% region "total" tag="span" %}{{ total }} {{ currency }}{% endregion %}
  {% endregion %}
  {% region "user" %}{{ user.name }}{% endregion %}
  {% async_result org %}
    {% loading %}Loading org...
    {% failed reason %}Failed: {{ reason }}
    {% ok value %}Org: {{ value }}
  {% endasync_result %}
{% endlive_root %}
</html>"""


def region_ids(regions) -> list[str]:
    return sorted(region.spec.dom_id for region in regions)


@pytest.fixture
def page():
    return page_template(PAGE)


# -- analysis -------------------------------------------------------------------------------------


def test_regions_are_found_with_their_kind_tag_and_attributes(page):
    assert sorted(page.regions) == ["async-org", "cart", "live-root", "total", "user"]
    cart = page.regions["cart"].spec
    assert (cart.kind, cart.tag, cart.attrs) == ("region", "section", (("class", "card"), ("data-role", "cart")))
    assert page.regions["async-org"].spec.kind == "async"
    assert page.regions[ROOT_ID].spec.kind == "root"


def test_each_region_knows_the_assigns_it_reads(page):
    assert page.regions["total"].deps == {"total", "currency"}
    assert page.regions["user"].deps == {"user"}
    assert {"org"} <= page.regions["async-org"].deps
    assert "cart" in page.regions["cart"].deps
    assert "title" in page.regions[ROOT_ID].deps


def test_what_only_a_nested_region_reads_is_not_its_parents_dependency(page):
    # The nested region is re-rendered alone; the parent renders it anyway when it changes.
    assert page.regions["cart"].deps == {"cart"}


def test_names_outside_the_live_root_are_nobodys_dependency(page):
    assert all("outside" not in region.deps for region in page.regions.values())


def test_nested_regions_know_their_ancestors(page):
    assert page.regions["total"].ancestors == (ROOT_ID, "cart")
    assert page.regions["cart"].ancestors == (ROOT_ID,)
    assert page.regions[ROOT_ID].ancestors == ()


def test_environment_globals_are_not_dependencies():
    env = environment({"page.html": '{% live_root %}{% region "r" %}{{ range(n) | list }}{{ live }}{% endregion %}{% endlive_root %}'})
    env.globals["live"] = object()
    from fastapi_live.rendering import PageTemplate

    assert PageTemplate(env, "page.html").regions["r"].deps == {"n"}


def test_an_included_template_adds_its_reads_and_regions():
    page = page_template({
        "page.html": '{% live_root %}{% region "outer" %}{% include "widget.html" %}{% endregion %}{% endlive_root %}',
        "widget.html": '<b>{{ count }}</b>{% region "badge" %}{{ unread }}{% endregion %}',
    })
    assert page.regions["outer"].deps == {"count"}
    assert page.regions["badge"].deps == {"unread"}
    assert page.regions["badge"].ancestors == (ROOT_ID, "outer")
    assert page.regions["badge"].owner == "widget.html"


def test_a_dynamic_include_makes_its_region_depend_on_everything():
    page = page_template('{% live_root %}{% region "r" %}{% include which %}{% endregion %}{% endlive_root %}')
    assert ALWAYS in page.regions["r"].deps


def test_a_recursive_include_is_walked_once():
    page = page_template({
        "page.html": '{% live_root %}{% region "tree" %}{% include "node.html" %}{% endregion %}{% endlive_root %}',
        "node.html": "{{ label }}{% if children %}{% include 'node.html' %}{% endif %}",
    })
    assert page.regions["tree"].deps >= {"label", "children"}


def test_regions_in_a_layout_and_in_the_child_that_extends_it():
    page = page_template({
        "layout.html": '<html>{% live_root %}{% region "nav" %}{{ user }}{% endregion %}{% block content %}{% endblock %}{% endlive_root %}</html>',
        "page.html": '{% extends "layout.html" %}{% block content %}{% region "body" %}{{ body }}{% endregion %}{% endblock %}',
    })
    assert sorted(page.regions) == ["body", "live-root", "nav"]
    assert page.regions["body"].deps == {"body"}
    html = page.render_region("nav", {"user": "ann"}, 1) + page.render_region("body", {"body": "hello"}, 1)
    assert html == '<div id="nav" data-live-region="region" data-live-v="1">ann</div><div id="body" data-live-region="region" data-live-v="1">hello</div>'


def _whole_page(page: PageTemplate, **assigns: object) -> tuple[str, str]:
    """The page rendered by ``render_page`` and by Jinja's own ``Template.render``, from the same context."""
    context = {**assigns, "__live__": PageContext(Markup('<div id="live-root">'))}
    return page.render_page(context), page.template.render(context)


def test_a_page_extending_through_two_layouts_renders_as_jinja_renders_it():
    page = page_template({
        "base.html": '<title>{% block title %}Site{% endblock %}</title>{% live_root %}{% block content %}{% endblock %}{% endlive_root %}',
        "layout.html": '{% extends "base.html" %}\n{# the layout #}{% block title %}{{ section }} · {{ super() }}{% endblock %}never shown',
        "page.html": '{% extends "layout.html" %}{% block content %}{% region "body" %}{{ body }}{% endregion %}{% endblock %}',
    })
    mine, jinjas = _whole_page(page, section="Docs", body="hello")
    assert mine == jinjas
    assert mine.startswith("<title>Docs · Site</title>") and "hello" in mine and "never shown" not in mine


def test_a_page_whose_top_level_sets_or_imports_what_its_blocks_use_renders_them():
    page = page_template({
        "macros.html": '{% macro badge(text) %}<b>{{ text }}</b>{% endmacro %}',
        "layout.html": '{% live_root %}{% block content %}{% endblock %}{% endlive_root %}',
        "page.html": '{% extends "layout.html" %}{% from "macros.html" import badge %}{% set greeting = "hi" %}'
                     '{% block content %}{{ badge(greeting) }} {{ name }}{% endblock %}',
    })
    mine, jinjas = _whole_page(page, name="ann")
    assert mine == jinjas
    assert "<b>hi</b> ann" in mine


def test_a_changed_layout_is_read_again_on_the_next_page(tmp_path):
    (tmp_path / "layout.html").write_text('{% live_root %}<h1>Old</h1>{% block content %}{% endblock %}{% endlive_root %}')
    (tmp_path / "page.html").write_text('{% extends "layout.html" %}{% block content %}{% region "body" %}{{ body }}{% endregion %}{% endblock %}')
    live = LiveRouter(templates=Jinja2Templates(directory=tmp_path), secret_key="test-secret")
    context = {"body": "x", "__live__": PageContext(Markup('<div id="live-root">'))}
    assert "<h1>Old</h1>" in live.page_template("page.html").render_page(context)
    layout = tmp_path / "layout.html"
    layout.write_text('{% live_root %}<h1>New</h1>{% region "nav" %}{{ nav }}{% endregion %}{% block content %}{% endblock %}{% endlive_root %}')
    later = layout.stat().st_mtime + 10
    os.utime(layout, (later, later))  # a later edit, whatever the file system's clock resolution
    page = live.page_template("page.html")
    assert "<h1>New</h1>" in page.render_page({**context, "nav": "n"})
    assert "nav" in page.regions  # the layout's new region is known, too


def test_a_child_block_overrides_a_region_of_the_layout():
    page = page_template({
        "layout.html": '{% live_root %}{% block side %}{% region "side" %}{{ old }}{% endregion %}{% endblock %}{% endlive_root %}',
        "page.html": '{% extends "layout.html" %}{% block side %}{% region "side2" %}{{ new }}{% endregion %}{% endblock %}',
    })
    assert "side" not in page.regions
    assert page.regions["side2"].deps == {"new"}


# -- choosing regions to re-render ----------------------------------------------------------------------


def test_regions_for_picks_the_regions_reading_a_changed_key(page):
    assert region_ids(page.regions_for({"user"})) == ["user"]
    assert region_ids(page.regions_for({"org"})) == ["async-org"]
    assert region_ids(page.regions_for({"user", "org"})) == ["async-org", "user"]


def test_regions_for_keeps_only_the_outermost(page):
    assert region_ids(page.regions_for({"total"})) == ["total"]
    assert region_ids(page.regions_for({"cart", "total"})) == ["cart"]
    assert region_ids(page.regions_for({"title", "user", "total"})) == [ROOT_ID]


def test_regions_for_nothing_or_an_unread_key_is_nothing(page):
    assert page.regions_for(set()) == []
    assert page.regions_for({"never_read"}) == []


def test_a_region_depending_on_everything_is_hit_by_any_change():
    page = page_template('{% live_root %}{% region "r" %}{% include which %}{% endregion %}{% region "s" %}{{ s }}{% endregion %}{% endlive_root %}')
    assert region_ids(page.regions_for({"s"})) == ["r", "s"]


# -- rendering regions -------------------------------------------------------------------------------


def test_a_region_renders_alone_with_its_wrapper_and_version(page):
    html = page.render_region("total", {"total": 12, "currency": "EUR"}, 7)
    assert html == '<span id="total" data-live-region="region" data-live-v="7">12 EUR</span>'


def test_a_region_with_attributes_keeps_them_escaped():
    page = page_template('{% live_root %}{% region "r" class="a&b" title="say \\"hi\\"" %}x{% endregion %}{% endlive_root %}')
    assert page.render_region("r", {}, 1) == '<div id="r" data-live-region="region" data-live-v="1" class="a&amp;b" title="say &#34;hi&#34;">x</div>'


def test_region_content_is_autoescaped(page):
    assert page.render_region("user", {"user": {"name": "<script>"}}, 1).endswith(">&lt;script&gt;</div>")


def render_org(page, org) -> str:
    html = page.render_region("async-org", {"org": org}, 1)
    return re.sub(r"\s+", " ", html.split(">", 1)[1].rsplit("<", 1)[0]).strip()


def test_async_result_renders_each_state(page):
    assert render_org(page, AsyncResult.loading()) == "Loading org..."
    assert render_org(page, AsyncResult.ok(AsyncResult.loading(), "Acme")) == "Org: Acme"
    assert render_org(page, AsyncResult.failed(AsyncResult.loading(), "timeout")) == "Failed: timeout"


def test_async_result_shows_the_stale_value_while_reloading_and_after_a_failed_reload(page):
    loaded = AsyncResult.ok(AsyncResult.loading(), "Acme")
    assert render_org(page, AsyncResult.loading(loaded)) == "Org: Acme"
    assert render_org(page, AsyncResult.failed(AsyncResult.loading(loaded), "x")) == "Org: Acme"


def test_async_result_parts_are_optional_except_ok_and_may_bind_names():
    page = page_template(
        "{% live_root %}{% async_result job id=\"job-box\" tag=\"section\" %}"
        "{% loading step %}Step {{ step }}{% ok %}Done{% endasync_result %}{% endlive_root %}"
    )
    assert page.regions["job-box"].spec.tag == "section"
    assert render_job(page, AsyncResult.loading(AsyncResult.loading(), "2 of 3")) == "Step 2 of 3"
    assert render_job(page, AsyncResult.ok(AsyncResult.loading(), 1)) == "Done"
    assert render_job(page, AsyncResult.failed(AsyncResult.loading(), "x")) == ""


def render_job(page, job) -> str:
    return page.render_region("job-box", {"job": job}, 1).split(">", 1)[1].rsplit("<", 1)[0]


def test_the_ok_part_may_rebind_the_key_itself():
    page = page_template("{% live_root %}{% async_result org %}{% loading %}...{% ok org %}{{ org.name }}{% endasync_result %}{% endlive_root %}")
    html = page.render_region("async-org", {"org": AsyncResult.ok(AsyncResult.loading(), {"name": "Acme"})}, 1)
    assert ">Acme<" in html


def test_live_stream_declares_a_container_and_renders_items_alone():
    page = page_template(
        '{% live_root %}{% live_stream posts as post id="feed" tag="ol" class="posts" %}'
        '<li id="{{ dom_id }}">{{ post.title }} by {{ author_prefix }}{{ post.author }}</li>{% endlive_stream %}{% endlive_root %}'
    )
    slot = page.streams["posts"]
    assert (slot.spec.dom_id, slot.spec.tag, slot.item_var, slot.spec.kind) == ("feed", "ol", "post", "stream")
    assert ("data-live-stream", "posts") in slot.spec.attrs and ("hx-morph-skip-children", "") in slot.spec.attrs
    assert "feed" not in page.regions  # a stream container is not re-rendered as a region
    html = page.render_stream_item("posts", {"author_prefix": "@"}, "post-1", {"title": "<Hi>", "author": "ann"})
    assert html == '<li id="post-1">&lt;Hi&gt; by @ann</li>'


def test_a_stream_keeps_its_name_whatever_its_container_id():
    page = page_template('{% live_root %}{% live_stream posts as post id="posts--feed" %}<li>{{ post }}</li>{% endlive_stream %}{% endlive_root %}')
    assert list(page.streams) == ["posts"]
    assert page.streams["posts"].spec.dom_id == "posts--feed"


def test_a_stream_container_defaults_its_id_to_the_stream_name():
    page = page_template('{% live_root %}{% live_stream comments as c %}<p id="{{ dom_id }}">{{ c }}</p>{% endlive_stream %}{% endlive_root %}')
    assert page.streams["comments"].spec.dom_id == "comments"


# -- template errors ---------------------------------------------------------------------------------


def test_a_page_without_a_live_root_says_how_to_add_one():
    with pytest.raises(ConfigurationError, match=re.escape(
        "template 'page.html' has no live container: wrap the page's live content in "
        "{% live_root %}…{% endlive_root %}, or extend 'live/base.html' and fill its 'content' block"
    )):
        page_template('{% region "r" %}{{ x }}{% endregion %}')


@pytest.mark.parametrize("dom_id", ["1abc", "has space", "", "quo\"te", "-lead"])
def test_a_bad_region_id_is_a_template_error(dom_id):
    source = '{% live_root %}{% region "' + dom_id.replace('"', '\\"') + '" %}x{% endregion %}{% endlive_root %}'
    with pytest.raises(TemplateSyntaxError, match=re.escape(f"invalid region id {dom_id!r}: expected a letter, then letters, digits, '-', '_', ':' or '.'")):
        page_template(source)


def test_a_bad_async_result_id_is_a_template_error():
    with pytest.raises(TemplateSyntaxError, match=r"invalid region id '9'"):
        page_template('{% live_root %}{% async_result org id="9" %}{% ok %}x{% endasync_result %}{% endlive_root %}')


def test_a_bad_region_tag_is_a_template_error():
    with pytest.raises(TemplateSyntaxError, match=re.escape("invalid region tag 'Div!': expected an HTML tag name such as 'div' or 'tbody'")):
        page_template('{% live_root %}{% region "r" tag="Div!" %}x{% endregion %}{% endlive_root %}')


def test_a_region_id_must_be_a_string_literal():
    with pytest.raises(TemplateSyntaxError, match=re.escape('{% region %} takes a string literal id: {% region "cart" %}')):
        page_template("{% live_root %}{% region name %}x{% endregion %}{% endlive_root %}")


def test_region_options_must_be_string_literals():
    with pytest.raises(TemplateSyntaxError, match=re.escape("{% region %} option 'class' must be a string literal")):
        page_template('{% live_root %}{% region "r" class=css %}x{% endregion %}{% endlive_root %}')


def test_a_region_id_used_twice_on_a_page_is_refused():
    with pytest.raises(ConfigurationError, match=re.escape("template 'page.html': region id 'r' is used twice on one page")):
        page_template({
            "page.html": '{% live_root %}{% region "r" %}a{% endregion %}{% include "other.html" %}{% endlive_root %}',
            "other.html": '{% region "r" %}b{% endregion %}',
        })


def test_async_result_needs_an_ok_part():
    with pytest.raises(TemplateSyntaxError, match=re.escape("{% async_result org %} needs an {% ok org %} part")):
        page_template("{% live_root %}{% async_result org %}{% loading %}...{% endasync_result %}{% endlive_root %}")


def test_an_async_result_part_may_appear_once():
    with pytest.raises(TemplateSyntaxError, match=re.escape("{% loading %} appears twice in {% async_result org %}")):
        page_template("{% live_root %}{% async_result org %}{% loading %}a{% loading %}b{% ok %}c{% endasync_result %}{% endlive_root %}")


def test_a_page_may_only_extend_a_literal_name():
    with pytest.raises(ConfigurationError, match=re.escape("template 'page.html': a live page may only extend a template named by a string literal")):
        page_template("{% extends layout %}{% block b %}{% endblock %}")


def test_a_template_extending_itself_is_refused():
    with pytest.raises(ConfigurationError, match=re.escape("template 'page.html' extends itself through 'page.html'")):
        page_template({"page.html": '{% extends "page.html" %}'})


# -- patches and helpers ------------------------------------------------------------------------------------


def test_partial_escapes_css_special_characters_in_the_target():
    assert partial("a:b.c", "<p>x</p>") == '<hx-partial hx-target="#a\\:b\\.c" hx-swap="outerMorph"><p>x</p></hx-partial>'
    assert partial("posts", "", "innerHTML") == '<hx-partial hx-target="#posts" hx-swap="innerHTML"></hx-partial>'


def test_a_pushed_payload_cannot_close_its_element():
    element = push_element("push", "toast", {"html": "</hx-live><script>alert(1)</script>"})
    assert element.count("</hx-live>") == 1 and "<script>" not in element
    body = element.removeprefix("<hx-live>").removesuffix("</hx-live>").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert json.loads(body) == {"kind": "push", "name": "toast", "payload": {"html": "</hx-live><script>alert(1)</script>"}}


@pytest.fixture
def helpers() -> TemplateHelpers:
    return TemplateHelpers("/_live/event", "/_live/static", {"disconnectedTimeout": 1000})


def test_click_writes_plain_htmx_attributes(helpers):
    html = helpers.click("dismiss", id="n1")
    assert isinstance(html, Markup)
    assert html == (
        'data-live-click="dismiss" hx-post="/_live/event" hx-trigger="click" hx-swap="none" hx-sync="this:queue all" '
        'hx-vals="{&#34;id&#34;: &#34;n1&#34;}"'
    )


def test_change_with_debounce_or_throttle(helpers):
    assert 'hx-trigger="input delay:300ms"' in helpers.change("validate", debounce=300)
    assert 'hx-trigger="input throttle:1s"' in helpers.change("validate", throttle="1s")
    assert 'hx-sync="this:queue last"' in helpers.change("validate")
    with pytest.raises(ConfigurationError, match=r"^use debounce or throttle, not both$"):
        helpers.change("validate", debounce=1, throttle=1)


def test_form_binds_change_submit_and_recover(helpers):
    html = helpers.form(change="validate", submit="save", recover="recover")
    assert 'data-live-change="validate" data-live-submit="save" data-live-auto-recover="recover"' in html
    assert 'hx-trigger="input, submit"' in html
    with pytest.raises(ConfigurationError, match=r"^live\.form\(\) needs change=, submit= or both$"):
        helpers.form(recover="recover")


def test_submit_and_form_carry_the_disable_with_text(helpers):
    assert helpers.submit("save", disable_with="Saving…").endswith('hx-sync="this:queue all" data-live-disable-with="Saving…"')
    assert 'data-live-disable-with="Saving…"' in helpers.form(change="validate", submit="save", disable_with="Saving…")
    assert helpers.disable_with("Adding…") == Markup('data-live-disable-with="Adding…"')
    assert "disable-with" not in helpers.submit("save")
    with pytest.raises(ConfigurationError, match=r"^disable_with is the text a submit button shows while the submit is in flight"):
        helpers.submit("save", disable_with="")


def test_field_helpers_render_through_the_forms_module(helpers):
    from fastapi_live import to_form

    form = to_form({"email": "", "bio": "", "plan": "free", "terms": False}, {"email": "nope"}, errors={"email": "Enter a valid email address"})
    assert 'aria-describedby="form-email-error"' in helpers.input(form.email, type="email")
    assert helpers.label(form.email) == Markup('<label for="form-email">Email</label>')
    assert helpers.error(form.email) == Markup('<p id="form-email-error" class="field-error" aria-live="polite">Enter a valid email address</p>')
    assert helpers.field(form.email) == Markup('id="form-email" name="email" data-live-touched aria-invalid="true" aria-describedby="form-email-error"')
    assert helpers.textarea(form.bio, error=False) == Markup('<textarea id="form-bio" name="bio"></textarea>')
    assert '<option value="free" selected>Free</option>' in helpers.select(form.plan, {"free": "Free", "pro": "Pro"})
    assert 'type="checkbox"' in helpers.checkbox(form.terms)


def test_key_bindings_filter_by_key(helpers):
    assert 'hx-trigger="keydown[key==&#34;Enter&#34;]"' in helpers.keydown("send", key="Enter")
    assert 'hx-trigger="keyup"' in helpers.keyup("typed")


@pytest.mark.parametrize("event", ["", None])
def test_a_binding_needs_an_event_name(helpers, event):
    with pytest.raises(ConfigurationError, match=rf"^live\.click\(\) needs an event name or a live\.js chain, got {event!r}$"):
        helpers.click(event)


def test_scripts_carry_the_client_config(helpers):
    html = helpers.scripts()
    assert '<script src="/_live/static/vendor/htmx.min.js"></script>' in html
    assert 'data-live-config="{&quot;disconnectedTimeout&quot;: 1000}"' in html


def test_hook_attribute(helpers):
    assert helpers.hook("StateCache") == 'data-live-hook="StateCache"'


# -- reusing region renders across sessions ---------------------------------------------------------

SHARED = """{% live_root %}
{% region "news" %}<b>{{ news }}</b> {{ count }}{% endregion %}
{% region "rows" %}{% for row in rows %}<i>{{ row }}</i>{% endfor %}{% endregion %}
{% region "clock" %}{{ tick() }}{% endregion %}
{% region "shout" %}{{ news | shout }}{% endregion %}
{% region "lucky" %}{{ [1, 2, 3] | random }}{% endregion %}
{% region "button" %}<button {{ live.click("go") }}>{{ news | upper }}</button>{% endregion %}
{% endlive_root %}"""


def shared_page() -> PageTemplate:
    env = environment({"page.html": SHARED})
    ticks = iter(range(1000))
    env.globals["tick"] = lambda: next(ticks)
    env.filters["shout"] = lambda value: f"{value}!"
    return PageTemplate(env, "page.html")


@pytest.fixture
def shared():
    return shared_page()


def counting_renders(page, monkeypatch) -> list[str]:
    rendered: list[str] = []
    original = page._render_block

    def render_block(owner, block, context):
        rendered.append(block)
        return original(owner, block, context)

    monkeypatch.setattr(page, "_render_block", render_block)
    return rendered


def test_a_pure_region_renders_once_for_many_sessions_with_equal_values(shared, monkeypatch):
    rendered = counting_renders(shared, monkeypatch)
    helpers = TemplateHelpers("/_live/event", "/_live/static")
    assigns = {"news": "hi", "count": 3, "live": helpers}
    news = {shared.render_region("news", assigns, version) for version in range(50)}
    buttons = {shared.render_region("button", assigns, version) for version in range(50)}
    assert len(rendered) == 2  # one render per region, reused by the 49 other sessions
    assert len(news) == len(buttons) == 50  # each still carries its own version
    assert all("<b>hi</b> 3</div>" in out for out in news)
    assert all('data-live-click="go"' in out and ">HI</button>" in out for out in buttons)


def test_reused_renders_keep_apart_values_that_render_differently():
    page = shared_page()
    seen = [page.render_region("news", {"news": value, "count": 0}, 1) for value in (1, True, 1.0, 0.0, -0.0, "1", Markup("<i>1</i>"), "<i>1</i>", None)]
    inner = [re.sub(r"^<div[^>]*>|</div>$", "", out) for out in seen]
    assert inner == [
        "<b>1</b> 0",
        "<b>True</b> 0",
        "<b>1.0</b> 0",
        "<b>0.0</b> 0",
        "<b>-0.0</b> 0",
        "<b>1</b> 0",
        "<b><i>1</i></b> 0",
        "<b>&lt;i&gt;1&lt;/i&gt;</b> 0",
        "<b>None</b> 0",
    ]


def test_regions_reading_mutable_values_render_every_time(shared):
    rows = ["a"]
    first = shared.render_region("rows", {"rows": rows}, 1)
    rows.append("b")  # changed in place, as a careless handler might before socket.update
    second = shared.render_region("rows", {"rows": rows}, 2)
    assert "<i>b</i>" not in first and "<i>a</i><i>b</i>" in second


def test_regions_calling_globals_or_user_filters_or_random_are_never_reused(shared, monkeypatch):
    assert not shared.regions["clock"].pure
    assert not shared.regions["shout"].pure
    assert not shared.regions["lucky"].pure
    assert shared.regions["news"].pure and shared.regions["button"].pure
    rendered = counting_renders(shared, monkeypatch)
    clocks = [shared.render_region("clock", {}, 1) for _ in range(3)]
    assert len(set(clocks)) == 3  # tick() ran for each render
    for _ in range(3):
        shared.render_region("shout", {"news": "hi"}, 1)
    assert rendered.count(shared.regions["shout"].spec.block) == 3


def test_nested_regions_and_the_root_are_never_reused(page):
    assert not page.regions["cart"].pure  # carries its nested region's version
    assert not page.regions[ROOT_ID].pure
    assert page.regions["total"].pure
