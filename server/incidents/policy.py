"""What streams.yaml says about an incident: which rule opens one, its group, SOP and escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from contract.config.incidents import EscalationPolicy, IncidentOptions, Sop
from contract.config.root import StreamsConfig


@dataclass(frozen=True, slots=True)
class Grouping:
    key: str
    window: timedelta
    type: str
    options: IncidentOptions


def grouping_of(config: StreamsConfig, rule_id: str, site: str | None) -> Grouping | None:
    """The group an alert of `rule_id` at `site` joins; None when the rule opens no incidents."""
    rule = next((r for r in config.rules if r.id == rule_id), None)
    if rule is None or rule.incident is None:
        return None
    options = rule.incident
    key = f"group:{options.rule_group}" if options.group == "rule_group" else f"site:{site or '-'}"
    return Grouping(key, options.window, options.type or rule.id, options)


def sop_for(config: StreamsConfig, incident_type: str, options: IncidentOptions | None) -> Sop | None:
    if options is not None and options.sop is not None:
        return config.sop(options.sop)
    return next((sop for sop in config.sops if incident_type in sop.types), None)


def escalation_for(config: StreamsConfig, site: str | None, options: IncidentOptions | None) -> EscalationPolicy | None:
    if options is not None and options.escalation is not None:
        return config.escalation(options.escalation)
    return next((policy for policy in config.escalations if site is not None and site in policy.sites), None)
