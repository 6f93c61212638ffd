"""``/uploads``: photos chosen or dropped, validated in the browser and on the server, sent in
chunks with progress, stored on "Upload" and listed with their sizes.

The stored files go to a media directory (``EXAMPLE_MEDIA_DIR``, by default one in the
system's temporary directory) and are served back at ``/media/<name>`` for thumbnails.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, JSONResponse, Response

from fastapi_live import LiveSocket, LiveView, event
from fastapi_live.uploads import UploadEntry, consume_uploaded_entries

from .auth import User, current_user

MEDIA = Path(os.environ.get("EXAMPLE_MEDIA_DIR") or Path(tempfile.gettempdir()) / "fastapi-live-example-media")
ACCEPT = [".png", ".jpg", ".jpeg", ".gif"]
MAX_ENTRIES = 3
MAX_FILE_SIZE = 2_000_000
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|jpeg|gif)$")
media = APIRouter()


def human_size(size: int) -> str:
    """``1.4 MB``, ``12.3 KB``, ``512 B``: sizes as people read them (decimal units, as file choosers show them)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


class Uploads(LiveView):
    async def mount(self, socket: LiveSocket, user: User | None = Depends(current_user)) -> None:
        socket.assign(page_title="Uploads", current_user=user.name if user else None, stored=[])
        socket.allow_upload("photos", accept=ACCEPT, max_entries=MAX_ENTRIES, max_file_size=MAX_FILE_SIZE)

    @event("validate")
    async def validate(self, socket: LiveSocket) -> None:
        # The entries and their errors are already in uploads.photos; nothing else to check.
        pass

    @event("cancel")
    async def cancel(self, socket: LiveSocket, ref: str) -> None:
        socket.cancel_upload("photos", ref)

    @event("save")
    async def save(self, socket: LiveSocket) -> None:
        MEDIA.mkdir(parents=True, exist_ok=True)

        def store(meta: dict[str, Any], entry: UploadEntry) -> dict[str, str]:
            extension = os.path.splitext(entry.client_name)[1].lower()
            stored = f"{uuid.uuid4().hex}{extension}"
            shutil.copyfile(meta["path"], MEDIA / stored)
            return {"name": entry.client_name, "size": human_size(entry.client_size), "url": f"/media/{stored}"}

        stored = await consume_uploaded_entries(socket, "photos", store)
        socket.update("stored", lambda old: [*stored, *old])


@media.get("/media/{name}", response_model=None)
async def media_file(name: str) -> Response:
    path = MEDIA / name
    if not _STORED_NAME.match(name) or not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
