"""streams.yaml: the example validates; broken files are rejected with file, line and key path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from contract.config import ConfigError, RtspSource, ThresholdRule, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]

VALID_BASE = """\
sites:
  - id: long-phu
    name: Long Phú
edge_workers:
  - id: edge-1
cameras:
  - id: cam-1
    name: Market
    site: long-phu
    worker: edge-1
    source: {type: rtsp, url: "rtsp://viewer:${CAM_PASS}@10.0.0.5/live"}
    zones:
      - id: gate
        points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
sensors:
  - id: sal-1
    name: Salinity
    kind: salinity
    unit: "‰"
    site: long-phu
rules:
  - id: salt
    type: threshold
    sensors: [sal-1]
    raise: {above: 4, for: 10m}
    clear: {below: 3.5, for: 30m}
"""


def _errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), filename="streams.yaml", env={"CAM_PASS": "pw"} if env is None else env)
    return [issue.render("streams.yaml") for issue in caught.value.issues]


def test_example_streams_yaml_is_valid() -> None:
    config = load_config(ROOT / "streams.yaml", env={})
    assert {camera.id for camera in config.cameras} >= {"market-gate", "bridge-c-bridge", "dai-ngai-ferry"}
    intrusion = next(rule for rule in config.rules if rule.id == "salinity-intrusion")
    assert isinstance(intrusion, ThresholdRule)
    assert intrusion.raise_.above == 4.0
    assert intrusion.clear.below == 3.5
    assert intrusion.raise_.for_ == timedelta(minutes=10)
    assert {sensor.kind for sensor in config.sensors} >= {"salinity", "water_level", "rainfall", "pm25"}


def test_env_interpolation_fills_credentials_and_redacts_them() -> None:
    config = parse_config(VALID_BASE, env={"CAM_PASS": "s3cret!"})
    source = config.cameras[0].source
    assert isinstance(source, RtspSource)
    assert source.url == "rtsp://viewer:s3cret!@10.0.0.5/live"
    assert "s3cret" not in source.redacted_url
    assert source.redacted_url == "rtsp://viewer:***@10.0.0.5/live"


def test_missing_env_variable_is_reported_at_its_line() -> None:
    assert _errors(VALID_BASE, env={}) == [
        "streams.yaml:11: cameras[0].source.url: environment variable 'CAM_PASS' is not set "
        "(or give '${CAM_PASS:-default}')"
    ]


def test_unknown_key_is_rejected_with_its_line() -> None:
    text = VALID_BASE.replace("    worker: edge-1\n", "    worker: edge-1\n    fpss: 5\n")
    assert _errors(text) == ["streams.yaml:11: cameras[0].fpss: unknown key 'fpss'"]


def test_self_intersecting_zone_reports_points_line() -> None:
    text = VALID_BASE.replace(
        "[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]", "[[0.1, 0.1], [0.9, 0.9], [0.1, 0.9], [0.9, 0.1]]"
    )
    assert _errors(text) == [
        "streams.yaml:14: cameras[0].zones[0].points: the polygon crosses itself (edge 0 crosses edge 2)"
    ]


def test_point_outside_frame_is_out_of_bounds() -> None:
    text = VALID_BASE.replace("[0.9, 0.9]]", "[1.5, 0.9]]")
    (error,) = _errors(text)
    assert error.startswith("streams.yaml:14: cameras[0].zones[0].points[2][0]: ")
    assert "less than or equal to 1" in error


def test_all_errors_are_reported_at_once_in_line_order() -> None:
    text = (
        VALID_BASE.replace("site: long-phu\n    worker", "site: soc-trang\n    worker")
        .replace("sensors: [sal-1]", "sensors: [sal-9]")
        .replace("kind: salinity", "kind: salt")
    )
    errors = _errors(text)
    assert len(errors) == 3, "structure errors and cross checks are reported in one run"
    assert errors[0] == "streams.yaml:9: cameras[0].site: unknown site 'soc-trang' (known: long-phu)"
    assert errors[1].startswith("streams.yaml:18: sensors[0].kind: Input should be 'salinity'")
    assert errors[2] == "streams.yaml:24: rules[0].sensors[0]: unknown sensor 'sal-9' (known: sal-1)"
    text = text.replace("kind: salt", "kind: salinity")
    assert _errors(text) == [
        "streams.yaml:9: cameras[0].site: unknown site 'soc-trang' (known: long-phu)",
        "streams.yaml:24: rules[0].sensors[0]: unknown sensor 'sal-9' (known: sal-1)",
    ]


def test_hysteresis_must_clear_on_the_other_side() -> None:
    text = VALID_BASE.replace("clear: {below: 3.5, for: 30m}", "clear: {below: 4.5}")
    assert _errors(text) == ["streams.yaml:22: rules[0]: a rule raised 'above' X clears 'below' a level <= X"]


def test_duplicate_ids_and_keys_are_errors() -> None:
    text = VALID_BASE + "  - id: salt\n    type: no_data\n    sensors: [sal-1]\n    after: 15m\n    after: 20m\n"
    assert _errors(text) == [
        "streams.yaml:27: rules[1].id: duplicate id 'salt'",
        "streams.yaml:31: rules[1].after: key 'after' appears twice",
    ]


def test_rule_referencing_missing_zone_and_channel() -> None:
    text = VALID_BASE + (
        "  - id: crowd\n    type: zone_occupancy\n    camera: cam-1\n    zone: pier\n"
        "    above: 10\n    channels: [dashboard, pager]\n"
    )
    assert _errors(text) == [
        "streams.yaml:30: rules[1].zone: unknown zone 'pier' on camera 'cam-1' (known: gate)",
        "streams.yaml:32: rules[1].channels[1]: unknown channel 'pager' (known: dashboard)",
    ]


def test_bad_duration_and_discriminator() -> None:
    text = VALID_BASE.replace("for: 10m", "for: ten minutes").replace("type: rtsp", "type: hls")
    errors = _errors(text)
    assert errors[0].startswith("streams.yaml:11: cameras[0].source: ")
    assert "'rtsp'" in errors[0] and "'file'" in errors[0]
    assert errors[1] == (
        "streams.yaml:25: rules[0].raise.for: 'ten minutes' is not a duration; use e.g. '90s', '15m', '1h30m', '7d'"
    )


def test_schedule_times_are_not_read_as_sexagesimal_numbers() -> None:
    text = VALID_BASE + "    schedule: {start: 18:00, end: 06:00}\n"
    config = parse_config(text, env={"CAM_PASS": "x"})
    schedule = config.rules[0].schedule
    assert schedule is not None
    assert (schedule.start.hour, schedule.end.hour) == (18, 6)


def test_yaml_syntax_error_has_a_line() -> None:
    assert _errors("sites:\n  - id: a\n   name: [unclosed\n") == [
        "streams.yaml:3: (top level): not valid YAML: expected <block end>, but found '<block mapping start>'"
    ]


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    broken = tmp_path / "streams.yaml"
    broken.write_text(VALID_BASE.replace("kind: salinity", "kind: salt"))
    result = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "validate", str(broken)],
        capture_output=True,
        text=True,
        env={"CAM_PASS": "x", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 1
    assert f"{broken}:18: sensors[0].kind:" in result.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "validate", str(ROOT / "streams.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK (3 sites, 3 cameras" in ok.stdout
