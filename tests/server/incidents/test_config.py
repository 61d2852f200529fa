"""`incident:` on rules, `sops:` and `escalations:` in streams.yaml: accepted when whole, and each
mistake reported with its file, line and key."""

from __future__ import annotations

import textwrap

import pytest

from contract.config import ConfigError, parse_config

BASE = """\
sites:
  - {id: long-phu, name: Long Phu}
sensors:
  - {id: sal-1, name: Salinity, kind: salinity, unit: "‰", site: long-phu}
channels:
  - {id: hook, type: webhook, url: "http://127.0.0.1:9/h", secret: "0123456789abcdef0123"}
sops:
  - id: salinity-sop
    title: {vi: Xâm nhập mặn, en: Salinity intrusion}
    steps:
      - {id: notify, text: {vi: Báo trạm, en: Notify the station}}
      - {id: speakers, text: {vi: Loa phường, en: Loudspeakers}, required: false}
escalations:
  - id: duty
    sites: [long-phu]
    levels:
      - {channels: [hook]}
      - {after: 5m, channels: [hook]}
    ack_timeout: 30m
rules:
  - id: salt
    type: threshold
    sensors: [sal-1]
    raise: {above: 4}
    clear: {below: 3.5}
    incident: {type: salinity, window: 15m, sop: salinity-sop, escalation: duty}
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, filename="streams.yaml", env={})
    return [issue.render("streams.yaml") for issue in caught.value.issues]


def test_a_whole_incident_config_is_accepted() -> None:
    config = parse_config(textwrap.dedent(BASE), env={})
    incident = config.rules[0].incident
    assert incident is not None and incident.sop == "salinity-sop" and incident.window.total_seconds() == 900
    sop = config.sop("salinity-sop")
    assert sop is not None and [s.required for s in sop.steps] == [True, False]
    policy = config.escalation("duty")
    assert policy is not None and [level.after.total_seconds() for level in policy.levels] == [0, 300]


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("sop: salinity-sop,", "sop: salt-sop,", "streams.yaml:26: rules[0].incident.sop: unknown SOP 'salt-sop'"),
        ("escalation: duty}", "escalation: night}", "rules[0].incident.escalation: unknown escalation 'night'"),
        ("- {after: 5m, channels: [hook]}", "- {after: 5m, channels: [sms]}",
         "streams.yaml:18: escalations[0].levels[1].channels[0]: unknown channel 'sms'"),
        ("sites: [long-phu]", "sites: [long-fu]", "escalations[0].sites[0]: unknown site 'long-fu'"),
        ("window: 15m,", "group: rule_group, window: 15m,", "'group: rule_group' and 'rule_group' go together"),
        ("- {id: speakers,", "- {id: notify,", "sops[0].steps[1].id: duplicate id 'notify'"),
        ("{vi: Báo trạm, en: Notify the station}", "{vi: Báo trạm}", "sops[0].steps[0].text.en"),
    ],
)  # fmt: skip
def test_mistakes_are_reported_with_their_line_and_key(old: str, new: str, error: str) -> None:
    assert old in BASE
    errors = _errors(BASE.replace(old, new))
    assert any(error in line for line in errors), errors
