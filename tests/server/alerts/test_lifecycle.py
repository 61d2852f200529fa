"""The rule engine and alert book: dedup, grouping, schedules, silences, inhibition, repeat,
escalation and operator actions, with time moved by the test."""

from __future__ import annotations

from datetime import timedelta

from server.alerts.core import RuleEngine
from server.alerts.matching import SilenceRecord
from server.alerts.model import AlertChange
from server.alerts.observations import CameraSample, DetectionSample, SensorSample
from tests.server.alerts.configs import SALINITY_4, at, make_config, rule

QUICK = rule(SALINITY_4, **{"raise": {"above": 4.0}, "clear": {"below": 3.5}}, channels=["dashboard", "hook"])


def reading(sensor: str, value: float, minute: float) -> SensorSample:
    return SensorSample(sensor, value, at(minute))


def actions(changes: list[AlertChange]) -> list[str]:
    return [change.action for change in changes]


def test_one_alert_per_fingerprint_and_history() -> None:
    engine = RuleEngine(make_config([SALINITY_4]))
    log: list[AlertChange] = []
    for minute, value in [(0, 4.5), (5, 4.6), (10, 4.7), (15, 4.8), (20, 3.0), (50, 3.0)]:
        log += engine.observe(reading("sal-a", value, minute))
    assert actions(log) == ["pending", "firing", "resolved"]
    assert len({change.payload.id for change in log}) == 1
    assert log[-1].payload.resolved_at == at(50)
    assert log[1].payload.summary == "Salinity 4: sal-a = 4.7‰"


def test_each_subject_has_its_own_alert_by_default() -> None:
    engine = RuleEngine(make_config([QUICK]))
    first = engine.observe(reading("sal-a", 5.0, 0))
    second = engine.observe(reading("sal-b", 5.0, 1))
    assert actions(first) == actions(second) == ["firing"]
    assert first[0].payload.fingerprint != second[0].payload.fingerprint


def test_grouping_by_site_fires_once_and_resolves_with_the_last_member() -> None:
    engine = RuleEngine(make_config([rule(QUICK, group_by=["site"])]))
    log = engine.observe(reading("sal-a", 5.0, 0)) + engine.observe(reading("sal-b", 5.0, 1))
    log += engine.observe(reading("sal-c", 5.0, 2))  # another site: another alert
    assert actions(log) == ["firing", "member", "firing"]
    assert log[0].payload.subject == "long-phu" and log[2].payload.subject == "tran-de"
    assert log[1].notify == ()  # a second member does not notify again
    assert engine.observe(reading("sal-a", 1.0, 3)) == []
    resolved = engine.observe(reading("sal-b", 1.0, 4))
    assert actions(resolved) == ["resolved"] and resolved[0].payload.id == log[0].payload.id


def test_schedule_in_site_time_zone() -> None:
    night = rule(QUICK, schedule={"start": "23:00", "end": "04:00"})
    engine = RuleEngine(make_config([night]))
    # T0 is 08:00 in Asia/Ho_Chi_Minh: outside the night window.
    assert engine.observe(reading("sal-a", 5.0, 0)) == []
    # 16:30 UTC later is 00:30 local, Tuesday: inside Monday night's window.
    assert actions(engine.observe(reading("sal-a", 5.0, 16.5 * 60))) == ["firing"]
    # Outside the window a firing alert still clears.
    assert actions(engine.observe(reading("sal-a", 1.0, 22 * 60))) == ["resolved"]


def test_schedule_days() -> None:
    weekend = rule(QUICK, schedule={"days": ["sat", "sun"]})
    engine = RuleEngine(make_config([weekend]))
    assert engine.observe(reading("sal-a", 5.0, 0)) == []  # Monday
    assert actions(engine.observe(reading("sal-a", 5.0, 5 * 24 * 60))) == ["firing"]  # Saturday


def silence(matchers: dict[str, str], start: float, end: float) -> SilenceRecord:
    return SilenceRecord("s1", matchers, at(start), at(end), "Lan (IOC)", "maintenance", at(start))


def test_silence_mutes_matching_alerts_until_it_ends() -> None:
    engine = RuleEngine(make_config([QUICK]))
    engine.add_silence(silence({"site": "long-phu"}, 0, 30))
    muted = engine.observe(reading("sal-a", 5.0, 1))
    loud = engine.observe(reading("sal-c", 5.0, 1))  # another site
    assert muted[0].notify == () and muted[0].payload.labels["muted_by"] == "silence:s1"
    assert loud[0].notify == ("dashboard", "hook")
    assert engine.tick(at(20)) == []
    after = engine.tick(at(31))  # the silence ended: the still-firing alert is pushed now
    assert actions(after) == ["firing"] and after[0].notify == ("dashboard", "hook")


def test_silence_expired_by_hand() -> None:
    engine = RuleEngine(make_config([QUICK]))
    engine.add_silence(silence({"rule": "salinity-intrusion"}, 0, 600))
    assert engine.observe(reading("sal-a", 5.0, 1))[0].notify == ()
    engine.expire_silence("s1", at(2))
    assert engine.tick(at(3))[0].notify == ("dashboard", "hook")


CAMERA_DOWN = {"id": "camera-down", "type": "camera_offline", "for": "0s"}
INTRUSION = {"id": "intrusion", "type": "object_in_zone", "camera": "gate", "zone": "entrance", "channels": ["hook"]}
INHIBIT = [{"source": {"rule": "camera-down"}, "target": {"kind": "detection"}, "equal": ["camera"]}]


