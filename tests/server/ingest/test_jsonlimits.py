"""The size and depth limits that run before any JSON parser (server/ingest/jsonlimits.py)."""

from __future__ import annotations

import json
import random

import pytest

from server.ingest.decode import parse_json
from server.ingest.errors import Rejected
from server.ingest.jsonlimits import check_payload, too_deep


def _reference_too_deep(payload: bytes, max_depth: int) -> bool:
    """A plain tokenizer: depth outside strings, escapes honoured, clamped at zero."""
    depth, in_string, escaped = 0, False, False
    for byte in payload:
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > max_depth:
                return True
        elif byte in b"]}" and depth:
            depth -= 1
    return False


def test_matches_a_plain_tokenizer_on_random_structure() -> None:
    rnd = random.Random(7)
    for _ in range(30_000):
        payload = bytes(rnd.choice(b'[]{}"a\\,') for _ in range(rnd.randint(0, 60)))
        assert too_deep(payload, 4) == _reference_too_deep(payload, 4), payload


@pytest.mark.parametrize(
    ("payload", "deep"),
    [
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b"[" * 33, True),  # never closed: the parser would recurse just the same
        (b'{"a":"' + b"[" * 100 + b'"}', False),  # brackets inside a string are text
        (b'["' + b"]" * 40 + b'"' + b"[" * 40, True),  # closing brackets inside a string do not close
        (b'["\\"' + b"[" * 40 + b'"]', False),  # an escaped quote does not end the string
        (b'["\\\\"' + b"[" * 40, True),  # an escaped backslash does
        (json.dumps({"readings": [{"sensor": f"s{i}", "value": i} for i in range(500)]}).encode(), False),
    ],
)
def test_depth_outside_strings(payload: bytes, deep: bool) -> None:
    assert too_deep(payload, 32) is deep


def test_size_is_checked_before_depth() -> None:
    with pytest.raises(Rejected) as caught:
        check_payload(b"[" * 2000, max_bytes=1000, max_depth=32)
    assert caught.value.reason == "too_large"
    assert "2000 bytes" in caught.value.detail


@pytest.mark.parametrize("payload", [b"[" * 10_000 + b"]" * 10_000, b"[" * 10_000, b'{"a":' * 5000 + b"1"])
def test_parse_json_refuses_deep_documents_without_recursing(payload: bytes) -> None:
    with pytest.raises(Rejected) as caught:
        parse_json(payload)
    assert caught.value.reason == "too_deep"
    assert "32 levels" in caught.value.detail


def test_utf16_is_measured_after_decoding() -> None:
    # U+2200 is 00 22 in UTF-16-LE: read as bytes it looks like a quote that would hide the brackets
    document = "[" * 40 + '"\u2200"' + "]" * 40
    with pytest.raises(Rejected) as caught:
        parse_json(document.encode("utf-16-le"))
    assert caught.value.reason == "too_deep"
    assert parse_json(("[" * 3 + '"\u2200"' + "]" * 3).encode("utf-16")) == [[["\u2200"]]]


def test_json_fallback_still_reads_what_orjson_refuses() -> None:
    assert parse_json(b'{"value": NaN}')["value"] != parse_json(b'{"value": NaN}')["value"]
    with pytest.raises(Rejected) as caught:
        parse_json(b'{"value": ' + b"9" * 5000 + b"}")  # beyond Python's int digit limit
    assert caught.value.reason == "malformed_json"
