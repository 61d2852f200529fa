"""Pure evaluator tests: a table of (minute, input) steps and the transition each must cause."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from contract.config.rules import RuleBase
from server.alerts.evaluators.registry import default_evaluators
from server.alerts.observations import CameraSample, DetectionSample, Observation, SensorSample
from server.alerts.state import RuleState
from tests.server.alerts.configs import SALINITY_4, at, make_config, rule

Script = list[tuple[float, Any, str | None]]  # (minute, reading / event / "tick", expected transition)


def run_script(rule_tree: dict[str, Any], script: Script) -> list[str | None]:
    config = make_config([rule_tree])
    the_rule: RuleBase = config.rules[0]
    evaluator = default_evaluators()[rule_tree["type"]]
    state = RuleState()
    seen: list[str | None] = []
    for minute, item, _ in script:
        if item == "tick":
            step = evaluator.tick(the_rule, state, at(minute))
        else:
            step = evaluator.observe(the_rule, state, as_observation(item, minute))
        state = step.state
        seen.append(step.transition)
    return seen


def as_observation(item: Any, minute: float) -> Observation:
    if isinstance(item, float | int):
        return SensorSample("sal-a", float(item), at(minute))
    if isinstance(item, str):
        return CameraSample("gate", item, at(minute))
    event = DetectionSample("evt-test-0001", "gate", at(minute), "zone_enter", received_at=at(minute))
    return replace(event, **item)


def expected(script: Script) -> list[str | None]:
    return [transition for _, _, transition in script]


HYSTERESIS: Script = [
    (0, 3.0, None),
    (5, 4.2, "pending"),
    (10, 3.9, "cancel"),  # dipped below the raise level before 10 minutes: no alert
    (15, 4.1, "pending"),
    (20, 4.3, None),
    (25, 4.4, "fire"),  # 10 minutes above 4
    (30, 3.9, None),  # between clear and raise: still firing
    (35, 4.1, None),
    (40, 3.8, None),
    (45, 3.4, None),  # below 3.5: clearing starts
    (60, 3.6, None),  # back above 3.5: clearing restarts later
    (65, 3.2, None),
    (90, 3.1, None),
    (95, 3.0, "resolve"),  # 30 minutes below 3.5
]


def test_threshold_hysteresis_and_durations() -> None:
    assert run_script(SALINITY_4, HYSTERESIS) == expected(HYSTERESIS)


def test_threshold_oscillating_around_the_level_raises_once() -> None:
    script: Script = [(minute, 4.2 if minute % 2 else 3.9, None) for minute in range(0, 120)]
    seen = run_script(rule(SALINITY_4, **{"raise": {"above": 4.0}}), script)
    assert seen.count("fire") == 1
    assert "resolve" not in seen


def test_threshold_ignores_redelivered_older_readings() -> None:
    script: Script = [(10, 4.5, "fire"), (5, 1.0, None), (11, 3.0, "resolve")]
    tree = rule(SALINITY_4, **{"raise": {"above": 4.0}, "clear": {"below": 3.5}})
    assert run_script(tree, script) == expected(script)


def test_threshold_below_direction() -> None:
    tree = rule(SALINITY_4, **{"raise": {"below": 1.0}, "clear": {"above": 1.5}})
    script: Script = [(0, 2.0, None), (1, 0.5, "fire"), (2, 1.2, None), (3, 1.6, "resolve")]
    assert run_script(tree, script) == expected(script)


RATE = {"id": "surge", "type": "rate_of_change", "sensor_kind": "salinity", "window": "1h", "rise": 1.5}


@pytest.mark.parametrize(
    "script",
    [
        [(0, 1.0, None), (30, 2.0, None), (50, 2.6, "fire"), (120, 2.7, "resolve")],
        [(0, 1.0, None), (70, 2.6, None)],  # the rise took longer than the window
        [(0, 3.0, None), (10, 1.0, None)],  # a fall, and only `rise` is set
    ],
)
def test_rate_of_change(script: Script) -> None:
    assert run_script(RATE, script) == expected(script)


def test_rate_of_change_fall() -> None:
    tree = rule(RATE, rise=None, fall=2.0)
    script: Script = [(0, 5.0, None), (20, 2.9, "fire"), (30, 3.5, "resolve")]
    assert run_script(tree, script) == expected(script)


NO_DATA = {"id": "silent", "type": "no_data", "sensor_kind": "salinity", "after": "30m"}


def test_no_data_fires_after_silence_and_clears_on_data() -> None:
    script: Script = [
        (0, "tick", None),  # the first tick starts the clock
        (10, 3.0, None),
        (39, "tick", None),
        (40, "tick", "fire"),
        (41, "tick", None),
        (45, 3.1, "resolve"),
        (74, "tick", None),
        (76, "tick", "fire"),
    ]
    assert run_script(NO_DATA, script) == expected(script)


OFFLINE = {"id": "camera-down", "type": "camera_offline", "for": "2m"}


def test_camera_offline_for_a_duration() -> None:
    script: Script = [
        (0, "offline", "pending"),
        (1, "tick", None),
        (1.5, "online", "cancel"),  # a blip: no alert
        (3, "error", "pending"),
        (4, "connecting", None),
        (5, "tick", "fire"),
        (6, "offline", None),
        (7, "online", "resolve"),
    ]
    assert run_script(OFFLINE, script) == expected(script)


IN_ZONE = {"id": "intrusion", "type": "object_in_zone", "camera": "gate", "zone": "entrance", "for": "1m"}


def test_object_in_zone_with_tracks() -> None:
    script: Script = [
        (0, {"kind": "zone_enter", "zone": "entrance", "track_id": 1}, "pending"),
        (0.5, {"kind": "zone_enter", "zone": "entrance", "track_id": 2}, None),
        (0.6, {"kind": "zone_exit", "zone": "entrance", "track_id": 1}, None),
        (1, "tick", "fire"),
        (2, {"kind": "object_gone", "zone": None, "track_id": 2}, "resolve"),
    ]
    assert run_script(IN_ZONE, script) == expected(script)


OCCUPANCY = {"id": "crowd", "type": "zone_occupancy", "camera": "gate", "zone": "entrance", "above": 60, "for": "2m"}


def test_zone_occupancy_over_n_for_a_duration() -> None:
    script: Script = [
        (0, {"kind": "zone_occupancy", "zone": "entrance", "count": 61}, "pending"),
        (1, {"kind": "zone_occupancy", "zone": "entrance", "count": 60}, "cancel"),
        (2, {"kind": "zone_occupancy", "zone": "entrance", "count": 70}, "pending"),
        (4, "tick", "fire"),
        (5, {"kind": "zone_occupancy", "zone": "entrance", "count": 10}, "resolve"),
    ]
    assert run_script(OCCUPANCY, script) == expected(script)


LOITER = {"id": "loiter", "type": "loitering", "camera": "gate", "zone": "entrance", "over": "10m"}


def test_loitering_from_entry_time_or_dwell() -> None:
    script: Script = [
        (0, {"kind": "zone_enter", "zone": "entrance", "track_id": 7}, None),
        (9, "tick", None),
        (10, "tick", "fire"),
        (12, {"kind": "zone_exit", "zone": "entrance", "track_id": 7}, "resolve"),
        (20, {"kind": "loitering", "zone": "entrance", "track_id": 8, "dwell_s": 700.0}, "fire"),
    ]
    assert run_script(LOITER, script) == expected(script)


LINE = {"id": "traffic", "type": "line_crossed", "camera": "gate", "line": "door", "count_over": 2, "window": "10m"}


def crossing(direction: str = "in") -> dict[str, Any]:
    return {"kind": "line_crossed", "line": "door", "direction": direction}


def test_line_crossings_over_n_per_window() -> None:
    script: Script = [
        (0, crossing(), None),
        (1, crossing(), None),
        (2, crossing(), "fire"),  # three crossings within 10 minutes: more than 2
        (5, "tick", None),
        (10.5, "tick", "resolve"),  # the first crossing left the window
        (11, crossing(), "fire"),
    ]
    assert run_script(LINE, script) == expected(script)


def test_line_crossings_count_only_the_chosen_direction() -> None:
    script: Script = [(0, crossing("out"), None), (1, crossing("out"), None), (2, crossing("out"), None)]
    assert run_script(rule(LINE, direction="in"), script) == expected(script)