def test_camera_offline_inhibits_that_cameras_detection_alerts() -> None:
    engine = RuleEngine(make_config([CAMERA_DOWN, INTRUSION], inhibitions=INHIBIT))
    down = engine.observe(CameraSample("gate", "offline", at(0)))
    assert actions(down) == ["firing"]
    event = DetectionSample("evt-test-0001", "gate", at(1), "zone_enter", at(1), zone="entrance", track_id=3)
    entered = engine.observe(event)
    assert actions(entered) == ["firing"]
    assert entered[0].notify == () and entered[0].payload.labels["muted_by"] == f"inhibited:{down[0].payload.id}"
    engine.observe(CameraSample("gate", "online", at(2)))
    assert engine.tick(at(3))[0].notify == ("hook",)  # no longer inhibited


def test_repeat_interval_until_acknowledged() -> None:
    engine = RuleEngine(make_config([rule(QUICK, repeat_interval="1h")]))
    fired = engine.observe(reading("sal-a", 5.0, 0))
    assert engine.tick(at(59)) == []
    repeat = engine.tick(at(60))
    assert actions(repeat) == ["repeat"] and repeat[0].notify == ("dashboard", "hook")
    ack = engine.acknowledge(fired[0].payload.id, "Minh", "on my way", at(61))
    assert ack.payload.state == "acknowledged" and ack.payload.acknowledged_by == "Minh"
    assert engine.tick(at(200)) == []


def test_escalation_when_not_acknowledged_in_time() -> None:
    tree = rule(QUICK, channels=["dashboard"], escalate_after="30m", escalate_to=["hook"], repeat_interval="6h")
    engine = RuleEngine(make_config([tree]))
    fired = engine.observe(reading("sal-a", 5.0, 0))
    assert fired[0].notify == ("dashboard",)
    assert engine.tick(at(29)) == []
    escalated = engine.tick(at(30))
    assert actions(escalated) == ["escalated"] and escalated[0].notify == ("hook",)
    assert engine.tick(at(31)) == []  # once
    resolved = engine.observe(reading("sal-a", 1.0, 40))
    assert resolved[0].notify == ("dashboard", "hook")  # the escalation channel hears the end too


def test_escalation_counts_from_server_time_not_device_time() -> None:
    """A late reading (device time 3 h ago) fires now; responders get their 30 minutes from now."""
    tree = rule(QUICK, channels=["dashboard"], escalate_after="30m", escalate_to=["hook"], repeat_interval="6h")
    engine = RuleEngine(make_config([tree]))
    fired = engine.observe(reading("sal-a", 5.0, 0), now=at(180))
    assert actions(fired) == ["firing"]
    assert engine.tick(at(181)) == []
    assert engine.tick(at(209)) == []
    escalated = engine.tick(at(210))
    assert actions(escalated) == ["escalated"] and escalated[0].notify == ("hook",)


def test_acknowledged_in_time_is_not_escalated() -> None:
    tree = rule(QUICK, escalate_after="30m", escalate_to=["responders"])
    engine = RuleEngine(make_config([tree]))
    fired = engine.observe(reading("sal-a", 5.0, 0))
    engine.acknowledge(fired[0].payload.id, "Minh", None, at(10))
    assert engine.tick(at(45)) == []


def test_manual_resolve_needs_the_condition_to_hold_again() -> None:
    engine = RuleEngine(make_config([QUICK]))
    fired = engine.observe(reading("sal-a", 5.0, 0))
    change = engine.resolve(fired[0].payload.id, "Minh", "sensor cleaned", at(1))
    assert change.payload.state == "resolved" and change.entry.actor == "Minh"
    again = engine.observe(reading("sal-a", 5.0, 2))
    assert actions(again) == ["firing"] and again[0].payload.id != fired[0].payload.id


def test_assign() -> None:
    engine = RuleEngine(make_config([QUICK]))
    fired = engine.observe(reading("sal-a", 5.0, 0))
    change = engine.assign(fired[0].payload.id, "Hoa", "Minh", at(1))
    assert change.payload.assignee == "Hoa" and change.entry.note == "assigned to Hoa"


def test_restart_keeps_a_firing_alert_and_does_not_fire_it_again() -> None:
    config = make_config([SALINITY_4])
    engine = RuleEngine(config)
    for minute, value in [(0, 4.5), (10, 4.6)]:
        engine.observe(reading("sal-a", value, minute))
    alert = next(engine.book.open_alerts())
    states = {key: state for key, state in engine.take_dirty().items() if state is not None}
    restarted = RuleEngine(config)
    restarted.load([alert], states, [])
    assert restarted.observe(reading("sal-a", 4.9, 15)) == []  # still firing: nothing new
    assert restarted.observe(reading("sal-a", 3.0, 20)) == []  # clearing starts
    resolved = restarted.observe(reading("sal-a", 3.0, 50))
    assert actions(resolved) == ["resolved"] and resolved[0].payload.id == alert.id


def test_reload_resolves_alerts_of_removed_rules_and_keeps_others() -> None:
    other = rule(QUICK, id="other", **{"raise": {"above": 2.0}, "clear": {"below": 1.0}})
    engine = RuleEngine(make_config([QUICK, other]))
    engine.observe(reading("sal-a", 5.0, 0))
    changes = engine.reload(make_config([other]), at(1))
    assert [(c.payload.rule_id, c.action) for c in changes] == [("salinity-intrusion", "resolved")]
    assert engine.observe(reading("sal-a", 5.0, 2)) == []  # "other" still firing, not again
    assert actions(engine.observe(reading("sal-a", 0.5, 3))) == ["resolved"]


def test_no_data_watches_configured_sensors_from_the_first_tick() -> None:
    engine = RuleEngine(make_config([{"id": "silent", "type": "no_data", "sensors": ["sal-a"], "after": "30m"}]))
    assert engine.tick(at(0)) == []
    fired = engine.tick(at(0) + timedelta(minutes=30))
    assert actions(fired) == ["firing"] and fired[0].payload.subject == "sal-a"
