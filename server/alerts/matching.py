"""Label matchers, silences and inhibitions: which alerts are muted, and by what."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from contract.config.rules import Inhibition

Labels = Mapping[str, str]


def matches(matchers: Mapping[str, str], labels: Labels) -> bool:
    """Every matcher equals the label of the same name (a value `*` only needs the label present)."""
    return all(name in labels and (value == "*" or labels[name] == value) for name, value in matchers.items())


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """A silence: alerts whose labels match are not pushed to responders between start and end."""

    id: str
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    author: str
    reason: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Labels, now: datetime) -> bool:
        return self.active(now) and matches(self.matchers, labels)


def silenced_by(silences: Iterable[SilenceRecord], labels: Labels, now: datetime) -> str | None:
    return next((f"silence:{s.id}" for s in silences if s.mutes(labels, now)), None)


def inhibits(rule: Inhibition, source: Labels, target: Labels) -> bool:
    if not matches(rule.source, source) or not matches(rule.target, target):
        return False
    return all(name in source and source.get(name) == target.get(name) for name in rule.equal)


def inhibited_by(inhibitions: Iterable[Inhibition], firing: Iterable[tuple[str, Labels]], target: Labels) -> str | None:
    """The id of a firing alert that mutes `target` (never the target itself), if any."""
    sources = list(firing)
    for inhibition in inhibitions:
        for alert_id, labels in sources:
            if labels is not target and inhibits(inhibition, labels, target):
                return f"inhibited:{alert_id}"
    return None
