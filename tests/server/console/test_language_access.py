"""Every view of the console in both languages, in real Chromium: no untranslated key, no English
left in the Vietnamese DOM (texts, labels, titles, placeholders), event kinds and objects named,
alert titles with the sensor's name, the configured title, assign / silence as dialogs (no prompt()),
and axe-core (npm, server/web/node_modules) finding no serious violation. Screenshots in artifacts/console/."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.auth.roles import Role
from tests.server.console.conftest import ARTIFACTS, PASSWORDS, LiveServer, log_in
from tests.server.console.overlay_events import detection_event, events_topic
from tests.server.helpers import Publisher

AXE = Path(__file__).resolve().parents[3] / "server" / "web" / "node_modules" / "axe-core" / "axe.min.js"
VIEWS = ["overview", "wall", "sensors", "map", "events"]

# Every text the user can read or hear: text nodes, and the labels, titles, placeholders and alt texts.
READABLE = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest('script,style,[hidden],.hidden') || !el.getClientRects().length) continue;
    const text = node.textContent.trim();
    if (text) out.push(text);
  }
  document.querySelectorAll('[aria-label],[title],[placeholder],img[alt]').forEach((el) => {
    ['aria-label', 'title', 'placeholder', 'alt'].forEach((a) => {
      const v = el.getAttribute(a); if (v) out.push(v.trim());
    });
  });
  return out;
}"""

# English strings that differ from their Vietnamese twin (and are words, not "‰" or "1 h").
ENGLISH_ONLY = """() => Object.entries(STRINGS.en)
  .filter(([k, v]) => STRINGS.vi[k] !== v && /[A-Za-z]{3}/.test(v)).map(([k, v]) => v)"""

SERIOUS = """async () => {
  const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'], resultTypes: ['violations'] });
  return result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}"""


def show(browser: object, view: str) -> None:
    browser.click(f"#tabs [data-tab={view}]")  # type: ignore[attr-defined]
    browser.wait_for_selector(f"#panel-{view}:not([hidden])")  # type: ignore[attr-defined]
    time.sleep(0.6)


def test_every_view_in_both_languages_is_translated_and_accessible(
    served_console: LiveServer,
    page: object,
    mqtt_broker: object,
) -> None:
    prefix = served_console.app.state.ioc.config.mqtt.topic_prefix
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    try:
        reading = {"value": 5.2, "ts": datetime.now(UTC).isoformat()}
        publisher.publish_all(
            [
                (events_topic(prefix), detection_event(kind="object_seen").model_dump_json()),
                (f"{prefix}/sensors/sal-1", json.dumps(reading)),
            ]
        )
    finally:
        publisher.close()
    log_in(page, served_console.url, "operator", PASSWORDS[Role.OPERATOR])
    page.wait_for_selector("#alert-feed li.sev-critical", timeout=20000)  # type: ignore[attr-defined]
    assert page.evaluate("() => document.documentElement.lang") == "vi"  # type: ignore[attr-defined]
    assert page.inner_text("header h1") == "IOC Sóc Trăng"  # type: ignore[attr-defined]  # from streams.yaml

    # The alert's title names the sensor, not its id.
    title = page.inner_text("#alert-feed li.sev-critical .summary")  # type: ignore[attr-defined]
    assert "Độ mặn kênh Long Phú" in title and "sal-1" not in title, title

    english = set(page.evaluate(ENGLISH_ONLY))  # type: ignore[attr-defined]
    assert "Acknowledge" in english and "Cameras" in english
    for view in VIEWS:
        show(page, view)
        texts = page.evaluate(READABLE)  # type: ignore[attr-defined]
        assert len(texts) > 25, texts
        leftovers = [text for text in texts if text in english]
        assert not leftovers, f"English in the Vietnamese {view} view: {leftovers}"
        raw = [t for t in texts if t in ("object_seen", "person", "zone_enter", "sal-1")]
        assert not raw, f"raw identifiers shown in {view}: {raw}"
        page.screenshot(path=str(ARTIFACTS / f"view-{view}-vi.png"))  # type: ignore[attr-defined]
    page.wait_for_selector("#events tbody tr")  # type: ignore[attr-defined]
    row = page.inner_text("#events tbody tr")  # type: ignore[attr-defined]
    assert "Xuất hiện" in row and "Người" in row, row

    # The dialogs replace prompt(): assign to the responder; silence is offered and can be cancelled.
    show(page, "wall")
    page.on("dialog", lambda d: pytest.fail(f"a browser prompt was used: {d.message}"))  # type: ignore[attr-defined]
    page.click("#alert-feed li.sev-critical button[data-action=assign]")  # type: ignore[attr-defined]
    page.wait_for_selector("#assign-dialog[open]")  # type: ignore[attr-defined]
    assert page.evaluate("() => document.activeElement.name") == "assignee"  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "dialog-assign.png"))  # type: ignore[attr-defined]
    page.fill("#assign-dialog input[name=assignee]", "responder")  # type: ignore[attr-defined]
    page.click("#assign-dialog button[value=ok]")  # type: ignore[attr-defined]
    page.wait_for_selector("#assign-dialog:not([open])", state="attached")  # type: ignore[attr-defined]
    page.wait_for_selector("#alert-feed li.sev-critical .meta:has-text('responder')")  # type: ignore[attr-defined]
    page.click("#alert-feed li.sev-critical button[data-action=silence]")  # type: ignore[attr-defined]
    page.wait_for_selector("#silence-dialog[open]")  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_selector("#silence-dialog:not([open])", state="attached")  # type: ignore[attr-defined]

    # Tabs are a keyboard-usable tablist.
    page.focus("#tabs [data-tab=wall]")  # type: ignore[attr-defined]
    page.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
    assert page.get_attribute("#tabs [data-tab=sensors]", "aria-selected") == "true"  # type: ignore[attr-defined]
    assert page.locator("#panel-wall").is_hidden()  # type: ignore[attr-defined]

    # English: every view, and no key missing in either language.
    page.click("#lang-toggle")  # type: ignore[attr-defined]
    for view in VIEWS:
        show(page, view)
        page.screenshot(path=str(ARTIFACTS / f"view-{view}-en.png"))  # type: ignore[attr-defined]
    assert "Person" in page.inner_text("#events tbody tr")  # type: ignore[attr-defined]
    assert page.title() == "Sóc Trăng IOC"  # type: ignore[attr-defined]
    assert page.evaluate("() => [...I18N.missing]") == []  # type: ignore[attr-defined]

    # axe-core: no serious or critical WCAG 2 A/AA violation, in each view.
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run scripts/setup-dev.sh (npm ci in server/web)")
    page.click("#lang-toggle")  # type: ignore[attr-defined]
    page.add_script_tag(path=str(AXE))  # type: ignore[attr-defined]
    for view in VIEWS:
        show(page, view)
        violations = page.evaluate(SERIOUS)  # type: ignore[attr-defined]
        assert not violations, f"axe-core in the {view} view: {violations}"


