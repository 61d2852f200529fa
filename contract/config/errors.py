"""Config errors a person can act on: file, line, key path and message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Location = tuple[str | int, ...]


def format_location(location: Location) -> str:
    """`('cameras', 3, 'zones', 0, 'points')` -> `cameras[3].zones[0].points`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


@dataclass(frozen=True)
class ConfigIssue:
    location: Location
    message: str
    line: int | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line is not None else filename
        return f"{where}: {format_location(self.location)}: {self.message}"


class ConfigError(Exception):
    """streams.yaml cannot be used; `issues` lists every problem found."""

    def __init__(self, filename: str, issues: Sequence[ConfigIssue]) -> None:
        self.filename = filename
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.issues)
        head = f"{self.filename}: {count} error{'s' if count != 1 else ''}"
        return "\n".join([head, *(issue.render(self.filename) for issue in self.issues)])
