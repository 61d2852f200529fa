"""Limits checked before a JSON parser sees a payload: its size and its nesting depth.

The standard library's parser recurses once per `[` or `{` and raises `RecursionError` (not a
`ValueError`) on a document nested some thousand levels deep; orjson stops at 1,024 levels, but a
value nested 1,000 deep still breaks `repr()` later. So the depth is measured on the raw bytes,
outside strings, before any parser runs, and anything deeper than `max_depth` is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.ingest.errors import Reason, Rejected

_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)  # possessive: linear, also unterminated
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
_SQUARE = bytes.maketrans(b"{}", b"[]")
_OPEN = ord("[")
DEFAULT_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class PayloadLimits:
    """What a message may be before it is decoded (events carry a base64 snapshot: their own cap)."""

    max_bytes: int = 262_144
    event_max_bytes: int = 4_000_000
    max_depth: int = DEFAULT_MAX_DEPTH


def too_deep(payload: bytes, max_depth: int) -> bool:
    """True when `[`/`{` nest deeper than `max_depth` outside strings (in UTF-8 bytes)."""
    if payload.count(b"[") + payload.count(b"{") <= max_depth:
        return False  # never deeper than its number of brackets: the common, cheap case
    brackets = _structure(payload)
    rest = brackets
    for _ in range(max_depth):  # each round removes the innermost pairs (at C speed)
        shorter = rest.replace(b"[]", b"")
        if len(shorter) == len(rest):
            break
        rest = shorter
    if b"[" not in rest:
        return False  # every bracket closed within max_depth rounds
    depth = 0  # deeper, or not closed (a cut document): count exactly
    for byte in brackets:
        if byte == _OPEN:
            depth += 1
            if depth > max_depth:
                return True
        elif depth:
            depth -= 1
    return False


def _structure(payload: bytes) -> bytes:
    """The payload's brackets outside strings, `{}` written as `[]` (an unterminated string runs
    to the end). Without escapes, and when no string holds a bracket, only C-speed calls run."""
    if b"\\" not in payload:
        # brackets and quotes only; then remove empty strings: a quote left means a string holds a
        # bracket (its opening quote has a bracket to its right and a paired quote to its left)
        reduced = payload.translate(_SQUARE, _NOT_STRUCTURE).replace(b'""', b"")
        if b'"' not in reduced:
            return reduced
        outside = b"".join(payload.split(b'"')[::2])  # no escapes: every quote opens or closes a string
    else:
        outside = _STRING.sub(b"", payload)
    return outside.translate(_SQUARE, _NOT_BRACKETS)


def check_depth(payload: bytes, max_depth: int) -> None:
    """Rejected(TOO_DEEP) when the payload nests deeper than `max_depth`."""
    if too_deep(payload, max_depth):
        raise Rejected(Reason.TOO_DEEP, f"JSON nested deeper than {max_depth} levels")


def check_payload(payload: bytes, max_bytes: int, max_depth: int) -> None:
    """Size first (cheap, and bounds the depth scan), then depth."""
    if len(payload) > max_bytes:
        raise Rejected(Reason.TOO_LARGE, f"payload of {len(payload)} bytes is over the limit of {max_bytes}")
    check_depth(payload, max_depth)
