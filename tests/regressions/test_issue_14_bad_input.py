"""Issue 14, item 4: hostile input that used to cost a 500 and a traceback per request.

* 100,000 levels of JSON nesting raised ``RecursionError`` inside the event endpoint;
* a NUL byte in a ``/_live/static`` path raised ``ValueError`` in the path resolution.

Both now get their 4xx, before any user code and without a traceback in the log.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.sse import headers, open_page
from tests.support.views.counter import make_app


@pytest.fixture
def counter(serve):
    app, live = make_app()
    return serve(app), live


@pytest.mark.parametrize("depth", [100_000, 2_000])
async def test_deeply_nested_json_is_a_400_not_a_500(counter, caplog, depth):
    url, _ = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
        with caplog.at_level(logging.WARNING, logger="fastapi_live"):
            response = await client.post("/_live/event", content=body, headers={**headers(token, "echo"), "Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert "nested" in response.json()["detail"]
        assert not [r for r in caplog.records if r.exc_info], "a refused body logs no traceback"
        ok = await client.post("/_live/event", headers=headers(token, "inc"))
        assert ok.status_code == 200 and "Count: 1" in ok.text


@pytest.mark.parametrize("path", ["/_live/static/fastapi-live.js%00", "/_live/static/%00", "/_live/static/vendor/%00htmx.min.js"])
async def test_a_nul_byte_in_a_static_path_is_a_404(counter, caplog, path):
    url, _ = counter
    async with httpx.AsyncClient(base_url=url) as client:
        with caplog.at_level(logging.WARNING):
            response = await client.get(path)
        assert response.status_code == 404
        assert not [r for r in caplog.records if r.exc_info]
        assert (await client.get("/_live/static/fastapi-live.js")).status_code == 200
