"""A stand-in for S3's presigned POST, for the tests' own use: it checks the policy's signature and
keeps what was posted, as S3 would (no AWS code, no network beyond the loopback)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse, Response

SECRET = b"stand-in-secret-key"


def presign(url: str, key: str, max_size: int) -> dict[str, Any]:
    """What an app's ``external=`` returns for S3: the bucket URL and the POST's fields (boto3's
    ``generate_presigned_post`` gives this shape)."""
    policy = base64.b64encode(
        json.dumps({"expiration": time.time() + 600, "conditions": [{"key": key}, ["content-length-range", 0, max_size]]}).encode()
    ).decode()
    signature = hmac.new(SECRET, policy.encode(), hashlib.sha256).hexdigest()
    return {"uploader": "S3", "url": url, "fields": {"key": key, "policy": policy, "x-amz-signature": signature}}


class StandInS3:
    """The bucket: ``objects`` maps keys to the bytes posted."""

    def __init__(self, allow_origin: str = "*") -> None:
        self.objects: dict[str, bytes] = {}
        self.refused: list[str] = []
        self.app = FastAPI()
        self.app.add_middleware(CORSMiddleware, allow_origins=[allow_origin], allow_methods=["POST"], allow_headers=["*"])
        self.app.add_api_route("/", self._post, methods=["POST"])

    async def _post(self, request: Request) -> Response:
        async with request.form() as form:
            return await self._store(form)

    async def _store(self, form: Any) -> Response:
        policy, signature, key, upload = form.get("policy"), form.get("x-amz-signature"), form.get("key"), form.get("file")
        expected = hmac.new(SECRET, str(policy).encode(), hashlib.sha256).hexdigest()
        if not isinstance(policy, str) or not hmac.compare_digest(expected, str(signature)):
            self.refused.append("signature")
            return PlainTextResponse("SignatureDoesNotMatch", status_code=403)
        conditions = json.loads(base64.b64decode(policy))["conditions"]
        if {"key": key} not in conditions or isinstance(upload, str) or upload is None:
            self.refused.append("policy")
            return PlainTextResponse("AccessDenied", status_code=403)
        data = await upload.read()
        low, high = next(c[1:] for c in conditions if isinstance(c, list) and c[0] == "content-length-range")
        if not low <= len(data) <= high:
            self.refused.append("size")
            return PlainTextResponse("EntityTooLarge", status_code=400)
        self.objects[str(key)] = data
        return Response(status_code=204)
