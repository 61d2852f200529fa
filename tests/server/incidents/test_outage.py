"""The database goes away under the incident service (real PostgreSQL behind a TCP proxy that the
test cuts): an operator's comment is refused as unavailable (the API's 503) and kept, the failure
is logged once and counted, and once the database is back the tick saves it, with the recovery
logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.app import create_app
from server.incidents.service import IncidentsUnavailableError
from tests.fixtures.tcp_proxy import TcpProxy
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import count_rows, running_app, wait_until
from tests.server.incidents.appkit import fire, wait_for_alerts
from tests.server.incidents.test_api import SECRET, settings_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


async def test_a_change_made_while_the_database_is_away_is_kept_and_saved_when_it_is_back(
    pg_database: str, tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    proxy = TcpProxy.for_url(pg_database)
    proxy.start()
    settings = settings_for(proxy.url_through(pg_database), tmp_path, receiver)
    app = create_app(settings)
    try:
        async with running_app(settings, app) as client:
            await fire(app, "sal-1")
            incident = await wait_for_alerts(client, 1)
            proxy.stop()  # every connection cut, new ones refused
            # the API's own login check needs the database too: act on the service, as the route does
            service = app.state.ioc.incidents.service
            with pytest.raises(IncidentsUnavailableError, match="kept"):
                await service.act(lambda desk, now: desk.comment(incident["id"], "Mất kết nối CSDL", "an", now))
            proxy.start()
            query = "SELECT count(*) FROM incident_timeline WHERE kind = 'comment' AND incident_id = %s"

            async def saved() -> bool:
                return await count_rows(pg_database, query, incident["id"]) == 1

            await wait_until(saved, timeout=20, what="the kept comment saved")
            metrics = (await client.get("/metrics")).text
    finally:
        proxy.stop()
    failures = next(line for line in metrics.splitlines() if line.startswith("ioc_incident_failures_total"))
    assert float(failures.split()[1]) >= 1
    lost = [r for r in caplog.records if "incident changes not saved" in r.getMessage()]
    back = [r for r in caplog.records if "incident changes are saved again" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1
