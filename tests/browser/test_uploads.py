"""Uploads in a real Chromium: choose, see errors and progress, cancel, upload, listed; drag and
drop; a stream cut and a refused chunk mid-upload, after which the upload resumes."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from fastapi_live.wire import EVENT_HEADER, UPLOAD_EVENT
from tests.support.outage import OutageSwitch
from tests.support.views.uploads import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def png(size: int) -> bytes:
    body = size - len(PNG_HEAD)
    return PNG_HEAD + bytes(range(256)) * (body // 256) + b"\0" * (body % 256)


def png_file(name: str, size: int = 2048) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/png", "buffer": png(size)}


def slow_uploads(page: Any, bytes_per_second: int) -> None:
    """Chromium's own network throttling: request bodies go out at ``bytes_per_second``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second})


@pytest.fixture
def example_url(serve, tmp_path, monkeypatch):
    monkeypatch.setattr("examples.app.uploads.MEDIA", tmp_path / "media")
    from examples.app.main import app

    return serve(app)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    upload_dir, store_dir = tmp_path / "tmp", tmp_path / "store"
    upload_dir.mkdir()
    store_dir.mkdir()
    return upload_dir, store_dir


class Served:
    def __init__(self, url: str, live: Any, switch: OutageSwitch) -> None:
        self.url, self.live, self.switch = url, live, switch


@pytest.fixture
def photos(serve, dirs):
    app, live = make_app(*dirs, chunk_size=16_384)
    switch = OutageSwitch(app, live)
    return Served(serve(switch), live, switch)


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)


