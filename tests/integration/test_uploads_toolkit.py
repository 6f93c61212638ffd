"""The testing toolkit's upload verbs: file_input, preflight_upload and render_upload, async and sync."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fastapi_live.testing import LiveTestError, element, file_input, live, preflight_upload, render_click, render_submit, render_upload
from fastapi_live.testing import sync as sync_testing
from tests.support.views.uploads import make_app

PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 10_000


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    upload_dir, store_dir = tmp_path / "tmp", tmp_path / "store"
    upload_dir.mkdir()
    store_dir.mkdir()
    return upload_dir, store_dir


@pytest.fixture
def live_app(dirs):
    app, _ = make_app(*dirs, chunk_size=4096)
    return app


async def test_render_upload_sends_the_file_in_chunks_and_renders_its_progress(live_client, dirs):
    upload_dir, store_dir = dirs
    view, _ = await live(live_client, "/photos")
    upload = file_input(view, "#upload-form", "photos", [{"name": "cat.png", "content": PNG, "type": "image/png"}])
    html = await render_upload(upload, "cat.png", 50)
    assert element(view, ".entry progress").attributes["value"] == "81"  # two chunks of 4096 of 10,008 bytes
    assert len(os.listdir(upload_dir)) == 1
    html = await render_upload(upload, "cat.png")
    assert 'value="100"' in html and '<span class="done">done</span>' in html
    html = await render_submit(view, "#upload-form")
    assert '<li class="uploaded">cat.png (10008)</li>' in html
    assert (store_dir / "cat.png").read_bytes() == PNG
    assert os.listdir(upload_dir) == []


async def test_preflight_upload_shows_the_servers_errors_and_render_upload_names_them(live_client):
    view, _ = await live(live_client, "/photos")
    upload = file_input(
        view,
        "#upload-form",
        "photos",
        [{"name": "big.png", "content": b"x", "size": 3_000_000}, {"name": "notes.txt", "content": "hello"}],
    )
    html = await preflight_upload(upload)
    assert "Too large" in html and "Not accepted" in html
    with pytest.raises(LiveTestError, match=r"the server refused 'big.png' for the upload 'photos': Too large"):
        await render_upload(upload, "big.png")
    html = await render_click(element(view, "#entry-" + upload.file("big.png").ref + " .cancel"))
    assert "big.png" not in html


async def test_a_lying_file_is_refused_with_the_servers_reason(live_client):
    view, _ = await live(live_client, "/photos")
    upload = file_input(view, "#upload-form", "photos", [{"name": "fake.png", "content": b"#!/bin/sh\n" * 100}])
    with pytest.raises(LiveTestError, match=r"refused a chunk of 'fake.png' at offset 0 with 415"):
        await render_upload(upload, "fake.png")
    assert "Not accepted" in element(view, "#entries").text()


async def test_file_input_needs_the_uploads_input_in_the_form(live_client):
    view, _ = await live(live_client, "/photos")
    with pytest.raises(LiveTestError, match=r"has no file input for the upload 'avatar'"):
        file_input(view, "#upload-form", "avatar", [{"name": "a.png", "content": PNG}])
    with pytest.raises(LiveTestError, match=r"matched 0 elements"):
        file_input(view, "#nope", "photos", [{"name": "a.png", "content": PNG}])


def test_the_sync_verbs_upload_too(dirs):
    _, store_dir = dirs
    app, _ = make_app(*dirs, chunk_size=4096)
    with sync_testing.SyncLiveTestClient(app) as client:
        view, _ = sync_testing.live(client, "/photos")
        upload = sync_testing.file_input(view, "#upload-form", "photos", [{"name": "dog.png", "content": PNG}])
        assert "dog.png" in sync_testing.preflight_upload(upload)
        assert 'value="100"' in sync_testing.render_upload(upload, "dog.png")
        assert '<li class="uploaded">dog.png (10008)</li>' in sync_testing.render_submit(view, "#upload-form")
    assert (store_dir / "dog.png").exists()
