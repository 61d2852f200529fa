"""Render the process settings (IOC_* environment variables) of every side as Markdown tables.

README.md embeds the output between markers (`python -m ioc.settings_reference --write README.md`);
a test keeps the two in step. Sides whose extra is not installed are skipped with a note.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

BEGIN_MARKER = "<!-- settings-reference:begin -->"
END_MARKER = "<!-- settings-reference:end -->"

SIDES: tuple[tuple[str, str, str], ...] = (
    ("Server (`ioc server`, `ioc migrate`)", "server.settings", "Settings"),
    ("Access control (server)", "server.auth.settings", "AuthSettings"),
    ("Live video (server)", "server.live.settings", "LiveSettings"),
    ("Evidence: clips, cases, audit (server)", "server.evidence.settings", "EvidenceSettings"),
    ("Edge worker (`ioc edge`)", "edge.settings", "EdgeSettings"),
)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(computed)" if field.default_factory.__name__.startswith("_") else f"`{field.default_factory()}`"  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return "**required**"
    value: Any = field.default
    if isinstance(value, SecretStr):
        return "(secret)"
    return "" if value is None else f"`{value}`"


def _table(title: str, settings: type[BaseSettings]) -> str:
    prefix = str(settings.model_config.get("env_prefix", ""))
    lines = [f"#### {title}", "", "| variable | default | meaning |", "|---|---|---|"]
    for name, field in settings.model_fields.items():
        secret = " (secret: never logged)" if "SecretStr" in str(field.annotation) else ""
        meaning = ((field.description or "") + secret).replace("|", "\\|")
        lines.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {meaning} |")
    return "\n".join(lines)


def render_settings() -> str:
    sections = []
    for title, module_name, class_name in SIDES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            sections.append(f"#### {title}\n\n(not installed here)")
            continue
        sections.append(_table(title, getattr(module, class_name)))
    return f"{BEGIN_MARKER}\n" + "\n\n".join(sections) + f"\n{END_MARKER}"


def embed_settings(document: str) -> str:
    start, end = document.index(BEGIN_MARKER), document.index(END_MARKER) + len(END_MARKER)
    return document[:start] + render_settings() + document[end:]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(embed_settings(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    print(render_settings())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
