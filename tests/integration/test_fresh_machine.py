"""A fresh machine needs only the README's commands: a clean copy of the repository installs
with ``make install-test``, ``make run`` serves the example app on embedded defaults,
``scripts/ensure-test-deps`` says what the tests need, and CI turns any skip into a failure.

The suite itself is not rerun in the copy: ``.ci/run`` on a fresh clone does that.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.real_parts import REQUIRE_REAL_PARTS
from tests.support.servers import free_port
from tests.support.waits import eventually

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-test-deps"
# The outer make's and virtualenv's settings must not leak into the copy's make.
LEAKS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "PYTHONPATH", "REDIS_URL", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")


def clean_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in LEAKS}
    return {**env, **extra}


def copy_of_the_repository(destination: Path) -> Path:
    """The tracked files as they are in this checkout (so a file never added fails here, as
    it would in a fresh clone), committed in a repository of their own."""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in this checkout is gone from the copy
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git = ["git", "-C", str(destination), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)
    return destination


@pytest.fixture
def fresh_copy(tmp_path: Path):
    copy = copy_of_the_repository(tmp_path / "repo")
    yield copy
    shutil.rmtree(copy / ".venv", ignore_errors=True)  # a few hundred MB


@pytest.mark.install
@pytest.mark.timeout(180)
async def test_a_clean_copy_installs_serves_the_example_and_reports_ready(fresh_copy: Path) -> None:
    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "-C", str(fresh_copy), *args], env=clean_env(), capture_output=True, text=True)

    installed = make("install-test")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    python = fresh_copy / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import fastapi_live, examples.app.main; print(fastapi_live.__file__)"],
        cwd=fresh_copy, env=clean_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(fresh_copy)), where.stdout  # the copy's editable install, not this checkout

    deps = subprocess.run(["bash", "scripts/ensure-test-deps", "--check"], cwd=fresh_copy, env=clean_env(), capture_output=True, text=True)
    assert deps.returncode == 0, deps.stderr
    assert deps.stdout.startswith("test deps: ready")

    port = free_port()
    log = fresh_copy.parent / "make-run.log"
    with log.open("wb") as output:
        # Its own process group, so stopping it stops make and the uvicorn it runs.
        server = subprocess.Popen(
            ["make", "-C", str(fresh_copy), "run", f"PORT={port}"],
            env=clean_env(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def answers() -> bool:
                assert server.poll() is None, f"make run exited with {server.returncode}:\n{log.read_text()}"
                try:
                    await client.get("/counter")
                except httpx.TransportError:
                    return False
                return True

            await eventually(answers, timeout=30)
            login = await client.get("/login?user=alice")
            assert login.status_code == 303 and login.headers["location"] == "/dashboard/acme"
            dashboard = await client.get("/dashboard/acme")
            assert "Loading organization..." in dashboard.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)

    # Installing and serving generated nothing git would pick up.
    status = subprocess.run(["git", "-C", str(fresh_copy), "status", "--porcelain"], capture_output=True, text=True, check=True)
    assert status.stdout == ""


def test_without_root_missing_parts_stop_at_once_with_the_command_to_run(tmp_path: Path) -> None:
    # A PATH with no redis-server (apt-get stays on it: what stops the script is not being
    # root), a CHROMIUM_PATH with nothing there, and the script run as nobody.
    bin_dir = Path(tempfile.mkdtemp(prefix="fastapi-live-bin-"))
    try:
        tools = {tool: shutil.which(tool) for tool in ("id", "apt-get", "setpriv", "bash")}
        assert None not in tools.values(), f"this test needs {tools}"
        for tool in ("id", "apt-get"):
            (bin_dir / tool).symlink_to(str(tools[tool]))
        bin_dir.chmod(0o755)
        as_nobody = [str(tools["setpriv"]), "--reuid=65534", "--regid=65534", "--clear-groups", str(tools["bash"]), "-s"]
        result = subprocess.run(
            as_nobody, input=SCRIPT.read_text(), env={"PATH": str(bin_dir), "CHROMIUM_PATH": str(tmp_path / "no-chromium")},
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    finally:
        shutil.rmtree(bin_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "sudo apt-get update && sudo apt-get install -y chromium redis-server\n" in result.stderr
    assert "installing" not in result.stderr


SKIPS = textwrap.dedent(
    """
    import pytest

    def test_needs_chromium():
        pytest.skip("no Chromium here")

    @pytest.mark.xfail(reason="a known bug", strict=True)
    def test_known_bug():
        assert False
    """
)


@pytest.fixture
def skips(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        """
        [pytest]
        asyncio_default_fixture_loop_scope = function
        """
    )
    pytester.makepyfile(test_skips=SKIPS)
    return pytester


def test_a_skip_fails_when_real_parts_are_required(skips: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_REAL_PARTS, "1")
    result = skips.runpytest("-p", "tests.support.real_parts")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines([f"*skipped, but {REQUIRE_REAL_PARTS}=1 makes a skip a failure: Skipped: no Chromium here*"])


def test_a_skip_stays_a_skip_when_real_parts_are_not_required(skips: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_REAL_PARTS, raising=False)
    result = skips.runpytest("-p", "tests.support.real_parts")
    result.assert_outcomes(skipped=1, xfailed=1)
