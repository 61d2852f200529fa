"""Strict number parsing for text that senders write: decimal notation, nothing more.

Python's `float()` also takes `"3_2"` (as 32), `"１２"` (full-width digits) and inner whitespace
forms; a sensor that sends those is broken, and its value must be refused, not guessed. The words
`nan`, `inf` and `infinity` are read (as float does) so the caller refuses them as not finite,
as it does a value beyond the float range (`1e999` reads as infinity): check `math.isfinite`.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_SPECIAL = re.compile(r"[+-]?(?:nan|inf|infinity)", re.ASCII | re.IGNORECASE)


def parse_number(text: str) -> float:
    """A float from decimal text (`12`, `-0.5`, `4.2e-3`, `+7`, `.5`, surrounding spaces allowed);
    ValueError for anything else (digit separators, hex, other scripts' digits, empty text)."""
    stripped = text.strip()
    if not (_NUMBER.fullmatch(stripped) or _SPECIAL.fullmatch(stripped)):
        raise ValueError(f"{stripped[:40]!r} is not a decimal number")
    return float(stripped)
