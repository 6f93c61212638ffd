"""User-facing typing: a small user module type-checks under ``mypy --strict``."""

from __future__ import annotations

from pathlib import Path

from mypy import api

USER_APP = Path(__file__).parent / "support" / "typing" / "user_app.py"


def test_a_user_module_type_checks_under_mypy_strict():
    out, err, status = api.run(["--strict", "--no-incremental", "--cache-dir", "/dev/null", "--python-version", "3.11", str(USER_APP)])
    assert status == 0, out + err


def test_chaining_keeps_the_socket_type(tmp_path):
    """``assign(...)`` returns the socket itself, so a chain still offers every socket method."""
    module = tmp_path / "chain.py"
    module.write_text(
        "from fastapi_live import LiveSocket\n"
        "def chain(socket: LiveSocket) -> None:\n"
        "    reveal_type(socket.assign(count=0))\n"
        "    socket.assign(count=0).stream('posts', []).assign_async('org', len, 'x').attach_hook('h', 'handle_info', print)\n"
    )
    out, err, _ = api.run(["--strict", "--no-incremental", "--cache-dir", "/dev/null", str(module)])
    assert 'Revealed type is "fastapi_live.view.LiveSocket"' in out, out + err
    assert "error" not in out.replace('Revealed type is "fastapi_live.view.LiveSocket"', ""), out + err
