"""`ioc validate` reports everything in one run: structure errors and cross references together,
with 'did you mean' for a misspelt key or id, and URLs with an impossible port refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contract.config import ConfigError, parse_config

BASE = """\
sites:
  - id: long-phu
    name: Long Phu
  - id: tran-de
    name: Tran De
edge_workers:
  - id: edge-1
cameras:
  - id: cam-1
    name: Market
    site: long-phu
    worker: edge-1
    source: {type: rtsp, url: "rtsp://10.0.0.5/live"}
    zones:
      - id: gate
        points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
sensors:
  - id: sal-1
    name: Salinity
    kind: salinity
    unit: "‰"
    site: long-phu
  - id: level-1
    name: Level
    kind: water_level
    unit: m
    site: tran-de
rules:
  - id: salt
    type: threshold
    sensors: [sal-1]
    raise: {above: 4}
    clear: {below: 3.5}
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), filename="streams.yaml", env={})
    return [issue.render("streams.yaml") for issue in caught.value.issues]


def test_schema_and_cross_reference_errors_in_one_run() -> None:
    text = (
        BASE.replace("    worker: edge-1\n", "    worker: edge-9\n")
        .replace("unit: m\n", "unit: m\n    range: {min: 5, max: 1}\n")
        .replace("  - id: tran-de\n", "  - id: long-phu\n")
        .replace("raise: {above: 4}", "raise: {above: 4, fore: 10m}")
    )
    assert _errors(text) == [
        "streams.yaml:4: sites[1].id: duplicate id 'long-phu'",
        "streams.yaml:12: cameras[0].worker: unknown edge worker 'edge-9' (known: edge-1)",
        "streams.yaml:27: sensors[1].range: min (5.0) must be below max (1.0)",
        "streams.yaml:33: rules[0].raise.fore: unknown key 'fore'; did you mean 'for'?",
    ]


def test_a_reference_to_an_item_with_structure_errors_is_not_called_unknown() -> None:
    text = BASE.replace("kind: salinity", "kind: salt")  # sal-1 is invalid, the rule still names it
    errors = _errors(text)
    assert len(errors) == 1 and errors[0].startswith("streams.yaml:20: sensors[0].kind: Input should be")


def test_misspelt_ids_get_a_suggestion() -> None:
    text = BASE.replace("    site: long-phu\n    worker", "    site: long-phuu\n    worker")
    assert _errors(text) == [
        "streams.yaml:11: cameras[0].site: unknown site 'long-phuu'; did you mean 'long-phu'? "
        "(known: long-phu, tran-de)"
    ]


def test_misspelt_key_gets_a_suggestion() -> None:
    text = BASE.replace("    worker: edge-1\n", "    worker: edge-1\n    enabeld: false\n")
    assert _errors(text) == ["streams.yaml:13: cameras[0].enabeld: unknown key 'enabeld'; did you mean 'enabled'?"]


@pytest.mark.parametrize("port", ["99999", "0", "x1"])
def test_a_url_port_out_of_range_is_refused(port: str) -> None:
    text = BASE.replace("rtsp://10.0.0.5/live", f"rtsp://admin:pw1234@10.0.0.5:{port}/live")
    (error,) = _errors(text)
    assert error == (
        f"streams.yaml:13: cameras[0].source.url: an RTSP source URL 'rtsp://admin:***@10.0.0.5:{port}/live' "
        "has an invalid port (1-65535)"
    )


def test_validate_prints_every_error_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text(
        BASE.replace("worker: edge-1\n    source", "worker: edge-2\n    source").replace(
            "kind: water_level", "kind: level"
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "validate", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"{path}: 2 errors"
    assert lines[1] == f"{path}:12: cameras[0].worker: unknown edge worker 'edge-2' (known: edge-1)"
    assert lines[2].startswith(f"{path}:25: sensors[1].kind: Input should be")
