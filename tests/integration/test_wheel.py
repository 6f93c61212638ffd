"""The wheel carries its assets: build it, install it into a fresh virtualenv, serve a page."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from jinja2 import DictLoader, Environment
    from fastapi_live import LiveRouter, LiveSocket, LiveView

    PAGE = '{% extends "live/base.html" %}{% block content %}{% region "hello" %}Hello {{ who }}{% endregion %}{% endblock %}'
    env = Environment(loader=DictLoader({"page.html": PAGE}), autoescape=True)
    live = LiveRouter(templates=env, secret_key="wheel-test")

    @live.page("/", template="page.html")
    class Hello(LiveView):
        async def mount(self, socket: LiveSocket) -> None:
            socket.assign(who="from the wheel")

    app = FastAPI()
    app.include_router(live)
    """
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
    )
    (built,) = out.glob("fastapi_live-*.whl")
    return built


def test_the_wheel_holds_the_client_and_the_templates(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for required in (
        "fastapi_live/static/fastapi-live.js",
        "fastapi_live/static/vendor/htmx.min.js",
        "fastapi_live/static/vendor/hx-sse.min.js",
        "fastapi_live/static/vendor/HTMX-LICENSE.txt",
        "fastapi_live/templates/live/base.html",
        "fastapi_live/py.typed",
    ):
        assert required in names, f"{required} is missing from {wheel.name}"


def test_a_page_is_served_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    (tmp_path / "wheelapp.py").write_text(APP)
    # The fresh environment gets the wheel; its dependencies come from this one's
    # site-packages (on PYTHONPATH, so the checkout's editable install stays out).
    deps = sysconfig.get_paths()["purelib"]
    port = free_port()
    server = subprocess.Popen(
        [str(python), "-m", "uvicorn", "wheelapp:app", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
        env={"PYTHONPATH": deps, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5, transport=httpx.HTTPTransport(retries=20)) as client:
            page = _get_when_up(client, "/")
            assert "Hello from the wheel" in page.text
            where = subprocess.run(
                [str(python), "-c", "import fastapi_live, sys; print(fastapi_live.__file__)"],
                cwd=tmp_path, env={"PYTHONPATH": deps}, capture_output=True, text=True, check=True,
            ).stdout
            assert str(env_dir) in where
            for asset in ("fastapi-live.js", "vendor/htmx.min.js", "vendor/hx-sse.min.js"):
                response = client.get(f"/_live/static/{asset}")
                assert response.status_code == 200, asset
                assert len(response.content) > 1000
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get_when_up(client: httpx.Client, path: str) -> httpx.Response:
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            return client.get(path)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # why: polling for the server process to listen
