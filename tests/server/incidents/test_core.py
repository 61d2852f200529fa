"""The incident desk with time moved by the test: grouping, states, severity, links, timeline,
SOP gating and escalation (levels, repeats, the ack timeout), table-driven where the cases are alike."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from server.incidents.core import (
    IncidentDesk,
    IncidentNotFoundError,
    SopGateError,
    TransitionError,
    UnknownStepError,
)
from server.incidents.escalation import delivery_id
from server.incidents.model import IncidentState, Notification
from tests.server.alerts.configs import at
from tests.server.incidents.configs import alert, incident_config


def desk(group: str = "site", window: str = "15m") -> IncidentDesk:
    numbers = itertools.count(1)
    return IncidentDesk(incident_config(group, window), new_id=lambda: f"inc-{next(numbers)}")


@pytest.mark.parametrize(
    ("group", "second_rule", "second_site", "minutes_later", "incidents"),
    [
        ("site", "market-crowd", "long-phu", 5, 1),  # a crowd at the same site within the window joins
        ("site", "market-crowd", "long-phu", 20, 2),  # after the window: a new incident
        ("site", "market-crowd", "tran-de", 5, 2),  # another site: another incident
        ("site", "plain", "long-phu", 5, 1),  # a rule without `incident:` opens nothing
        ("rule_group", "market-crowd", "tran-de", 5, 1),  # same rule group, any site
        ("rule_group", "market-crowd", "tran-de", 16, 2),
    ],
)
def test_grouping(group: str, second_rule: str, second_site: str, minutes_later: float, incidents: int) -> None:
    d = desk(group)
    first = d.on_alert(alert("salinity-intrusion", "sal-a", at(0)), "firing", at(0))
    assert first is not None and first.incident.state == "open"
    d.on_alert(alert(second_rule, "gate", at(minutes_later), site=second_site), "firing", at(minutes_later))
    assert len(d.incidents) == incidents
    if incidents == 1 and second_rule != "plain":
        assert len(first.incident.alerts) == 2


def test_pending_alerts_open_nothing_and_rules_without_incident_are_ignored() -> None:
    d = desk()
    assert d.on_alert(alert("salinity-intrusion", "sal-a", at(0), state="pending"), "pending", at(0)) is None
    assert d.on_alert(alert("plain", "sal-a", at(0)), "firing", at(0)) is None
    assert d.incidents == {}


def test_a_linked_alert_changing_adds_a_timeline_entry_and_a_replay_adds_none() -> None:
    d = desk()
    fired = alert("salinity-intrusion", "sal-a", at(0))
    opened = d.on_alert(fired, "firing", at(0))
    assert opened is not None and [e.kind for e in opened.entries] == ["opened", "linked"]
    assert d.on_alert(fired, "firing", at(1)) is None  # the same state again (a snapshot replay)
    resolved = fired.model_copy(update={"state": "resolved"})
    change = d.on_alert(resolved, "resolved", at(2))
    assert change is not None and change.entries[0].kind == "alert" and change.entries[0].data["state"] == "resolved"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["acknowledged", "in_progress", "resolved", "closed"], True),
        (["in_progress", "resolved", "closed"], True),
        (["resolved", "in_progress", "resolved", "closed"], True),  # reopened
        (["closed"], False),
        (["acknowledged", "open"], False),
        (["resolved", "closed", "in_progress"], False),
        (["acknowledged", "acknowledged"], False),
    ],
)
def test_state_transitions(path: list[IncidentState], allowed: bool) -> None:
    d = desk()
    incident = _open(d)
    d.override(incident, "drill", "op", at(1))
    attempt = lambda: [d.transition(incident, to, "op", at(2 + i)) for i, to in enumerate(path)]  # noqa: E731
    if allowed:
        changes = attempt()
        final = changes[-1].incident
        assert final.state == "closed" and final.closed_by == "op" and final.resolved_at is not None
        assert incident not in d.incidents  # closed incidents leave the desk
    else:
        with pytest.raises((TransitionError, IncidentNotFoundError)):  # a closed incident has left the desk
            attempt()


def test_who_and_when_are_stamped() -> None:
    d = desk()
    incident = _open(d)
    d.transition(incident, "acknowledged", "an", at(3))
    d.transition(incident, "resolved", "binh", at(9))
    found = d.get(incident)
    assert (found.acknowledged_by, found.acknowledged_at) == ("an", at(3))
    assert (found.resolved_by, found.resolved_at) == ("binh", at(9))


def test_severity_is_the_highest_of_its_alerts_unless_set() -> None:
    d = desk()
    warning = alert("market-crowd", "gate", at(0), severity="warning")
    opened = d.on_alert(warning, "firing", at(0))
    assert opened is not None and opened.incident.severity == "warning"
    critical = alert("salinity-intrusion", "sal-a", at(1))
    d.on_alert(critical, "firing", at(1))
    incident = opened.incident
    assert incident.severity == "critical"
    d.set_severity(incident.id, "info", "op", at(2))
    assert incident.severity == "info"
    d.set_severity(incident.id, None, "op", at(3))
    d.unlink(incident.id, critical.id, "op", at(4))
    assert incident.severity == "warning" and critical.id not in d.by_alert


def test_link_unlink_and_open_from_any_alert() -> None:
    d = desk()
    plain = alert("plain", "sal-b", at(0))
    opened = d.open_from_alert(plain, "op", at(0))
    assert opened.incident.type == "plain" and opened.incident.opened_by == "op"
    with pytest.raises(TransitionError, match="already in incident"):
        d.open_from_alert(plain, "op", at(1))
    other = alert("plain", "sal-c", at(1), site="tran-de")
    d.link(opened.incident.id, other, "op", at(2))
    with pytest.raises(TransitionError):
        d.link(opened.incident.id, other, "op", at(3))
    d.unlink(opened.incident.id, other.id, "op", at(4))
    with pytest.raises(IncidentNotFoundError):
        d.unlink(opened.incident.id, other.id, "op", at(5))


def test_timeline_holds_actions_comments_attachments_and_steps_in_order_with_actors() -> None:
    d = desk()
    incident = _open(d)
    kinds = [
        d.transition(incident, "acknowledged", "an", at(1)),
        d.assign(incident, "an", "op", at(2)),
        d.comment(incident, "đã gọi trạm", "an", at(3)),
        d.attach(incident, "snapshot", "event-1", "an", at(4)),
        d.tick_step(incident, "notify-station", True, "an", at(5)),
    ]
    entries = [entry for change in kinds for entry in change.entries]
    assert [(e.kind, e.actor) for e in entries] == [
        ("state", "an"),
        ("assigned", "op"),
        ("comment", "an"),
        ("attachment", "an"),
        ("step", "an"),
    ]
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_sop_gates_closing_until_required_steps_are_ticked_or_overridden() -> None:
    d = desk()
    incident = _open(d)
    assert d.get(incident).sop_id == "salinity-sop"  # the SOP naming the incident type
    d.transition(incident, "resolved", "an", at(1))
    with pytest.raises(SopGateError, match="notify-station, close-gate"):
        d.transition(incident, "closed", "an", at(2))
    d.tick_step(incident, "notify-station", True, "an", at(3))
    d.tick_step(incident, "close-gate", True, "an", at(4))
    d.tick_step(incident, "close-gate", False, "an", at(5))  # unticked again
    with pytest.raises(SopGateError, match="close-gate"):
        d.transition(incident, "closed", "an", at(6))
    with pytest.raises(TransitionError, match="reason"):
        d.override(incident, "  ", "op", at(7))
    override = d.override(incident, "cống hỏng, đã báo huyện", "op", at(7))
    assert override.entries[0].data == {"open_steps": ["close-gate"]}
    assert d.transition(incident, "closed", "op", at(8)).incident.state == "closed"


def test_ticking_all_required_steps_allows_closing_and_unknown_steps_are_refused() -> None:
    d = desk()
    incident = _open(d)
    with pytest.raises(UnknownStepError):
        d.tick_step(incident, "no-such-step", True, "an", at(1))
    for step in ("notify-station", "close-gate"):
        d.tick_step(incident, step, True, "an", at(1))
    d.transition(incident, "resolved", "an", at(2))
    assert d.transition(incident, "closed", "an", at(3)).incident.closed_at == at(3)


def _notices(d: IncidentDesk, minutes: list[float]) -> list[tuple[float, str, int, int, tuple[str, ...]]]:
    found = []
    for minute in minutes:
        for change in d.due_notices(at(minute)):
            n = change.notices[0]
            found.append((minute, n.kind, n.round, n.level, n.channels))
    return found


def test_escalation_walks_the_levels_and_repeats_until_acknowledged() -> None:
    d = desk()
    incident = _open(d)
    minutes = [m / 2 for m in range(0, 61)]  # a tick every 30 s for half an hour
    seen = _notices(d, minutes[:45])  # until 22 min
    assert seen == [
        (0.0, "escalation", 0, 0, ("hook",)),
        (5.0, "escalation", 0, 1, ("responders",)),
        (15.0, "escalation", 1, 0, ("hook",)),  # repeat_after 10 m after the last level
        (20.0, "escalation", 1, 1, ("responders",)),
    ]
    d.transition(incident, "acknowledged", "an", at(22.5))
    assert _notices(d, [m for m in minutes if m > 22.5]) == []


def test_an_acknowledged_incident_without_progress_renotifies_after_the_ack_timeout() -> None:
    d = desk()
    incident = _open(d)
    d.due_notices(at(0))
    d.transition(incident, "acknowledged", "an", at(1))
    assert _notices(d, [30, 31]) == [(31, "stale", 0, 0, ("hook",))]
    d.comment(incident, "đang xử lý", "an", at(40))  # progress: the clock restarts
    assert _notices(d, [61, 69.5, 70, 71]) == [(70, "stale", 1, 0, ("hook",))]
    d.transition(incident, "resolved", "an", at(72))
    assert _notices(d, [200]) == []


def test_a_late_tick_sends_the_level_due_once_and_skips_none() -> None:
    """After downtime (ticks stopped from 1 to 60 min) the levels still come one by one."""
    d = desk()
    _open(d)
    assert _notices(d, [0, 60, 60, 69, 70]) == [
        (0, "escalation", 0, 0, ("hook",)),
        (60, "escalation", 0, 1, ("responders",)),  # due at 5, sent at 60: once
        (70, "escalation", 1, 0, ("hook",)),  # then the next round, 10 m later
    ]


def test_delivery_ids_are_stable_per_notice_and_channel() -> None:
    notice = Notification("inc-1", "escalation", 1, 0, ("hook", "responders"))
    again = Notification("inc-1", "escalation", 1, 0, ("hook",))
    assert delivery_id(notice, "hook") == delivery_id(again, "hook") != delivery_id(notice, "responders")
    assert delivery_id(notice, "hook") != delivery_id(Notification("inc-1", "escalation", 1, 1, ()), "hook")


def _open(d: IncidentDesk, when: datetime | None = None) -> str:
    change = d.on_alert(alert("salinity-intrusion", "sal-a", when or at(0)), "firing", when or at(0))
    assert change is not None
    return change.incident.id


def test_an_alert_still_firing_after_its_incident_closed_opens_nothing_new() -> None:
    d = desk()
    fired = alert("salinity-intrusion", "sal-a", at(0))
    incident = _open(d)
    d.override(incident, "drill", "op", at(1))
    d.transition(incident, "resolved", "op", at(2))
    d.transition(incident, "closed", "op", at(3))
    assert d.on_alert(fired, "firing", at(4)) is None  # a replay of the open alerts (a resubscription)
    with pytest.raises(TransitionError, match="already in incident"):
        d.open_from_alert(fired, "op", at(5))
    assert d.on_alert(fired.model_copy(update={"state": "resolved"}), "resolved", at(6)) is None
    assert fired.id not in d.settled and d.incidents == {}


def test_settled_alerts_restored_at_start_open_nothing() -> None:
    d = desk()
    fired = alert("salinity-intrusion", "sal-a", at(0))
    d.load([], settled=[(fired.id, "inc-closed")])
    assert d.on_alert(fired, "firing", at(1)) is None and d.owner(fired.id) == "inc-closed"


def test_incidents_resolved_long_ago_leave_memory_and_their_alerts_open_nothing() -> None:
    d = desk()
    fired = alert("salinity-intrusion", "sal-a", at(0))
    incident = _open(d)
    d.transition(incident, "resolved", "op", at(10))
    assert d.evict_resolved(at(10)) == 0  # resolved just now: kept
    assert d.evict_resolved(at(11)) == 1 and incident not in d.incidents
    assert d.on_alert(fired, "firing", at(12)) is None and d.owner(fired.id) == incident
    evicted = d.settled.copy()
    assert list(evicted) == [fired.id]
