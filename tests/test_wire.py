"""The wire's vocabulary: the client's constants block says what ``wire.CLIENT_CONSTANTS`` says."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi_live import wire

CLIENT = Path(__file__).resolve().parent.parent / "static" / "fastapi-live.js"


def client_constants() -> dict[str, str]:
    source = CLIENT.read_text()
    block = source[source.index("// ---- constants") : source.index("// Diagnostics")]
    return dict(re.findall(r'^\s*const ([A-Z_]+) = "([^"]*)";$', block, re.M))


def test_the_clients_constants_block_matches_the_wire():
    constants = client_constants()
    mismatched = {name: (value, constants.get(name)) for name, value in wire.CLIENT_CONSTANTS.items() if constants.get(name) != value}
    assert not mismatched, f"fastapi-live.js's constants differ from wire.CLIENT_CONSTANTS (wire, client): {mismatched}"


def test_header_constants_are_the_wires_headers():
    constants = client_constants()
    for name, header in [
        ("HEADER_TOKEN", wire.TOKEN_HEADER),
        ("HEADER_EVENT", wire.EVENT_HEADER),
        ("HEADER_UPLOAD_TOKEN", wire.UPLOAD_TOKEN_HEADER),
        ("HEADER_UPLOAD_REF", wire.UPLOAD_REF_HEADER),
        ("HEADER_UPLOAD_OFFSET", wire.UPLOAD_OFFSET_HEADER),
    ]:
        assert constants[name].lower() == header
