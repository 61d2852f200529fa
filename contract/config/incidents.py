"""Incidents: how rules open them (`incident:` on a rule), standard operating procedures
(`sops:`), and escalation policies (`escalations:`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from contract.config.types import Duration, Identifier, LocalText, PositiveDuration, StrictModel

GroupPolicy = Literal["site", "rule_group"]


class IncidentOptions(StrictModel):
    """A rule's alerts open (or join) incidents."""

    type: Identifier | None = None
    """incident type (defaults to the rule id); SOPs and reports group by it"""
    group: GroupPolicy = "site"
    """`site`: alerts at the same site within `window` join one incident; `rule_group`: alerts of
    rules with the same `rule_group` within `window`"""
    rule_group: Identifier | None = None
    """the group name, for `group: rule_group`"""
    window: PositiveDuration = Field(default=timedelta(minutes=15))
    """an alert joins an incident whose last alert is at most this old"""
    sop: Identifier | None = None
    """the SOP responders follow (default: the SOP naming this incident type)"""
    escalation: Identifier | None = None
    """the escalation policy (default: the policy naming the incident's site)"""

    @model_validator(mode="after")
    def _group_named(self) -> IncidentOptions:
        if (self.group == "rule_group") != (self.rule_group is not None):
            raise ValueError("'group: rule_group' and 'rule_group' go together")
        return self


class SopStep(StrictModel):
    id: Identifier
    text: LocalText
    """what to do"""
    required: bool = True
    """an incident cannot be closed while a required step is open (unless overridden with a reason)"""


class Sop(StrictModel):
    """A standard operating procedure: ordered steps a responder ticks."""

    id: Identifier
    title: LocalText
    types: list[Identifier] = Field(default_factory=list)
    """incident types that follow this SOP when their rule names none"""
    steps: list[SopStep] = Field(min_length=1, max_length=50)


class EscalationLevel(StrictModel):
    after: Duration = Field(default=timedelta(0))
    """delay after the previous level (for the first: after the incident opened)"""
    channels: list[Identifier] = Field(min_length=1)
    """push channels (mqtt, webhook) notified at this level"""


class EscalationPolicy(StrictModel):
    """Levels of channels notified until someone acknowledges; then, with `ack_timeout`, again
    whenever an acknowledged incident sees no progress for that long."""

    id: Identifier
    sites: list[Identifier] = Field(default_factory=list)
    """the default policy for incidents at these sites"""
    levels: list[EscalationLevel] = Field(min_length=1, max_length=10)
    repeat_after: PositiveDuration = Field(default=timedelta(minutes=15))
    """after the last level, start again from the first this long after it (until acknowledged)"""
    ack_timeout: PositiveDuration | None = None
    """acknowledged (or in progress) with no progress this long: notify the first level again"""