def test_events_are_grouped_into_activities(
    served_console: LiveServer,
    page: object,
    mqtt_broker: object,
) -> None:
    """Track 7 is seen, enters the pier, leaves it and is gone; track 8 is only seen and gone: two rows,
    the seen/gone noise folded into them; 'every event' shows the six."""
    prefix = served_console.app.state.ioc.config.mqtt.topic_prefix
    kinds = [(7, "object_seen", None), (7, "zone_enter", "pier"), (7, "zone_exit", "pier"), (7, "object_gone", None)]
    kinds += [(8, "object_seen", None), (8, "object_gone", None)]
    events = [
        detection_event(track_id=track, kind=kind, age_s=60 - i).model_copy(update={"zone": zone})
        for i, (track, kind, zone) in enumerate(kinds)
    ]
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    try:
        publisher.publish_all([(events_topic(prefix), event.model_dump_json()) for event in events])
    finally:
        publisher.close()
    log_in(page, served_console.url + "/#events", "viewer", PASSWORDS[Role.VIEWER])
    page.wait_for_selector("#panel-events:not([hidden])")  # type: ignore[attr-defined]
    deadline = time.monotonic() + 15
    while page.evaluate("() => Events.items.length") < 6:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the six events were not listed"
        page.click("#event-filter button[type=submit]")  # type: ignore[attr-defined]
        time.sleep(0.5)
    rows = page.eval_on_selector_all("#events tbody tr.activity", "els => els.map((e) => e.innerText)")  # type: ignore[attr-defined]
    assert len(rows) == 2, rows
    newest, older = rows  # newest activity first: track 8
    assert "Xuất hiện rồi rời đi" in newest and "2 sự kiện" in newest
    assert "Vào vùng" in older and "Ra khỏi vùng" in older and "pier" in older and "4 sự kiện" in older
    assert not any("Rời đi" in row.split("\t")[2] for row in rows)  # gone is folded away
    page.screenshot(path=str(ARTIFACTS / "events-activities.png"))  # type: ignore[attr-defined]
    page.check("#event-raw")  # type: ignore[attr-defined]
    assert page.locator("#events tbody tr").count() == 6  # type: ignore[attr-defined]
