"""Render the streams.yaml reference (every section and field) as Markdown from the model tree.

README.md embeds the output between markers (`python -m contract.config.reference --write README.md`);
a test keeps the two in step.
"""

from __future__ import annotations

import sys
import types
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from contract.config.root import StreamsConfig
from contract.config.types import format_duration

BEGIN_MARKER = "<!-- config-reference:begin -->"
END_MARKER = "<!-- config-reference:end -->"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " \\| ".join(f"`{arg}`" for arg in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is tuple:
        return "[" + ", ".join(_type_name(arg) for arg in args) + "]"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    names = {timedelta: "duration", SecretStr: "secret", float: "number", int: "integer", str: "text", bool: "bool"}
    if isinstance(annotation, type) and annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, BaseModel):
        return "(see below)"
    if isinstance(value, dict) and all(isinstance(item, BaseModel) for item in value.values()):
        return ", ".join(f"`{key}`" for key in value)
    if value is None or value in ([], {}):
        return ""
    return f"`{value}`"


def _constraints(field: FieldInfo) -> str:
    parts = []
    for meta in field.metadata:
        for name, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "min length")):
            bound = getattr(meta, name, None)
            if bound is not None:
                parts.append(f"{symbol} {bound}")
        pattern = getattr(meta, "pattern", None)
        if pattern is not None and not pattern.startswith("^[a-z0-9]"):
            parts.append(f"pattern `{pattern}`")
    return ", ".join(parts)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _parents(model: type[BaseModel]) -> list[type[BaseModel]]:
    """Direct base models that contribute keys (their keys are documented once, in their section)."""
    return [base for base in model.__bases__ if issubclass(base, BaseModel) and base.model_fields]


def _walk(model: type[BaseModel], seen: list[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.append(model)
    for parent in _parents(model):
        _walk(parent, seen)
    for field in model.model_fields.values():
        for child in _models_in(field.annotation):
            _walk(child, seen)


def _model_section(model: type[BaseModel]) -> str:
    doc = " ".join((model.__doc__ or "").split())
    lines = [f"#### {model.__name__}", ""]
    if doc:
        lines += [doc, ""]
    parents = _parents(model)
    if parents:
        lines += ["Also takes every key of " + ", ".join(parent.__name__ for parent in parents) + ".", ""]
    inherited = {name for parent in parents for name in parent.model_fields}
    if not set(model.model_fields) - inherited:
        return "\n".join(lines).rstrip()
    lines += ["| key | type | default | notes |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in inherited:
            continue
        key = field.alias or name
        notes = " ".join(filter(None, [field.description or "", _constraints(field)])).replace("|", "\\|")
        lines.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {notes} |")
    return "\n".join(lines)


def render_reference() -> str:
    models: list[type[BaseModel]] = []
    _walk(StreamsConfig, models)
    body = "\n\n".join(_model_section(model) for model in models)
    return f"{BEGIN_MARKER}\n{body}\n{END_MARKER}"


def embed_reference(document: str) -> str:
    """Replace the text between the markers in `document` with the current reference."""
    start, end = document.index(BEGIN_MARKER), document.index(END_MARKER) + len(END_MARKER)
    return document[:start] + render_reference() + document[end:]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(embed_reference(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    print(render_reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
