"""The incident view in real headless Chromium (Debian's, driven by Playwright), in Vietnamese: a
responder of Long Phú logs in, finds the incident a salinity reading over MQTT opened, acknowledges
it, ticks the SOP steps, comments, sees each in the timeline, writes the shift handover note and
the next shift takes it over. Screenshots go to artifacts/console/."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from server.app import create_app
from server.auth.roles import Role
from server.auth.service import AuthService
from tests.fixtures.browser import ARTIFACTS
from tests.fixtures.services import MosquittoBroker, free_port
from tests.server.alerts.receiver import Receiver
from tests.server.console.conftest import fast_auth
from tests.server.helpers import Publisher, make_settings
from tests.server.incidents.scenario import SECRET, write_scenario

playwright_sync = pytest.importorskip("playwright.sync_api")

DAY, NIGHT = ("an.lp", "Ung-cuu-LP-2026!", "An"), ("chi.lp", "Ca-dem-LP-2026!", "Chi")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        return None


@pytest.fixture
def served(pg_database: str, mqtt_broker: MosquittoBroker, tmp_path: Path, topic_prefix: str) -> Iterator[str]:
    receiver = Receiver(SECRET, status=204)
    config = write_scenario(tmp_path, topic_prefix, receiver.url, repeat="1h")
    app = create_app(make_settings(pg_database, mqtt_broker.url, config), auth=fast_auth())
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)

    async def people() -> None:
        auth: AuthService = app.state.ioc.auth
        for name, password, shown in (DAY, NIGHT):
            await auth.create_user(name, password, Role.RESPONDER, shown, sites=["long-phu"])

    asyncio.run_coroutine_threadsafe(people(), server.servers[0].get_loop()).result(timeout=30)
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    reading = json.dumps({"v": 1, "value": 5.4, "ts": datetime.now(UTC).isoformat()})
    publisher.publish_all([(f"{topic_prefix}/sensors/sal-lp", reading)])
    yield f"http://127.0.0.1:{port}"
    publisher.close()
    server.should_exit = True
    thread.join(timeout=30)
    receiver.close()


def log_in(page: object, url: str, who: tuple[str, str, str]) -> None:
    page.goto(url)  # type: ignore[attr-defined]
    page.fill("#login-user", who[0])  # type: ignore[attr-defined]
    page.fill("#login-pass", who[1])  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_selector(f"#whoami:has-text('{who[2]} (responder)')")  # type: ignore[attr-defined]


def test_incident_view_sop_timeline_and_handover_in_vietnamese(served: str, page: object) -> None:
    p: object = page
    log_in(p, served, DAY)
    assert p.inner_text("#tabs button[data-tab=incidents]") == "Sự cố"  # type: ignore[attr-defined]
    p.click("#tabs button[data-tab=incidents]")  # type: ignore[attr-defined]
    p.wait_for_selector("#incident-list li[data-id]", timeout=10000)  # type: ignore[attr-defined]
    p.wait_for_selector("#incident-state[data-state=open]")  # type: ignore[attr-defined]
    assert p.inner_text("#incident-state") == "Mới"  # type: ignore[attr-defined]
    title = p.inner_text("#incident-title")  # type: ignore[attr-defined]
    assert "Xâm nhập mặn" in title and "Độ mặn Long Phú" in title and "sal-lp" not in title, title
    assert "Báo trạm thủy nông huyện" in p.inner_text("#sop-steps")  # type: ignore[attr-defined]
    for where in ("#incident-detail > p", "#incident-list li.selected"):  # the site by its name
        shown = p.inner_text(where)  # type: ignore[attr-defined]
        assert "Huyện Long Phú" in shown and "long-phu" not in shown and "sal-lp" not in shown, shown

    p.click("button[data-to=acknowledged]")  # type: ignore[attr-defined]
    p.wait_for_selector("#incident-state[data-state=acknowledged]")  # type: ignore[attr-defined]
    assert p.inner_text("#incident-state") == "Đã tiếp nhận"  # type: ignore[attr-defined]
    for step in ("notify-irrigation", "close-sluice"):
        p.check(f"input[data-step={step}]")  # type: ignore[attr-defined]
        p.wait_for_selector(f"input[data-step={step}]:checked")  # type: ignore[attr-defined]
    p.wait_for_function("() => document.querySelectorAll('#incident-timeline li[data-kind=step]').length === 2")  # type: ignore[attr-defined]
    p.fill("#incident-comment", "Đã báo trạm thủy nông, cống đã đóng")  # type: ignore[attr-defined]
    p.press("#incident-comment", "Enter")  # type: ignore[attr-defined]
    p.wait_for_selector("#incident-timeline li[data-kind=comment]")  # type: ignore[attr-defined]
    timeline = p.inner_text("#incident-timeline")  # type: ignore[attr-defined]
    for text in ("Mở sự cố: Xâm nhập mặn", "Độ mặn Long Phú", "Trạng thái: Đã tiếp nhận", "an.lp", "— hệ thống"):
        assert text in timeline, timeline
    for text in ("Bước quy trình: Báo trạm thủy nông huyện ✓", "Bước quy trình: Đóng cống ngăn mặn ✓"):
        assert text in timeline, timeline
    assert "Đã báo trạm thủy nông, cống đã đóng" in timeline
    assert not any(word in timeline for word in ("sal-lp", "notify-irrigation", "close-sluice", "long-phu"))
    p.screenshot(path=str(ARTIFACTS / "incident.png"))  # type: ignore[attr-defined]

    p.click("#lang-toggle")  # type: ignore[attr-defined]  # English: the SOP's own English texts
    p.wait_for_function("() => document.getElementById('incident-timeline').textContent.includes('SOP step')")  # type: ignore[attr-defined]
    timeline = p.inner_text("#incident-timeline")  # type: ignore[attr-defined]
    for text in ("SOP step: Notify the irrigation station ✓", "SOP step: Close the sluice gate ✓", "Độ mặn Long Phú"):
        assert text in timeline, timeline
    assert "Notify the irrigation station" in p.inner_text("#sop-steps")  # type: ignore[attr-defined]
    assert "notify-irrigation" not in timeline and "sal-lp" not in p.inner_text("#incident-title")  # type: ignore[attr-defined]
    p.screenshot(path=str(ARTIFACTS / "incident-en.png"))  # type: ignore[attr-defined]
    p.click("#lang-toggle")  # type: ignore[attr-defined]
    p.wait_for_function("() => document.getElementById('incident-timeline').textContent.includes('Bước quy trình')")  # type: ignore[attr-defined]

    p.wait_for_selector("#handover-open li[data-id]")  # type: ignore[attr-defined]  # the shift's open items
    assert "Đã tiếp nhận" in p.inner_text("#handover-open")  # type: ignore[attr-defined]
    assert "Độ mặn Long Phú" in p.inner_text("#handover-open")  # type: ignore[attr-defined]
    p.fill("#handover-text", "Ca ngày: sự cố mặn Long Phú đã tiếp nhận, chờ kết quả đo")  # type: ignore[attr-defined]
    p.click("#handover-write")  # type: ignore[attr-defined]
    p.wait_for_selector(".handover-card #handover-ack")  # type: ignore[attr-defined]
    assert "chờ kết quả đo" in p.inner_text(".handover-card")  # type: ignore[attr-defined]
    assert "Đã tiếp nhận" in p.inner_text(".handover-card")  # type: ignore[attr-defined]

    p.click("#logout")  # type: ignore[attr-defined]
    log_in(p, served, NIGHT)
    p.click("#tabs button[data-tab=incidents]")  # type: ignore[attr-defined]
    p.wait_for_selector(".handover-card #handover-ack")  # type: ignore[attr-defined]
    p.click("#handover-ack")  # type: ignore[attr-defined]
    p.wait_for_selector("#handover-acked")  # type: ignore[attr-defined]
    assert "Đã nhận ca: chi.lp" in p.inner_text("#handover-acked")  # type: ignore[attr-defined]
    p.screenshot(path=str(ARTIFACTS / "handover.png"))  # type: ignore[attr-defined]
