"""The per-reading path: readings of sensors no rule watches are skipped before sampling."""

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


async def test_only_watched_sensors_reach_the_rules() -> None:
    core = RuleEngine(make_config([QUICK]))
    engine = AlertEngine(core, MemoryRepository(), Dispatcher(AlertHub(), {}, frozenset()), utc_now)
    assert core.index.watches_sensor("sal-a") and not core.index.watches_sensor("sal-b")
    await engine.on_readings([StoredReading("sal-b", at(0), 9.0, at(0)), StoredReading("sal-a", at(0), 9.0, at(0))])
    assert [(a.subject, a.state) for a in core.book.open_alerts()] == [("sal-a", "firing")]
    assert set(core.states) == {("salinity-intrusion", "sal-a")}
