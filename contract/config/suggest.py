"""'Did you mean' for a misspelt key: the keys the model allows at an error's location."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def _members(annotation: Any) -> list[Any]:
    """An annotation without `Annotated` and `None`, split into its union members."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in get_args(annotation) if arg is not type(None) for m in _members(arg)]
    return [annotation]


def _tags(model: type[BaseModel]) -> set[Any]:
    """The `Literal` values of a model's fields (a discriminated union names a member by its tag)."""
    return {
        value
        for info in model.model_fields.values()
        if get_origin(info.annotation) is Literal
        for value in get_args(info.annotation)
    }


def _step(annotation: Any, part: str | int) -> Any:
    members = _members(annotation)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(members) > 1:
        chosen = [m for m in models if m.__name__ == part or part in _tags(m)]
        return chosen[0] if chosen else (models[0] if len(models) == 1 else None)
    only = members[0]
    if isinstance(only, type) and issubclass(only, BaseModel):
        field = _keys(only).get(str(part))
        return field.annotation if field is not None else None
    args = get_args(only)
    if get_origin(only) in (list, tuple, set, frozenset) and isinstance(part, int) and args:
        return args[0]
    if get_origin(only) is dict and len(args) == 2:
        return args[1]
    return None


def allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys of the model at `loc` (a pydantic error location, union tags included)."""
    current: Any = model
    for part in loc:
        if current is None:
            return []
        nxt = _step(current, part)
        if nxt is None and len(_members(current)) > 1:
            continue  # a union tag the data does not name: stay on the union's model
        current = nxt
    members = [m for m in _members(current) if isinstance(m, type) and issubclass(m, BaseModel)] if current else []
    return sorted(_keys(members[0])) if len(members) == 1 else []


def _keys(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """The model's fields by the key written in the file (the alias, where there is one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def suggestion(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
