"""The app's startup: every registered page template is compiled before the first request."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from jinja2 import DictLoader, Environment

from fastapi_live import ConfigurationError, LiveRouter, LiveView
from fastapi_live.pubsub.memory import MemoryPubSub

GOOD = '{% extends "live/base.html" %}{% block content %}<p>fine</p>{% endblock %}'
BROKEN = '{% extends "live/base.html" %}{% block content %}\n<p>\n{% if %}</p>{% endblock %}'


class Fine(LiveView):
    pass


class Broken(LiveView):
    pass


def app_with(templates: dict[str, str], pages: dict[str, tuple[str, type[LiveView]]]) -> FastAPI:
    live = LiveRouter(templates=Environment(loader=DictLoader(templates), autoescape=True), secret_key="s", pubsub=MemoryPubSub())
    for path, (template, view) in pages.items():
        live.page(path, template=template)(view)
    app = FastAPI()
    app.include_router(live)
    return app


async def test_a_template_syntax_error_fails_the_startup_naming_template_line_and_page():
    app = app_with({"good.html": GOOD, "broken.html": BROKEN}, {"/fine": ("good.html", Fine), "/broken/{id}": ("broken.html", Broken)})
    with pytest.raises(ConfigurationError, match=r"^template broken\.html, line 3 of live page '/broken/\{id\}' \(Broken\) does not compile: "):
        async with app.router.lifespan_context(app):
            pass


async def test_a_missing_template_fails_the_startup_naming_the_page():
    app = app_with({"good.html": GOOD}, {"/gone": ("missing.html", Fine)})
    with pytest.raises(ConfigurationError, match=r"^live page '/gone' \(Fine\) uses template 'missing\.html', which the router's templates cannot find"):
        async with app.router.lifespan_context(app):
            pass


async def test_good_templates_start():
    app = app_with({"good.html": GOOD}, {"/fine": ("good.html", Fine)})
    async with app.router.lifespan_context(app):
        pass
