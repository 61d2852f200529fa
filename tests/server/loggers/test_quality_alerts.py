"""Calibrating and instrument-error readings reach the alert engine (live or by catch-up) but
never raise or clear an alert."""

from __future__ import annotations

from contract.timeutil import utc_now
from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine
from server.alerts.repository import MemoryRepository
from server.notify.base import Dispatcher
from server.notify.hub import AlertHub
from server.store.records import StoredReading
from tests.server.alerts.configs import SALINITY_4, at, make_config, rule

QUICK = rule(SALINITY_4, **{"raise": {"above": 4.0}, "clear": {"below": 3.5}}, sensors=["sal-a"])


def engine_for() -> tuple[RuleEngine, AlertEngine]:
    core = RuleEngine(make_config([QUICK]))
    return core, AlertEngine(core, MemoryRepository(), Dispatcher(AlertHub(), {}, frozenset()), utc_now)


async def test_flagged_readings_neither_raise_nor_clear() -> None:
    core, engine = engine_for()
    await engine.on_readings([StoredReading("sal-a", at(0), 9.0, at(0), "calibrating")])
    await engine.on_readings([StoredReading("sal-a", at(1), 9.5, at(1), "error")])
    assert list(core.book.open_alerts()) == []

    await engine.on_readings([StoredReading("sal-a", at(2), 9.0, at(2))])  # a normal reading: the rule works
    assert [(a.subject, a.state) for a in core.book.open_alerts()] == [("sal-a", "firing")]
    await engine.on_readings([StoredReading("sal-a", at(3), 1.0, at(3), "calibrating")])  # would clear
    assert [a.state for a in core.book.open_alerts()] == ["firing"]
    assert engine.cursor.readings == at(3)  # seen (the catch-up cursor moves), just not evaluated
