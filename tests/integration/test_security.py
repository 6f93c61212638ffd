"""Tokens, params and templates under hostile input: refused cleanly, nothing crashes."""

from __future__ import annotations

import random

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.sse import headers, open_page
from tests.support.views.counter import make_app


@pytest.fixture
def counter(serve):
    app, live = make_app()
    return serve(app), live


def mutations(token: str, count: int, seed: int = 8) -> list[str]:
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
    out: list[str] = []
    while len(out) < count:
        chars = list(token)
        kind = rng.randrange(6)
        if kind == 0:  # flip one character
            i = rng.randrange(len(chars))
            chars[i] = rng.choice(alphabet.replace(chars[i], ""))
        elif kind == 1:  # truncate
            chars = chars[: rng.randrange(len(chars))]
        elif kind == 2:  # swap the payload and the signature
            chars = list(".".join(reversed(token.split("."))))
        elif kind == 3:  # insert junk
            i = rng.randrange(len(chars))
            chars[i:i] = rng.choices(alphabet, k=rng.randrange(1, 8))
        elif kind == 4:  # random printable junk of the same length
            chars = rng.choices(alphabet, k=len(token))
        else:  # drop a character
            del chars[rng.randrange(len(chars))]
        mutated = "".join(chars)
        if mutated != token:
            out.append(mutated)
    return out


async def test_a_thousand_mutated_tokens_are_all_refused_and_nothing_breaks(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        (session,) = live.manager.sessions.values()
        statuses: dict[int, int] = {}
        for n, bad in enumerate(mutations(token, 1_000)):
            if n % 2:
                response = await client.post("/_live/event", headers=headers(bad, "inc"))
            else:
                response = await client.get("/_live/stream", headers=headers(bad))
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert statuses == {403: 1_000}
        assert session.socket.assigns.count == 0 and not session.closed
        assert len(live.manager.sessions) == 1
        ok = await client.post("/_live/event", headers=headers(token, "inc"))
        assert "Count: 1" in ok.text


@pytest.fixture
def asgi_counter():
    app, live = make_app()
    return app, live


param_values = st.one_of(
    st.text(max_size=200),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=20), max_size=5),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.text(min_size=0, max_size=40), param_values, max_size=20), as_json=st.booleans())
@example(params={"_live_component": None}, as_json=False)  # an event for a component not on the page: its 404
async def test_any_event_params_get_a_clear_answer_never_a_crash(asgi_counter, params, as_json):
    app, live = asgi_counter
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        _, token = await open_page(client, "/counter")
        for event in ("inc", "echo", "nope"):
            if as_json:
                response = await client.post("/_live/event", json=params, headers=headers(token, event))
            else:
                form = {k: v if isinstance(v, str) else str(v) for k, v in params.items()}
                response = await client.post("/_live/event", data=form, headers=headers(token, event))
            # 404: an event aimed at a component (``_live_component``) that is not on the page.
            assert response.status_code in (200, 400, 404, 413, 422), (event, params, response.text)
            if response.status_code != 200:
                assert response.json()["detail"]
    for session in list(live.manager.sessions.values()):
        await session.close()


async def test_templates_escape_assigns_by_default(serve):
    app, _ = make_app()
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        response = await client.post("/_live/event", data={"text": "<script>alert(1)</script>"}, headers=headers(token, "echo"))
        assert "<script>alert(1)</script>" not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


async def test_oversized_bodies_and_too_many_params_are_refused(counter):
    url, _ = counter
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        form = {**headers(token, "echo"), "Content-Type": "application/x-www-form-urlencoded"}
        big = await client.post("/_live/event", content=b"x=" + b"a" * 1_100_000, headers=form)
        assert big.status_code == 413
        many = await client.post("/_live/event", content="&".join(f"k{i}=v" for i in range(1_500)).encode(), headers=form)
        assert many.status_code in (400, 413)
        assert "param" in many.json()["detail"] or "field" in many.json()["detail"]
        ok = await client.post("/_live/event", data={"text": "fine"}, headers=headers(token, "echo"))
        assert ok.status_code == 200
