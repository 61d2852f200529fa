"""Leader-only components follow leadership: started on each gain (late ones too), stopped on
each loss, a failed start retried while leader and logged once with its recovery; the app runs
the alert engine and retention on the leader only."""

from __future__ import annotations

import logging
from typing import cast

import pytest

from server.leader_only import LeaderOnlyComponents
from server.leadership import SoleLeadership
from server.metrics import Metrics
from server.state import Services
from tests.server.helpers import wait_until


class Recorder:
    """A component that records its starts and stops; its first `failures` starts raise."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.events: list[str] = []

    async def start(self, state: Services) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")


async def _true(value: bool) -> bool:
    return value


async def test_components_start_on_gain_and_stop_on_loss_late_ones_too() -> None:
    leadership, metrics = SoleLeadership(), Metrics()
    group = LeaderOnlyComponents(leadership, metrics)
    first, late = Recorder(), Recorder()
    await group.add(first)
    group.bind(cast(Services, object()))  # the recorders ignore the services
    assert first.events == []
    await leadership.start()
    assert first.events == ["start"] and metrics.leader._value.get() == 1
    await group.add(late)  # registered after the gain (another component's hook): started at once
    assert late.events == ["start"] and group.running == (first, late)
    await leadership.stop()
    assert first.events == ["start", "stop"] and late.events == ["start", "stop"] and group.running == ()
    assert metrics.leader._value.get() == 0


async def test_a_failed_start_is_retried_while_leader_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    leadership = SoleLeadership()
    group = LeaderOnlyComponents(leadership, Metrics(), retry_s=0.1)
    flaky = Recorder(failures=2)
    await group.add(flaky)
    group.bind(cast(Services, object()))
    await leadership.start()
    assert group.running == ()
    await wait_until(lambda: _true(group.running == (flaky,)), timeout=2, what="the retried start")
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert sum("Recorder failed to start; tried again every" in m for m in messages) == 1
    assert any("Recorder started after failing" in m for m in messages)
    assert group.start_failures == 2 and flaky.events == ["stop", "stop", "start"]
    await leadership.stop()
