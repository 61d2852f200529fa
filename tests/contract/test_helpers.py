"""Small contract helpers: durations, JSON paths, geometry, redaction, topics, times, broker URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract.config.types import format_duration, parse_duration
from contract.geometry import point_in_polygon, polygon_problem, side_of_line
from contract.jsonpath import JsonPathError, parse_json_path, resolve_json_path
from contract.mqtturl import parse_mqtt_url
from contract.redact import redact_text, redact_url
from contract.timeutil import isoformat_z, parse_timestamp
from contract.topics import Topics


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), (90, 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("7d", 604800), ("250ms", 0.25)],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "1h 30x", "-5", True])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("1h30m", "730d", "10m", "45s", "1d2h3m4s"):
        assert format_duration(parse_duration(text)) == text


def test_json_path() -> None:
    document = {"data": {"sal_ppt": 4.2, "list": [{"v": 1}, {"v": 2}], "odd key": "x"}}
    assert resolve_json_path(document, parse_json_path("$.data.sal_ppt")) == 4.2
    assert resolve_json_path(document, parse_json_path("data.list[1].v")) == 2
    assert resolve_json_path(document, parse_json_path("$.data['odd key']")) == "x"
    with pytest.raises(KeyError, match="missing"):
        resolve_json_path(document, parse_json_path("$.data.missing"))
    with pytest.raises(KeyError):
        resolve_json_path(document, parse_json_path("$.data.list[5]"))
    with pytest.raises(JsonPathError, match="at character"):
        parse_json_path("$.data..x")


def test_polygon_checks_and_point_in_polygon() -> None:
    square = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)]
    assert polygon_problem(square) is None
    assert polygon_problem(square[:2]) == "a polygon needs at least 3 points, got 2"
    assert "crosses itself" in (polygon_problem([(0.1, 0.1), (0.9, 0.9), (0.1, 0.9), (0.9, 0.1)]) or "")
    assert "no area" in (polygon_problem([(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)]) or "")
    assert point_in_polygon((0.5, 0.5), square)
    assert not point_in_polygon((0.95, 0.5), square)


def test_side_of_line_changes_sign_across_the_line() -> None:
    start, end = (0.0, 0.5), (1.0, 0.5)
    above, below = side_of_line((0.5, 0.4), start, end), side_of_line((0.5, 0.6), start, end)
    assert above < 0 < below, "right-hand side of a left-to-right line is below it in image coordinates"
    assert side_of_line((0.5, 0.5), start, end) == 0


def test_redaction() -> None:
    assert (
        redact_url("rtsp://admin:hunter2@10.0.0.1:554/s?token=abc&x=1")
        == "rtsp://admin:***@10.0.0.1:554/s?token=***&x=1"
    )
    assert redact_url("rtsp://10.0.0.1/live") == "rtsp://10.0.0.1/live"
    message = "cannot open rtsp://u:pw@h/x; secret is abcdef123"
    assert redact_text(message, ["abcdef123"]) == "cannot open rtsp://u:***@h/x; secret is ***"


def test_topics_build_and_parse() -> None:
    topics = Topics("soctrang/ioc")
    assert topics.camera_events("market-gate") == "soctrang/ioc/cameras/market-gate/events"
    assert topics.parse_camera_id("soctrang/ioc/cameras/market-gate/events") == "market-gate"
    assert topics.parse_camera_id("other/cameras/market-gate/events") is None
    assert topics.parse_sensor_id(topics.sensor("sal-1")) == "sal-1"
    assert topics.parse_worker_id(topics.edge_status("edge-1")) == "edge-1"


def test_timestamps() -> None:
    expected = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert parse_timestamp("2026-03-01T07:30:00+07:00") == expected
    assert parse_timestamp("2026-03-01T00:30:00Z") == expected
    assert parse_timestamp(expected.timestamp()) == expected
    assert parse_timestamp(expected.timestamp() * 1000) == expected
    assert isoformat_z(expected) == "2026-03-01T00:30:00.000Z"
    with pytest.raises(ValueError, match="UTC offset"):
        parse_timestamp("2026-03-01T07:30:00")


def test_mqtt_url() -> None:
    endpoint = parse_mqtt_url("mqtt://ioc:p%40ss@broker.local")
    assert (endpoint.host, endpoint.port, endpoint.username, endpoint.password) == ("broker.local", 1883, "ioc", "p@ss")
    assert "p@ss" not in repr(endpoint) and "p@ss" not in endpoint.redacted
    assert parse_mqtt_url("mqtts://h:9999").tls
    with pytest.raises(ValueError, match=r"http://u:\*\*\*@h"):
        parse_mqtt_url("http://u:secret@h")
