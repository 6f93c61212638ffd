"""uploads.py on its own: options checked at allow_upload, type checks by name and by content, entry tokens."""

from __future__ import annotations

import pytest

from fastapi_live import ConfigurationError, LiveError, LiveSocket
from fastapi_live.uploads import UploadEntry, UploadRefused, UploadSigner, UploadToken, sniff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def socket() -> LiveSocket:
    return LiveSocket(view_name="Photos")


def test_allow_upload_checks_its_options_naming_the_view():
    with pytest.raises(ConfigurationError, match=r"Photos: allow_upload\('photos'\): accept= takes extensions \('.png'\), MIME types"):
        socket().allow_upload("photos", accept=["png"])
    with pytest.raises(ConfigurationError, match=r"accept= needs extensions or MIME types"):
        socket().allow_upload("photos", accept=[])
    with pytest.raises(ConfigurationError, match=r"max_entries must be a whole number of at least 1\nGot: 0"):
        socket().allow_upload("photos", accept="*", max_entries=0)
    with pytest.raises(ConfigurationError, match=r"chunk_size must be a whole number of at least 1024"):
        socket().allow_upload("photos", accept="*", chunk_size=10)
    with pytest.raises(ConfigurationError, match=r"needs a name of letters, digits and '_'"):
        socket().allow_upload("my photos", accept="*")


def test_the_upload_is_in_assigns_and_unknown_names_are_errors():
    s = socket()
    config = s.allow_upload("photos", accept=[".PNG", "image/gif"], max_entries=3)
    assert s.assigns.uploads.photos is config and config.accept == (".png", "image/gif")
    assert "uploads" in s.changed
    with pytest.raises(LiveError, match=r"cancel_upload\('avatar'\) names no upload\nExpected one of: photos"):
        s.cancel_upload("avatar", "x")
    s.cancel_upload("photos", "not-there")  # a double click on Cancel: nothing to do


def test_types_are_checked_by_name_and_by_the_first_bytes():
    config = socket().allow_upload("photos", accept=[".png", ".jpg", "image/gif"])
    assert config.accepts_name("a.PNG", "")
    assert config.accepts_name("a.gif", "")  # by the MIME type its name maps to
    assert config.accepts_name("a", "image/gif")
    assert not config.accepts_name("a.txt", "text/plain")
    png = UploadEntry("photos", "r1", "a.png", 100, "image/png", None)
    assert config.accepts_content(png, PNG)
    assert not config.accepts_content(png, b"#!/bin/sh\necho hi\n")
    jpg_named_png = UploadEntry("photos", "r2", "a.jpg", 100, "image/jpeg", None)
    assert config.accepts_content(jpg_named_png, PNG)  # still an accepted image
    any_config = socket().allow_upload("files", accept=[".txt"])
    text = UploadEntry("files", "r3", "notes.txt", 10, "text/plain", None)
    assert any_config.accepts_content(text, b"plain words")
    assert not any_config.accepts_content(text, b"MZ\x90\x00 an executable")


def test_sniffing_knows_the_common_signatures():
    assert sniff(PNG) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff(b"GIF89a......") == "image/gif"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"%PDF-1.7") == "application/pdf"
    assert sniff(b"hello world") is None


def test_upload_tokens_verify_and_say_why_they_fail():
    signer = UploadSigner("secret")
    token = UploadToken("session", "photos", "r1", "uuid", 4096)
    assert signer.verify(signer.sign(token)) == token
    with pytest.raises(UploadRefused, match="bad signature") as refused:
        signer.verify(UploadSigner("other").sign(token))
    assert refused.value.status == 403
    with pytest.raises(UploadRefused, match="missing upload token"):
        signer.verify(None)
    with pytest.raises(UploadRefused, match="expired upload token"):
        UploadSigner("secret", max_age=-1).verify(signer.sign(token))
