"""The upload benchmark's two servers: fastapi-live's chunked upload, and a plain FastAPI ``UploadFile`` endpoint.

Both end with the whole file in a temporary file on disk: fastapi-live writes each chunk as it
arrives; Starlette's multipart parser (python-multipart) spools the part to a temporary file.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from fastapi import FastAPI, UploadFile
from fastapi.templating import Jinja2Templates
from starlette.responses import JSONResponse, PlainTextResponse, Response

from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.uploads import UploadEntry, consume_uploaded_entries

from . import TEMPLATES

MAX_SIZE = 200_000_000


class UploadPage(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(stored=0)
        socket.allow_upload("file", accept="*", max_file_size=MAX_SIZE)

    @event("consume")
    async def consume(self, socket: LiveSocket) -> None:
        def size(meta: dict[str, Any], entry: UploadEntry) -> int:
            return os.path.getsize(meta["path"])

        sizes = await consume_uploaded_entries(socket, "file", size)
        socket.assign(stored=sum(sizes))


def _bench_routes(app: FastAPI) -> None:
    @app.get("/bench/ping")
    async def ping() -> Response:
        return PlainTextResponse("ok")

    @app.get("/bench/stats")
    async def stats() -> Response:
        return JSONResponse({"pid": os.getpid(), "temp_files": len([n for n in os.listdir(tempfile.gettempdir()) if n.startswith("fastapi-live-upload-")])})


def create_live_app() -> FastAPI:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="bench-secret", pubsub=MemoryPubSub())
    live.page("/upload", template="upload.html")(UploadPage)
    app = FastAPI()
    app.include_router(live)
    _bench_routes(app)
    return app


def create_plain_app() -> FastAPI:
    app = FastAPI()

    @app.post("/plain")
    async def plain(file: UploadFile) -> dict[str, Any]:
        return {"size": file.size}

    _bench_routes(app)
    return app
