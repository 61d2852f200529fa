"""A small JSONPath subset for sensor payload mappings: `$.a.b`, `$.list[2].v`, `$['odd key']`."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\['([^']+)'\]|\[\"([^\"]+)\"\]")

PathStep = str | int


class JsonPathError(ValueError):
    """The path text is not in the supported subset."""


def parse_json_path(path: str) -> tuple[PathStep, ...]:
    text = path.strip()
    if not text.startswith("$"):
        text = "$." + text
    steps: list[PathStep] = []
    pos = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise JsonPathError(f"cannot read JSON path '{path}' at character {pos}: use $.key, [index] or ['key']")
        name, index, quoted, double_quoted = match.groups()
        steps.append(int(index) if index is not None else (name or quoted or double_quoted))
        pos = match.end()
    if not steps:
        raise JsonPathError(f"JSON path '{path}' selects the whole document; name a field")
    return tuple(steps)


_MISSING = object()


def resolve_json_path(document: Any, steps: tuple[PathStep, ...]) -> Any:
    """The value at `steps`, or raise KeyError naming the first step that is missing."""
    current = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                raise KeyError(f"[{step}]")
            current = current[step]
        else:
            value = current.get(step, _MISSING) if isinstance(current, dict) else _MISSING
            if value is _MISSING:
                raise KeyError(step)
            current = value
    return current
