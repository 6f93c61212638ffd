"""A photo upload page: allow_upload with limits, progress, cancel and consume into a store directory."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, SessionConfig, event
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.uploads import UploadEntry, consume_uploaded_entries

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_app(
    upload_dir: Path,
    store_dir: Path,
    *,
    chunk_size: int = 4096,
    auto_upload: bool = False,
    external: Callable[..., Any] | None = None,
    config: SessionConfig | None = None,
) -> tuple[FastAPI, LiveRouter]:
    class Photos(LiveView):
        async def mount(self, socket: LiveSocket) -> None:
            socket.assign(stored=[], progress_calls=0)
            socket.allow_upload(
                "photos",
                accept=[".png", ".jpg", ".jpeg", ".gif"],
                max_entries=3,
                max_file_size=2_000_000,
                chunk_size=chunk_size,
                auto_upload=auto_upload,
                external=external,
                progress=self.on_progress,
            )

        async def on_progress(self, name: str, entry: UploadEntry, socket: LiveSocket) -> None:
            socket.update("progress_calls", lambda n: n + 1)

        @event("validate")
        async def validate(self, socket: LiveSocket) -> None:
            pass

        @event("cancel")
        async def cancel(self, socket: LiveSocket, ref: str) -> None:
            socket.cancel_upload("photos", ref)

        @event("save")
        async def save(self, socket: LiveSocket) -> None:
            def store(meta: dict[str, Any], entry: UploadEntry) -> tuple[str, int]:
                if "path" in meta:
                    shutil.copy(meta["path"], store_dir / entry.client_name)
                return entry.client_name, entry.client_size

            stored = await consume_uploaded_entries(socket, "photos", store)
            socket.update("stored", lambda old: [*old, *stored])

    config = config or SessionConfig(upload_dir=str(upload_dir), upload_progress_interval=0.0)
    if config.upload_dir is None:
        config.upload_dir = str(upload_dir)
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub(), config=config)
    live.page("/photos", template="uploads.html")(Photos)
    app = FastAPI()
    app.include_router(live)
    return app, live
