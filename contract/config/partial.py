"""The valid part of a config whose structure has errors, so that cross checks (unknown ids,
duplicates) are reported in the same run as the structure errors, not only after they are fixed.

Items with structure errors are left out (a list item, a detector, or a whole optional section)
and the rest is validated again; a cross-check issue that may only stem from a left-out item (it
names a value that item holds, such as its id) is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from contract.config.errors import ConfigIssue, Location
from contract.config.root import StreamsConfig

MAX_ROUNDS = 4
Key = int | str


@dataclass
class PartialConfig:
    config: StreamsConfig
    data: dict[str, Any]
    """what was validated (items left out)"""
    kept: dict[str, list[int]]
    """for each list section, the original index of every kept item"""
    left_out_values: set[str] = field(default_factory=set)
    """the scalar values (id, kind, ...) of the left-out items"""
    left_out_ids: dict[str, frozenset[str]] = field(default_factory=dict)
    """per section, the ids (detector names) of the left-out items"""

    def original(self, location: Location) -> Location:
        if len(location) >= 2 and isinstance(location[1], int) and str(location[0]) in self.kept:
            return (location[0], self.kept[str(location[0])][location[1]], *location[2:])
        return location

    def may_stem_from_left_out(self, location: Location) -> bool:
        value: Any = self.data
        for part in location:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return False
        return isinstance(value, str) and value in self.left_out_values


def valid_part(data: dict[str, Any]) -> PartialConfig | None:
    """The config without its invalid items; None when the rest cannot be validated either."""
    bad: dict[str, set[Key]] = {}
    dropped: set[str] = set()
    for _ in range(MAX_ROUNDS):
        pruned, kept = _without(data, bad, dropped)
        try:
            config = StreamsConfig.model_validate(pruned)
        except ValidationError as exc:
            if not _mark_bad(exc, data, pruned, kept, bad, dropped):
                return None
            continue
        values = _left_out_values(data, bad, dropped)
        return PartialConfig(config, pruned, kept, values, _left_out_ids(data, bad, dropped))
    return None


def _without(
    data: dict[str, Any], bad: dict[str, set[Key]], dropped: set[str]
) -> tuple[dict[str, Any], dict[str, list[int]]]:
    pruned: dict[str, Any] = {}
    kept: dict[str, list[int]] = {}
    for section, value in data.items():
        if section in dropped:
            continue
        left_out = bad.get(section, set())
        if isinstance(value, list):
            kept[section] = [index for index in range(len(value)) if index not in left_out]
            pruned[section] = [value[index] for index in kept[section]]
        elif isinstance(value, dict) and left_out:
            pruned[section] = {key: item for key, item in value.items() if key not in left_out}
        else:
            pruned[section] = value
    return pruned, kept


def _mark_bad(
    exc: ValidationError,
    data: dict[str, Any],
    pruned: dict[str, Any],
    kept: dict[str, list[int]],
    bad: dict[str, set[Key]],
    dropped: set[str],
) -> bool:
    """Record what to leave out next round; False when an error cannot be left out."""
    fields = StreamsConfig.model_fields
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        section = str(loc[0]) if loc else ""
        value = pruned.get(section)
        if len(loc) >= 2 and isinstance(value, list) and isinstance(loc[1], int) and loc[1] < len(value):
            bad.setdefault(section, set()).add(kept[section][loc[1]])
        elif len(loc) >= 2 and isinstance(value, dict) and loc[1] in value and section == "detectors":
            bad.setdefault(section, set()).add(loc[1])
        elif section in fields and section in data and not fields[section].is_required():
            dropped.add(section)
        else:
            return False
    return True


def _left_out_values(data: dict[str, Any], bad: dict[str, set[Key]], dropped: set[str]) -> set[str]:
    values: set[str] = set()
    for section, keys in bad.items():
        container = data[section]
        for key in keys:
            if isinstance(container, dict):
                values.add(str(key))
            item = container[key]
            if isinstance(item, dict):
                values.update(value for value in item.values() if isinstance(value, str))
    for section in dropped:
        value = data[section]
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
        for item in items:
            if isinstance(item, dict):
                values.update(v for v in item.values() if isinstance(v, str))
        if isinstance(value, dict):
            values.update(str(key) for key in value)
    return values


def _left_out_ids(data: dict[str, Any], bad: dict[str, set[Key]], dropped: set[str]) -> dict[str, frozenset[str]]:
    ids: dict[str, frozenset[str]] = {}
    for section in {*bad, *dropped}:
        value = data[section]
        if isinstance(value, dict):
            keys = value if section in dropped else bad[section]
            ids[section] = frozenset(str(key) for key in keys)
        elif isinstance(value, list):
            indexes = range(len(value)) if section in dropped else bad[section]
            items = [value[int(index)] for index in indexes]
            ids[section] = frozenset(
                str(i["id"]) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)
            )
    return ids


def cross_issues_of_part(part: PartialConfig, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """The cross-check issues of the valid part, at their original locations."""
    return [
        ConfigIssue(part.original(issue.location), issue.message)
        for issue in issues
        if not part.may_stem_from_left_out(issue.location)
    ]
