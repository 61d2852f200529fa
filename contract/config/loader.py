"""Load streams.yaml: YAML with line numbers, ${ENV} interpolation, validation, cross checks.

Every problem is collected and reported at once as `file:line: key.path: message`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from contract.config.checks import run_cross_checks
from contract.config.errors import ConfigError, ConfigIssue, Location
from contract.config.partial import cross_issues_of_part, valid_part
from contract.config.root import StreamsConfig
from contract.config.suggest import allowed_keys, suggestion

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"


class _Document:
    """Plain data built from YAML nodes, with the line of every key and item."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.lines: dict[Location, int] = {}
        self.issues: list[ConfigIssue] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, location: Location) -> Any:
        self.lines.setdefault(location, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, location)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*location, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, location)

    def _mapping(self, node: yaml.MappingNode, location: Location) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(self._constructor.construct_object(key_node))
            child = (*location, key)
            if key in result:
                self.issues.append(ConfigIssue(child, f"key '{key}' appears twice", key_node.start_mark.line + 1))
                continue
            self.lines[child] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node, location: Location) -> Any:
        text = str(node.value)
        # YAML 1.1 reads 18:00 as the sexagesimal number 1080; times are text here.
        if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in text:
            return text
        value = self._constructor.construct_object(node)
        if isinstance(value, str) and node.tag == _STR_TAG:
            return self._interpolate(value, location, node.start_mark.line + 1)
        return value

    def _interpolate(self, text: str, location: Location, line: int) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            hint = f"environment variable '{name}' is not set (or give '${{{name}:-default}}')"
            self.issues.append(ConfigIssue(location, hint, line))
            return ""

        return _ENV_REF.sub(replace, text)


def _data_path(data: Any, loc: tuple[int | str, ...], missing: bool) -> Location:
    """Map a pydantic error location onto keys of the data, dropping union tags.

    Parts not found in the data are union tags (`source.rtsp.url`) except the last part of a
    'missing' error, which is the key that should have been there."""
    path: list[str | int] = []
    current: Any = data
    for position, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            current = current[part]
            path.append(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
            path.append(part)
        elif missing and position == len(loc) - 1:
            path.append(part)
    return tuple(path)


def _line_for(location: Location, lines: Mapping[Location, int]) -> int | None:
    for length in range(len(location), -1, -1):
        line = lines.get(location[:length])
        if line is not None:
            return line
    return None


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        if not loc:
            return "unknown key"
        key = str(loc[-1])
        return f"unknown key '{key}'{suggestion(key, allowed_keys(StreamsConfig, tuple(loc[:-1])))}"
    if kind == "missing":
        return "this key is required"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        return message.replace("Input tag", "type").replace("found using", "from key")
    return message


def _validation_issues(exc: ValidationError, data: Any, lines: Mapping[Location, int]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for error in exc.errors(include_url=False):
        location = _data_path(data, error["loc"], error["type"] == "missing")
        issues.append(ConfigIssue(location, _message(error), _line_for(location, lines)))
    return issues


def _by_line(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda issue: issue.line or 0)


def parse_config(text: str, filename: str = "streams.yaml", env: Mapping[str, str] | None = None) -> StreamsConfig:
    """Parse and validate streams.yaml text; raise ConfigError listing every problem."""
    document = _Document(os.environ if env is None else env)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(filename, [ConfigIssue((), f"not valid YAML: {problem}", line)]) from exc
    if root is None:
        raise ConfigError(filename, [ConfigIssue((), "the file is empty", 1)])
    data = document.build(root, ())
    if not isinstance(data, dict):
        raise ConfigError(filename, [ConfigIssue((), "the top level must be a mapping of sections", 1)])
    issues = list(document.issues)
    try:
        config = StreamsConfig.model_validate(data)
    except ValidationError as exc:
        issues += _validation_issues(exc, data, document.lines)
        part = valid_part(data)  # cross checks of the valid rest: every error in one run
        if part is not None:
            issues += _located(
                cross_issues_of_part(part, run_cross_checks(part.config, part.left_out_ids)), document.lines
            )
        raise ConfigError(filename, _by_line(issues)) from exc
    issues += _located(run_cross_checks(config), document.lines)
    if issues:
        raise ConfigError(filename, _by_line(issues))
    return config


def _located(issues: list[ConfigIssue], lines: Mapping[Location, int]) -> list[ConfigIssue]:
    return [ConfigIssue(issue.location, issue.message, _line_for(issue.location, lines)) for issue in issues]


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> StreamsConfig:
    """Read and validate a streams.yaml file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue((), f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [ConfigIssue((), "the file is not UTF-8 text")]) from exc
    return parse_config(text, filename=str(path), env=env)
