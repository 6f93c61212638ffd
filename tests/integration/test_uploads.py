"""Uploads over real HTTP: the preflight, the chunk protocol, limits the server enforces when the
client lies, token misuse, bad chunks and temporary-file cleanup."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from fastapi_live import SessionConfig
from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.uploads import make_app
from tests.support.waits import eventually

CHUNK = 4096
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10,248 bytes: three chunks
JPEG = b"\xff\xd8\xff\xe0" + b"j" * 5000


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    upload_dir, store_dir = tmp_path / "tmp", tmp_path / "store"
    upload_dir.mkdir()
    store_dir.mkdir()
    return upload_dir, store_dir


@pytest.fixture
def photos(serve, dirs):
    app, live = make_app(*dirs, chunk_size=CHUNK)
    return serve(app), live


def page_html(live: Any) -> str:
    """The live container as the page shows it once every frame sent so far is applied."""
    session = next(iter(live.manager.sessions.values()))
    return session.patcher.resync(session.socket)


def temp_files(upload_dir: Path) -> list[str]:
    return sorted(os.listdir(upload_dir))


def entry(ref: str, name: str, size: int, type_: str = "image/png") -> dict[str, Any]:
    return {"ref": ref, "name": name, "size": size, "type": type_, "last_modified": 1}


async def preflight(client: httpx.AsyncClient, token: str, entries: list[dict[str, Any]]) -> tuple[httpx.Response, dict[str, Any]]:
    response = await client.post(
        "/_live/event",
        content=json.dumps({"upload": "photos", "entries": entries}),
        headers={**headers(token, "live:upload"), "Content-Type": "application/json"},
    )
    reply = json.loads(response.headers.get("x-live-reply", "{}"))
    return response, reply.get("entries", {})


async def send_chunk(
    client: httpx.AsyncClient, token: str, upload_token: str, ref: str, offset: int, data: bytes, **extra: str
) -> httpx.Response:
    chunk_headers = {
        "X-Live-Token": token,
        "X-Live-Upload-Token": upload_token,
        "X-Live-Upload-Ref": ref,
        "X-Live-Upload-Offset": str(offset),
        "Content-Type": "application/octet-stream",
        **extra,
    }
    return await client.post("/_live/upload", content=data, headers=chunk_headers)


async def upload_all(client: httpx.AsyncClient, token: str, grant: dict[str, Any], ref: str, data: bytes) -> httpx.Response:
    offset = 0
    while True:
        response = await send_chunk(client, token, grant["token"], ref, offset, data[offset : offset + grant["chunk_size"]])
        assert response.status_code == 200, response.text
        offset = response.json()["offset"]
        if response.json()["done"]:
            return response


async def test_chunks_land_in_a_temp_file_and_consume_stores_them_then_removes_it(photos, dirs):
    url, live = photos
    upload_dir, store_dir = dirs
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        response, grants = await preflight(client, token, [entry("a1", "cat.png", len(PNG)), entry("a2", "dog.jpg", len(JPEG), "image/jpeg")])
        assert response.status_code == 200
        assert set(grants) == {"a1", "a2"} and grants["a1"]["chunk_size"] == CHUNK
        assert "cat.png" in response.text and "dog.jpg" in response.text  # the entries are rendered at once
        first = await send_chunk(client, token, grants["a1"]["token"], "a1", 0, PNG[:CHUNK])
        assert first.json() == {"offset": CHUNK, "done": False}
        assert len(temp_files(upload_dir)) == 1
        session = next(iter(live.manager.sessions.values()))
        assert session.socket.assigns.uploads.photos.get("a1").progress == 39  # 4096 of 10,248 bytes
        done = await upload_all(client, token, grants["a1"], "a1", PNG)
        assert done.json() == {"offset": len(PNG), "done": True}
        await upload_all(client, token, grants["a2"], "a2", JPEG)
        assert len(temp_files(upload_dir)) == 2
        saved = await client.post("/_live/event", headers=headers(token, "save"))
        assert '<li class="uploaded">cat.png (10248)</li>' in saved.text
        assert '<li class="uploaded">dog.jpg (5004)</li>' in saved.text
        assert (store_dir / "cat.png").read_bytes() == PNG
        assert (store_dir / "dog.jpg").read_bytes() == JPEG
        assert temp_files(upload_dir) == []
        assert session.socket.assigns.uploads.photos.entries == []


async def test_progress_reaches_the_page_over_the_stream_and_runs_the_progress_callback(photos):
    url, live = photos
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("p1", "cat.png", len(PNG))])
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            reader = SSEReader(stream)
            await reader.next()
            await send_chunk(client, token, grants["p1"]["token"], "p1", 0, PNG[:CHUNK])
            assert 'value="39"' in (await reader.next_with("<progress")).data
            await upload_all(client, token, grants["p1"], "p1", PNG)
            final = await reader.next_with('value="100"')
            assert '<span class="done">done</span>' in final.data
        session = next(iter(live.manager.sessions.values()))
        assert session.socket.assigns.progress_calls >= 2


async def test_the_browser_limits_are_the_servers_too_type_size_and_count(photos, dirs):
    url, _ = photos
    upload_dir, _ = dirs
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        response, grants = await preflight(
            client,
            token,
            [
                entry("b1", "big.png", 2_000_001),
                entry("b2", "notes.txt", 10, "text/plain"),
                entry("b3", "ok.gif", 10, "image/gif"),
                entry("b4", "two.png", 10),
                entry("b5", "three.png", 10),
            ],
        )
        assert grants["b1"] == {"errors": ["Too large"]}
        assert grants["b2"] == {"errors": ["Not accepted"]}
        assert "token" in grants["b3"]
        # Every chosen file takes one of the three places, as in LiveView: the fourth and fifth are too many.
        assert grants["b4"] == grants["b5"] == {"errors": ["Too many files"]}
        assert response.text.count('class="error"') == 4
        assert '<p class="upload-error">Too many files</p>' in response.text
        # Cancelling frees a place for the next file chosen; the refused ones stay listed until cancelled.
        for ref in ("b1", "b4", "b5"):
            await client.post("/_live/event", data={"ref": ref}, headers=headers(token, "cancel"))
        response, grants = await preflight(client, token, [entry("b6", "four.png", 10)])
        assert "token" in grants["b6"]
        assert "Too many files" not in response.text
        assert temp_files(upload_dir) == []


async def test_a_file_bigger_than_declared_is_refused_and_the_entry_fails(photos, dirs):
    url, live = photos
    upload_dir, _ = dirs
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("c1", "small.png", 100)])
        response = await send_chunk(client, token, grants["c1"]["token"], "c1", 0, PNG[:CHUNK])
        assert response.status_code == 413
        assert "chunk past the limit" in response.json()["detail"]
        await eventually(lambda: "Too large" in page_html(live))
        assert temp_files(upload_dir) == []
        # Declared small, sent without a length: refused as the bytes pass the limit.
        _, grants = await preflight(client, token, [entry("c2", "small.png", 100)])

        async def body():
            yield PNG[:64]
            yield PNG[64:CHUNK]

        response = await send_chunk(client, token, grants["c2"]["token"], "c2", 0, body())  # type: ignore[arg-type]
        assert response.status_code == 413
        session = next(iter(live.manager.sessions.values()))
        assert session.socket.assigns.uploads.photos.get("c2").errors == ["Too large"]
        assert temp_files(upload_dir) == []


async def test_a_wrong_type_with_a_forged_name_is_not_accepted(photos, dirs):
    url, live = photos
    upload_dir, _ = dirs
    script = b"#!/bin/sh\nrm -rf /\n" * 10
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("d1", "cute.png", len(script)), entry("d2", "cute.jpg", len(PNG), "image/jpeg")])
        response = await send_chunk(client, token, grants["d1"]["token"], "d1", 0, script)
        assert response.status_code == 415
        assert "not what its name says" in response.json()["detail"]
        # A PNG named .jpg is still an accepted image: its content is sniffed, not its name trusted.
        assert (await upload_all(client, token, grants["d2"], "d2", PNG)).json()["done"] is True
        session = next(iter(live.manager.sessions.values()))
        photos_upload = session.socket.assigns.uploads.photos
        assert photos_upload.get("d1").errors == ["Not accepted"]
        assert photos_upload.get("d2").done
        assert len(temp_files(upload_dir)) == 1


async def test_upload_tokens_are_bound_to_their_page_and_entry(photos):
    url, _ = photos
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, other_token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("e1", "a.png", len(PNG)), entry("e2", "b.png", len(PNG))])
        _, other_grants = await preflight(client, other_token, [entry("e1", "a.png", len(PNG))])
        another_page = await send_chunk(client, token, other_grants["e1"]["token"], "e1", 0, PNG[:CHUNK])
        assert another_page.status_code == 403 and "another page" in another_page.json()["detail"]
        another_entry = await send_chunk(client, token, grants["e1"]["token"], "e2", 0, PNG[:CHUNK])
        assert another_entry.status_code == 403 and "another entry" in another_entry.json()["detail"]
        tampered = await send_chunk(client, token, grants["e1"]["token"][:-2] + "xx", "e1", 0, PNG[:CHUNK])
        assert tampered.status_code == 403 and "bad signature" in tampered.json()["detail"]
        missing = await send_chunk(client, token, "", "e1", 0, PNG[:CHUNK])
        assert missing.status_code == 403
        no_page = await send_chunk(client, "", grants["e1"]["token"], "e1", 0, PNG[:CHUNK])
        assert no_page.status_code == 403
        cross_site = await send_chunk(client, token, grants["e1"]["token"], "e1", 0, PNG[:CHUNK], Origin="http://evil.example")
        assert cross_site.status_code == 403
        # Nothing of that harmed the entries: both still upload.
        assert (await upload_all(client, token, grants["e1"], "e1", PNG)).json()["done"] is True
        assert (await upload_all(client, token, grants["e2"], "e2", PNG)).json()["done"] is True


async def test_bad_chunks_get_a_clear_4xx_fail_their_entry_and_leave_the_session_fine(photos, dirs):
    url, live = photos
    upload_dir, _ = dirs
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("f1", "a.png", len(PNG)), entry("f2", "b.png", len(PNG)), entry("f3", "c.png", len(PNG))])
        truncated = await send_chunk(client, token, grants["f1"]["token"], "f1", 0, PNG[:1000])
        assert truncated.status_code == 400 and "truncated chunk" in truncated.json()["detail"]
        out_of_order = await send_chunk(client, token, grants["f2"]["token"], "f2", CHUNK, PNG[CHUNK : 2 * CHUNK])
        assert out_of_order.status_code == 409 and "out-of-order chunk" in out_of_order.json()["detail"]
        past_limit = await send_chunk(client, token, grants["f3"]["token"], "f3", 0, PNG[: CHUNK + 10])
        assert past_limit.status_code == 413
        again = await send_chunk(client, token, grants["f1"]["token"], "f1", 0, PNG[:CHUNK])
        assert again.status_code == 409 and "has failed" in again.json()["detail"]
        session = next(iter(live.manager.sessions.values()))
        assert [e.failed for e in session.socket.assigns.uploads.photos.entries] == [True, True, True]
        assert temp_files(upload_dir) == []
        html = page_html(live)
        assert html.count("Upload failed") == 3 and "Too large" not in html  # f3 broke the chunk size, not the file's
        # The session and the server go on: the failed entries are cancelled, a new one uploads.
        for ref in ("f1", "f2", "f3"):
            await client.post("/_live/event", data={"ref": ref}, headers=headers(token, "cancel"))
        _, grants = await preflight(client, token, [entry("g1", "new.png", len(PNG))])
        assert (await upload_all(client, token, grants["g1"], "g1", PNG)).json()["done"] is True


async def test_a_chunk_for_a_cancelled_entry_is_410_and_its_temp_file_is_gone(photos, dirs):
    url, _ = photos
    upload_dir, _ = dirs
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("h1", "a.png", len(PNG))])
        await send_chunk(client, token, grants["h1"]["token"], "h1", 0, PNG[:CHUNK])
        assert len(temp_files(upload_dir)) == 1
        html = (await client.post("/_live/event", data={"ref": "h1"}, headers=headers(token, "cancel"))).text
        assert "a.png" not in html
        assert temp_files(upload_dir) == []
        response = await send_chunk(client, token, grants["h1"]["token"], "h1", CHUNK, PNG[CHUNK : 2 * CHUNK])
        assert response.status_code == 410 and "gone" in response.json()["detail"]


async def test_a_resent_chunk_is_answered_again_and_a_chunk_cut_off_mid_body_is_rolled_back_for_a_retry(photos, dirs):
    url, live = photos
    upload_dir, _ = dirs
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("i1", "a.png", len(PNG))])
        upload_token = grants["i1"]["token"]
        await send_chunk(client, token, upload_token, "i1", 0, PNG[:CHUNK])
        resent = await send_chunk(client, token, upload_token, "i1", 0, PNG[:CHUNK])  # its answer was lost
        assert resent.json() == {"offset": CHUNK, "done": False}
        # The connection drops half-way through the second chunk.
        parts = urlsplit(url)
        head = (
            f"POST /_live/upload HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Live-Token: {token}\r\nX-Live-Upload-Token: {upload_token}\r\n"
            f"X-Live-Upload-Ref: i1\r\nX-Live-Upload-Offset: {CHUNK}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {CHUNK}\r\nCookie: fastapi_live_browser={client.cookies['fastapi_live_browser']}\r\n\r\n"
        ).encode()
        _, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(head + PNG[CHUNK : CHUNK + 1000])
        await writer.drain()
        session = next(iter(live.manager.sessions.values()))
        entry_state = session.socket.assigns.uploads.photos.get("i1")
        await eventually(lambda: entry_state._busy)
        writer.transport.abort()
        await eventually(lambda: not entry_state._busy)
        assert entry_state.received == CHUNK and entry_state.valid
        assert os.path.getsize(upload_dir / temp_files(upload_dir)[0]) == CHUNK
        # The retry resumes where the server's bytes end.
        done = await upload_all(client, token, {**grants["i1"]}, "i1", PNG)
        assert done.json()["done"] is True
        saved = await client.post("/_live/event", headers=headers(token, "save"))
        assert '<li class="uploaded">a.png (10248)</li>' in saved.text


async def test_temp_files_go_when_the_session_ends(serve, dirs):
    upload_dir, store_dir = dirs
    app, live = make_app(upload_dir, store_dir, chunk_size=CHUNK, config=SessionConfig(connect_timeout=0.5, upload_progress_interval=0.0))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("j1", "a.png", len(PNG)), entry("j2", "b.png", len(PNG))])
        await send_chunk(client, token, grants["j1"]["token"], "j1", 0, PNG[:CHUNK])
        await upload_all(client, token, grants["j2"], "j2", PNG)
        assert len(temp_files(upload_dir)) == 2
        # No stream ever connects: the session is dropped after connect_timeout, and its files with it.
        await eventually(lambda: not live.manager.sessions)
        assert temp_files(upload_dir) == []
        gone = await send_chunk(client, token, grants["j1"]["token"], "j1", CHUNK, PNG[CHUNK : 2 * CHUNK])
        assert gone.status_code == 410 and "session is gone" in gone.json()["detail"]


async def test_malformed_chunk_headers_and_preflights_are_clear_4xx(photos):
    url, _ = photos
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/photos")
        _, grants = await preflight(client, token, [entry("k1", "a.png", len(PNG))])
        bad_offset = await send_chunk(client, token, grants["k1"]["token"], "k1", 0, PNG[:CHUNK], **{"X-Live-Upload-Offset": "-1"})
        assert bad_offset.status_code == 400 and "X-Live-Upload-Offset" in bad_offset.json()["detail"]
        response, _ = await preflight(client, token, [{"ref": "bad ref!", "name": "a.png", "size": 1, "type": ""}])
        assert response.status_code == 400 and "ref must be" in response.json()["detail"]
        response, _ = await preflight(client, token, [{"ref": "k2", "name": "a.png", "size": "big", "type": ""}])
        assert response.status_code == 400
        response, _ = await preflight(client, token, [entry("k1", "a.png", 10)])
        assert response.status_code == 409 and "already has an entry" in response.json()["detail"]
        unknown = await client.post(
            "/_live/event", content=json.dumps({"upload": "nope", "entries": []}), headers={**headers(token, "live:upload"), "Content-Type": "application/json"}
        )
        assert unknown.status_code == 404 and "no upload named 'nope'" in unknown.json()["detail"]
        assert (await upload_all(client, token, grants["k1"], "k1", PNG)).json()["done"] is True

