"""Page tokens: signed, expiring, bound to one browser; a failed check says why."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from fastapi_live import TokenError
from fastapi_live.tokens import _SALT, TOKEN_VERSION, PageToken, TokenSigner

SECRET = "test-secret"
TOKEN = PageToken(session_id="s-123", view="Dashboard", browser_id="browser-a", url="/dashboard/acme?tab=1")


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET, max_age=60)


def test_a_signed_token_verifies_to_its_contents(signer):
    before = int(time.time())
    raw = signer.sign(TOKEN)
    verified = signer.verify(raw, browser_id="browser-a")
    assert dataclasses.replace(verified, issued_at=0.0) == TOKEN
    assert before <= verified.issued_at <= time.time()


def test_a_token_carries_a_keyed_digest_of_the_browser_never_the_browser_itself(signer):
    browser = "kq9VdXmW2pUeQz7N-abcdefgh"
    raw = signer.sign(dataclasses.replace(TOKEN, browser_id=browser))
    payload = URLSafeTimedSerializer(SECRET, salt=_SALT).loads(raw)
    assert browser not in raw and browser not in json.dumps(payload)
    assert payload[3] == signer.browser_digest(browser)
    assert TokenSigner("another-secret").browser_digest(browser) != signer.browser_digest(browser)
    assert signer.browser_digest(browser + "x") != signer.browser_digest(browser)
    # Presenting the digest as the cookie gets the onlooker nowhere.
    with pytest.raises(TokenError, match="foreign"):
        signer.verify(raw, browser_id=payload[3])


def test_a_token_is_opaque_text_safe_for_a_header(signer):
    raw = signer.sign(TOKEN)
    assert raw.isascii()
    assert "\n" not in raw and " " not in raw


@pytest.mark.parametrize("raw", [None, ""])
def test_missing(signer, raw):
    with pytest.raises(TokenError, match=r"^missing page token: expected the X-Live-Token header$") as info:
        signer.verify(raw, browser_id="browser-a")
    assert info.value.reason == "missing"


def test_invalid_signature(signer):
    raw = signer.sign(TOKEN)
    tampered = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    with pytest.raises(TokenError, match=r"^invalid page token: bad signature$") as info:
        signer.verify(tampered, browser_id="browser-a")
    assert info.value.reason == "invalid"


def test_a_token_from_another_secret_is_invalid(signer):
    raw = TokenSigner("another-secret").sign(TOKEN)
    with pytest.raises(TokenError, match=r"^invalid page token: bad signature$"):
        signer.verify(raw, browser_id="browser-a")


def test_garbage_is_invalid(signer):
    with pytest.raises(TokenError, match=r"^invalid page token: bad signature$") as info:
        signer.verify("garbage", browser_id="browser-a")
    assert info.value.reason == "invalid"


def test_an_oversized_token_is_invalid_before_any_parsing(signer):
    with pytest.raises(TokenError, match=r"^invalid page token: too long$") as info:
        signer.verify("x" * 5000, browser_id="browser-a")
    assert info.value.reason == "invalid"


@pytest.mark.parametrize("payload", [{"not": "a list"}, [TOKEN_VERSION, "s", "V", "b"], [TOKEN_VERSION, "s", "V", "b", ["url"]]])
def test_a_well_signed_but_malformed_payload_is_invalid(signer, payload):
    raw = URLSafeTimedSerializer(SECRET, salt=_SALT).dumps(payload)
    with pytest.raises(TokenError, match=r"^invalid page token: malformed payload$") as info:
        signer.verify(raw, browser_id="b")
    assert info.value.reason == "invalid"


def test_expired(signer, monkeypatch):
    raw = signer.sign(TOKEN)
    signed_at = int(time.time())
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: signed_at + 61)
    with pytest.raises(TokenError, match=r"^expired page token: reload the page$") as info:
        signer.verify(raw, browser_id="browser-a")
    assert info.value.reason == "expired"


def test_a_token_within_its_max_age_is_accepted(signer, monkeypatch):
    raw = signer.sign(TOKEN)
    signed_at = int(time.time())
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: signed_at + 59)
    assert signer.verify(raw, browser_id="browser-a").session_id == TOKEN.session_id


def test_outdated(signer):
    raw = URLSafeTimedSerializer(SECRET, salt=_SALT).dumps([TOKEN_VERSION - 1, "s", "V", "browser-a", "/"])
    with pytest.raises(TokenError, match=rf"^outdated page token: version {TOKEN_VERSION - 1}, expected {TOKEN_VERSION}$") as info:
        signer.verify(raw, browser_id="browser-a")
    assert info.value.reason == "outdated"


@pytest.mark.parametrize("browser_id", ["browser-b", "", None])
def test_foreign(signer, browser_id):
    raw = signer.sign(TOKEN)
    with pytest.raises(TokenError, match=r"^foreign page token: it was issued to another browser session$") as info:
        signer.verify(raw, browser_id=browser_id)
    assert info.value.reason == "foreign"


def test_the_salt_separates_page_tokens_from_other_signed_values(signer):
    other = URLSafeTimedSerializer(SECRET, salt="login-cookie").dumps([TOKEN_VERSION, "s", "V", "browser-a", "/"])
    with pytest.raises(TokenError, match="bad signature"):
        signer.verify(other, browser_id="browser-a")


def test_an_equivalent_but_non_canonical_encoding_is_refused():
    from itsdangerous.encoding import base64_decode

    signer = TokenSigner("secret")
    raw = signer.sign(PageToken("sid", "View", "browser", "/page"))
    signature = raw.rsplit(".", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [
        raw[:-1] + c for c in alphabet if c != raw[-1] and base64_decode(signature[:-1] + c) == base64_decode(signature)
    ]
    assert twins, "this signature length leaves no spare bits; the test needs another token"
    for twin in twins:
        with pytest.raises(TokenError, match="not in the form it was issued in"):
            signer.verify(twin, browser_id="browser")
    assert signer.verify(raw, browser_id="browser").session_id == "sid"
