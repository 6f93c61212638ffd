"""Issue 14, item 9: no secret, no start, where it matters; and no fixed known keys.

* With a Redis PubSub, or several workers, and no key, each process signed with a random key
  of its own: about half the events got 403 "bad signature". Such a server now refuses to
  start, and says how to set the key.
* The example app shipped fixed keys (``example-app-dev-secret``, ``example-app-session-secret``):
  a cookie forged with the second read "Signed in as admin". It now takes its key from
  ``FASTAPI_LIVE_SECRET``, or a random one for the run, logged.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from fastapi_live import ConfigurationError
from fastapi_live.router import BROWSER_COOKIE
from fastapi_live.tokens import PageToken, TokenSigner
from tests.support.servers import SubprocessServer, free_port
from tests.support.sse import headers, open_page
from tests.support.views.counter import make_app

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = "export FASTAPI_LIVE_SECRET="


def without_secret(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("FASTAPI_LIVE_SECRET", "REDIS_URL", "WEB_CONCURRENCY")}
    return {**env, "PYTHONPATH": ROOT_DIR, **extra}


def run_until_exit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "uvicorn", "examples.app.main:app", "--host", "127.0.0.1", "--port", str(free_port()), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.redis
def test_with_redis_and_no_key_the_server_refuses_to_start_and_names_the_fix(redis_server_url):
    result = run_until_exit(without_secret(REDIS_URL=redis_server_url))
    assert result.returncode != 0
    assert "LiveRouter needs a secret key: the PubSub is Redis" in result.stderr
    assert FIX in result.stderr


def test_with_several_workers_and_no_key_the_server_refuses_to_start():
    result = run_until_exit(without_secret(), "--workers", "2")  # returns: the server stopped (uvicorn's parent exits 0)
    assert "Application startup failed" in result.stderr and "stopping the parent process" in result.stderr
    assert "LiveRouter needs a secret key: uvicorn runs 2 worker processes" in result.stderr
    assert FIX in result.stderr


@pytest.fixture
def demo():
    """``make run`` with no key in the environment: one process, a random key for the run."""
    server = SubprocessServer("examples.app.main:app")
    server.env = without_secret()
    server.start()
    yield server
    server.stop()


async def test_the_demo_signs_with_a_random_key_and_says_so(demo):
    async with httpx.AsyncClient(base_url=demo.url) as client:
        assert (await client.get("/counter")).status_code == 200
    assert "FASTAPI_LIVE_SECRET is unset and no secret_key was given" in demo.log()


async def test_cookies_and_tokens_forged_with_the_old_fixed_keys_get_nowhere(demo):
    forged_login = URLSafeSerializer("example-app-session-secret", salt="example-login").dumps("admin")
    async with httpx.AsyncClient(base_url=demo.url, cookies={"example_user": forged_login}) as client:
        home = await client.get("/")
        assert "Signed in as" not in home.text
        dashboard = await client.get("/dashboard/acme", follow_redirects=False)
        assert dashboard.status_code in (302, 303, 307) and dashboard.headers["location"] == "/login"
    async with httpx.AsyncClient(base_url=demo.url) as client:
        _, real = await open_page(client, "/counter")
        signer = TokenSigner("example-app-dev-secret")
        forged = signer.sign(PageToken("forged-session", "Counter", client.cookies[BROWSER_COOKIE], "/counter"))
        response = await client.post("/_live/event", headers=headers(forged, "inc"))
        assert response.status_code == 403 and response.json()["reason"] == "invalid"
        assert (await client.post("/_live/event", headers=headers(real, "inc"))).status_code == 200


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"WEB_CONCURRENCY": "4"}, "WEB_CONCURRENCY is 4"),
        ({"SERVER_SOFTWARE": "gunicorn/23.0.0"}, "gunicorn runs the app in worker processes"),
    ],
)
def test_other_signs_of_several_processes_refuse_a_missing_key_too(monkeypatch, env, reason):
    monkeypatch.delenv("FASTAPI_LIVE_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _, live = make_app(secret_key=None)
    with pytest.raises(ConfigurationError, match=rf"^LiveRouter needs a secret key: {reason}"):
        live.check_secret()


def test_one_process_without_a_key_warns_and_a_given_key_is_quiet(monkeypatch, caplog):
    monkeypatch.delenv("FASTAPI_LIVE_SECRET", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    _, random_key = make_app(secret_key=None)
    random_key.check_secret()
    assert "page tokens are signed with a random key for this run" in caplog.text
    caplog.clear()
    monkeypatch.setenv("FASTAPI_LIVE_SECRET", "from-the-environment")
    _, from_env = make_app(secret_key=None)
    from_env.check_secret()
    assert caplog.text == ""