def test_chosen_files_show_their_errors_then_upload_and_are_listed(page, example_url):
    open_page(page, example_url + "/uploads")
    page.set_input_files(
        "input[type=file]",
        files=[png_file("sunset.png", 1500), {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"}, png_file("huge.png", 2_100_000)],
    )
    entries = page.locator(".entry")
    expect(entries).to_have_count(3)
    expect(entries.nth(0).locator("progress")).to_have_attribute("value", "0")
    expect(entries.nth(1)).to_contain_text("Not accepted")
    expect(entries.nth(2)).to_contain_text("Too large")
    page.set_input_files("input[type=file]", files=[png_file("ocean.png")])
    expect(entries.nth(3)).to_contain_text("Too many files")
    expect(page.locator(".upload-error")).to_have_text("Too many files")
    for name in ("notes.txt", "huge.png", "ocean.png"):
        page.get_by_role("button", name=f"Cancel {name}").click()
    expect(entries).to_have_count(1)
    expect(page.locator(".upload-error")).to_have_count(0)
    page.set_input_files("input[type=file]", files=[png_file("forest.png", 2500)])
    expect(entries).to_have_count(2)
    page.click("#upload-button")
    expect(page.locator("li.uploaded")).to_have_text(["sunset.png (1.5 KB)", "forest.png (2.5 KB)"])
    expect(entries).to_have_count(0)


def test_a_dropped_file_is_chosen_like_a_picked_one(page, example_url):
    open_page(page, example_url + "/uploads")
    page.evaluate(
        """() => {
            const zone = document.querySelector("[data-live-drop-target]");
            const data = new DataTransfer();
            const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);
            data.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
            zone.dispatchEvent(new DragEvent("dragover", {bubbles: true, cancelable: true, dataTransfer: data}));
            window.__activeWhileDragging = zone.classList.contains("live-drop-active");
            zone.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: data}));
        }"""
    )
    assert page.evaluate("window.__activeWhileDragging") is True
    expect(page.locator(".entry")).to_have_count(1)
    expect(page.locator(".entry-name")).to_have_text("dropped.png")
    expect(page.locator("[data-live-drop-target]")).not_to_have_class(re.compile("live-drop-active"))
    page.click("#upload-button")
    expect(page.locator("li.uploaded")).to_have_text(["dropped.png (16 B)"])


def test_progress_shows_while_bytes_arrive_and_cancel_stops_the_transfer(page, photos, dirs):
    upload_dir, store_dir = dirs
    open_page(page, photos.url + "/photos")
    slow_uploads(page, 60_000)
    page.set_input_files("input[type=file]", files=[png_file("slow.png", 200_000), png_file("quick.png", 3000)])
    expect(page.locator(".entry")).to_have_count(2)
    page.click("#upload")
    slow = page.locator(".entry", has_text="slow.png")
    expect(slow.locator("progress")).to_have_attribute("value", re.compile(r"^([1-9]|[1-9][0-9])$"))
    assert len(os.listdir(upload_dir)) >= 1
    slow.get_by_role("button", name="Cancel").click()
    expect(page.locator(".entry", has_text="slow.png")).to_have_count(0)
    # The submit waited for the transfers: once the cancelled one stopped, the rest were stored.
    expect(page.locator("li.uploaded")).to_have_text(["quick.png (3000)"])
    assert os.listdir(upload_dir) == []
    assert sorted(os.listdir(store_dir)) == ["quick.png"]


def test_upload_clicked_before_the_preflight_answers_waits_for_it_then_uploads(page, photos, dirs):
    _, store_dir = dirs
    open_page(page, photos.url + "/photos")
    held: list[Any] = []

    def is_preflight(request: Any) -> bool:
        return bool(request.headers.get(EVENT_HEADER) == UPLOAD_EVENT)

    def hold_preflight(route: Any) -> None:
        if is_preflight(route.request):
            held.append(route)  # answered only once Upload was clicked
        else:
            route.continue_()

    page.route("**/_live/event", hold_preflight)
    with page.expect_request(is_preflight):
        page.set_input_files("input[type=file]", files=[png_file("quick-click.png", 3000)])
    page.click("#upload")
    expect(page.locator("#upload-form")).to_have_class(re.compile(r"\blive-uploading\b"))
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("li.uploaded")).to_have_text(["quick-click.png (3000)"])
    assert os.listdir(store_dir) == ["quick-click.png"]


def test_an_upload_resumes_after_its_stream_is_cut_and_a_chunk_is_refused_mid_way(page, photos, dirs):
    upload_dir, store_dir = dirs
    refused: list[str] = []

    def refuse_once(route: Any) -> None:
        if not refused and route.request.headers.get("x-live-upload-offset") not in (None, "0"):
            refused.append(route.request.headers["x-live-upload-offset"])
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    open_page(page, photos.url + "/photos")
    page.route("**/_live/upload", refuse_once)
    slow_uploads(page, 80_000)
    page.set_input_files("input[type=file]", files=[png_file("big.png", 160_000)])
    page.click("#upload")
    progress = page.locator(".entry progress")
    expect(progress).to_have_attribute("value", re.compile(r"^([1-9]|[1-9][0-9])$"))
    photos.switch.cut()  # the stream drops mid-upload; htmx reconnects with Last-Event-ID
    expect(page.locator("li.uploaded")).to_have_text(["big.png (160000)"], timeout=15_000)
    assert refused, "a chunk was refused once on the way"
    assert (store_dir / "big.png").read_bytes() == png(160_000)
    assert os.listdir(upload_dir) == []


def test_an_upload_whose_session_is_gone_fails_cleanly(page, photos, dirs):
    upload_dir, _ = dirs
    open_page(page, photos.url + "/photos")
    slow_uploads(page, 40_000)
    page.set_input_files("input[type=file]", files=[png_file("lost.png", 120_000)])
    page.evaluate("document.addEventListener('live:upload-error', (e) => { window.__uploadError = e.detail.status; })")
    page.click("#upload")
    # Mid-upload (the 120 KB take 3 s at this rate): a loaded machine may start it late.
    expect(page.locator(".entry progress")).to_have_attribute("value", re.compile(r"^([1-9]|[1-9][0-9])$"), timeout=15_000)

    async def end_sessions() -> None:
        for session in list(photos.live.manager.sessions.values()):
            await session.close()

    assert photos.switch.loop is not None
    asyncio.run_coroutine_threadsafe(end_sessions(), photos.switch.loop).result(5)
    page.wait_for_function("window.__uploadError === 410")
    # The stream remounts the page with a fresh session: no entry, nothing stored, no temp file.
    expect(page.locator(".entry")).to_have_count(0)
    expect(page.locator("li.uploaded")).to_have_count(0)
    assert os.listdir(upload_dir) == []


def test_an_external_upload_goes_straight_to_the_stand_in_bucket_with_progress(page, serve, dirs):
    from tests.support.s3 import StandInS3, presign

    bucket = StandInS3()
    bucket_url = serve(bucket.app)

    def external(entry: Any, socket: Any) -> dict[str, Any]:
        return {**presign(bucket_url, f"photos/{entry.uuid}/{entry.client_name}", 2_000_000), "key": f"photos/{entry.uuid}/{entry.client_name}"}

    app, _ = make_app(*dirs, external=external)
    url = serve(app)
    open_page(page, url + "/photos")
    slow_uploads(page, 60_000)
    page.set_input_files("input[type=file]", files=[png_file("away.png", 150_000)])
    page.click("#upload")
    expect(page.locator(".entry progress")).to_have_attribute("value", re.compile(r"^([1-9]|[1-9][0-9])$"))
    expect(page.locator("li.uploaded")).to_have_text(["away.png (150000)"], timeout=15_000)
    [(key, data)] = bucket.objects.items()
    assert key.startswith("photos/") and key.endswith("/away.png")
    assert data == png(150_000)
    assert bucket.refused == []
    upload_dir, store_dir = dirs
    assert os.listdir(upload_dir) == [] and os.listdir(store_dir) == []  # no byte went through the app


def test_auto_upload_sends_files_as_soon_as_they_are_chosen(page, serve, dirs):
    upload_dir, store_dir = dirs
    app, _ = make_app(*dirs, auto_upload=True)
    open_page(page, serve(app) + "/photos")
    page.set_input_files("input[type=file]", files=[png_file("auto.png", 9000)])
    expect(page.locator(".entry .done")).to_have_text("done")  # no click: the transfer started on its own
    expect(page.locator(".entry progress")).to_have_attribute("value", "100")
    assert len(os.listdir(upload_dir)) == 1
    page.click("#upload")
    expect(page.locator("li.uploaded")).to_have_text(["auto.png (9000)"])
    assert os.listdir(upload_dir) == [] and os.listdir(store_dir) == ["auto.png"]
