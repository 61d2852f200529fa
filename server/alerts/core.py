"""The synchronous heart of the engine: routes observations to evaluators, applies schedules,
feeds transitions to the alert book, and keeps silences. Pure given the time it is handed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from contract.config.root import StreamsConfig
from contract.config.rules import AlertRule
from server.alerts.book import AlertBook
from server.alerts.evaluators.base import Evaluator
from server.alerts.evaluators.registry import default_evaluators
from server.alerts.matching import SilenceRecord, inhibited_by, silenced_by
from server.alerts.model import Alert, AlertChange
from server.alerts.observations import Observation
from server.alerts.schedule import is_active
from server.alerts.state import RuleState, Step, reset
from server.alerts.subjects import RuleIndex, Subject, camera_subject

logger = logging.getLogger(__name__)

StateKey = tuple[str, str]
MAX_SILENCES = 10_000


class TooManySilencesError(RuntimeError):
    """The silence table is full; expire some first."""


class RuleEngine:
    def __init__(self, config: StreamsConfig, evaluators: dict[str, Evaluator] | None = None) -> None:
        self.evaluators = evaluators or default_evaluators()
        self.index = RuleIndex(config)
        self.book = AlertBook()
        self.states: dict[StateKey, RuleState] = {}
        self.subjects: dict[StateKey, Subject] = {}
        self.silences: dict[str, SilenceRecord] = {}
        self.dirty: set[StateKey] = set()
        self._now: datetime | None = None
        self._wall: datetime | None = None
        self._seed_watched()

    @property
    def config(self) -> StreamsConfig:
        return self.index.config

    def _seed_watched(self) -> None:
        for rule, subject in self.index.watched:
            key = (rule.id, subject.key)
            self.states.setdefault(key, RuleState())
            self.subjects[key] = subject

    # ----------------------------------------------------------------- loading and reload

    def load(
        self, alerts: Iterable[Alert], states: dict[StateKey, RuleState], silences: Iterable[SilenceRecord]
    ) -> None:
        """Restore persisted state after a restart: open alerts, rule phases, silences."""
        self.book.load(alerts)
        for key, state in states.items():
            rule = self.index.rules.get(key[0])
            if rule is not None:
                self.states[key] = state
                self.subjects.setdefault(key, self._subject_for(rule, key[1]))
        for silence in silences:
            self.silences[silence.id] = silence

    def _subject_for(self, rule: AlertRule, subject_key: str) -> Subject:
        known = (s for r, s in self.index.all_targets() if r.id == rule.id and s.key == subject_key)
        return next(known, None) or camera_subject(rule, self.config, subject_key, "camera")

    def reload(self, config: StreamsConfig, now: datetime) -> list[AlertChange]:
        """Swap in a new config: states of kept rules survive; alerts of removed rules resolve."""
        old_rules = self.index.rules
        self.index = RuleIndex(config)
        changes: list[AlertChange] = []
        for alert in self.book.open_alerts():
            if alert.rule_id not in self.index.rules:
                change, _ = self.book.resolve(
                    old_rules.get(alert.rule_id), alert.id, "config-reload", "rule removed", now
                )
                changes.append(change)
        for key in [k for k in self.states if k[0] not in self.index.rules]:
            del self.states[key]
            self.subjects.pop(key, None)
            self.dirty.add(key)
        self._seed_watched()
        logger.info("rules reloaded: %s enabled rules", len(self.index.rules))
        return changes

    # ----------------------------------------------------------------- evaluation

    def observe(self, observation: Observation, now: datetime | None = None) -> list[AlertChange]:
        """Evaluate one observation; `now` (the server's time, default the observation's) times repeats."""
        self._wall = now
        changes: list[AlertChange] = []
        for rule, subject in self.index.targets(observation):
            key = (rule.id, subject.key)
            self.subjects.setdefault(key, subject)
            old = self.states.get(key, RuleState())
            step = self.evaluators[rule.type].observe(rule, old, observation)
            changes.extend(self._apply(rule, subject, key, old, step, observation.at))
        return changes

    def tick(self, now: datetime) -> list[AlertChange]:
        self._now = self._wall = now
        changes: list[AlertChange] = []
        for key, old in list(self.states.items()):
            rule = self.index.rules.get(key[0])
            if rule is None:
                continue
            step = self.evaluators[rule.type].tick(rule, old, now)
            changes.extend(self._apply(rule, self.subjects[key], key, old, step, now))
        changes.extend(self.book.tick(self.index.rules, now, self._mute))
        return changes

    def _apply(
        self, rule: AlertRule, subject: Subject, key: StateKey, old: RuleState, step: Step, at: datetime
    ) -> list[AlertChange]:
        step = self._scheduled(rule, subject, old, step, at)
        self.states[key] = step.state
        if step.state.durable_key() != old.durable_key():
            self.dirty.add(key)
        if step.transition is None:
            return []
        self._now = at if self._now is None or at > self._now else self._now
        return self.book.transition(rule, subject, step.transition, step.state.value, at, self._mute, self._wall)

    def _scheduled(self, rule: AlertRule, subject: Subject, old: RuleState, step: Step, at: datetime) -> Step:
        """Outside its schedule a rule never raises; an alert already firing can still clear."""
        if step.transition not in ("pending", "fire"):
            return step
        if is_active(rule.schedule, self.index.site_timezone(subject.site), at):
            return step
        return Step(reset(step.state), "cancel" if old.phase == "pending" else None)

    # ----------------------------------------------------------------- muting

    def _mute(self, alert: Alert) -> str | None:
        now = self._now or alert.updated_at
        silenced = silenced_by(self.silences.values(), alert.labels, now)
        if silenced is not None:
            return silenced
        return inhibited_by(self.config.inhibitions, self.book.firing_labels(), alert.labels)

    def add_silence(self, silence: SilenceRecord) -> None:
        if len(self.silences) >= MAX_SILENCES and silence.id not in self.silences:
            raise TooManySilencesError(f"{MAX_SILENCES} silences exist; expire some first")
        self.silences[silence.id] = silence
        logger.info("silence %s by %s until %s: %s", silence.id, silence.author, silence.ends_at, silence.reason)

    def expire_silence(self, silence_id: str, now: datetime) -> SilenceRecord | None:
        silence = self.silences.get(silence_id)
        if silence is None:
            return None
        expired = replace(silence, ends_at=min(silence.ends_at, now))
        self.silences[silence_id] = expired
        return expired

    def prune_silences(self, now: datetime) -> None:
        for silence_id in [s.id for s in self.silences.values() if s.ends_at <= now]:
            del self.silences[silence_id]

    # ----------------------------------------------------------------- operators

    def acknowledge(self, alert_id: str, by: str, note: str | None, at: datetime) -> AlertChange:
        rule = self.index.rules.get(self.book.find(alert_id).rule_id)
        return self.book.acknowledge(rule, alert_id, by, note, at)

    def assign(self, alert_id: str, assignee: str, by: str, at: datetime) -> AlertChange:
        rule = self.index.rules.get(self.book.find(alert_id).rule_id)
        return self.book.assign(rule, alert_id, assignee, by, at)

    def resolve(self, alert_id: str, by: str, note: str | None, at: datetime) -> AlertChange:
        alert = self.book.find(alert_id)
        rule = self.index.rules.get(alert.rule_id)
        change, members = self.book.resolve(rule, alert_id, by, note, at)
        for member in members:
            key = (alert.rule_id, member)
            if key in self.states:
                self.states[key] = reset(self.states[key])
                self.dirty.add(key)
        return change

    def take_dirty(self) -> dict[StateKey, RuleState | None]:
        """Rule states whose durable part changed since the last call (None: deleted)."""
        taken = {key: self.states.get(key) for key in self.dirty}
        self.dirty.clear()
        return taken
