"""Cross checks between parts of the config, each a small named function returning issues.

They run after the structure is valid, and do no I/O.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from contract.config.errors import ConfigIssue, Location
from contract.config.root import IMPLICIT_DASHBOARD, StreamsConfig
from contract.config.rules import CameraOfflineRule, CameraRuleBase, LineCrossedRule, NoDataRule, RuleBase


@dataclass(frozen=True)
class KnownIds:
    """The ids each section defines: the config's, plus those of items left out for structure
    errors (`contract.config.partial`), so a reference to one of those is not called unknown."""

    config: StreamsConfig
    left_out: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    def __call__(self, section: str) -> set[str]:
        items = getattr(self.config, section)
        ids = set(items) if isinstance(items, dict) else {item.id for item in items}
        return ids | set(self.left_out.get(section, ()))


Check = Callable[[StreamsConfig, KnownIds], Iterator[ConfigIssue]]


def _duplicates(section: str, ids: Iterable[str], prefix: Location = ()) -> Iterator[ConfigIssue]:
    ids = list(ids)
    counts = Counter(ids)
    for index, item_id in enumerate(ids):
        if counts[item_id] > 1 and ids.index(item_id) != index:
            yield ConfigIssue((*prefix, section, index, "id"), f"duplicate id '{item_id}'")


def unique_ids(config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    yield from _duplicates("sites", (s.id for s in config.sites))
    yield from _duplicates("edge_workers", (w.id for w in config.edge_workers))
    yield from _duplicates("cameras", (c.id for c in config.cameras))
    yield from _duplicates("sensors", (s.id for s in config.sensors))
    yield from _duplicates("stations", (s.id for s in config.stations))
    yield from _duplicates("channels", (c.id for c in config.channels))
    yield from _duplicates("rules", (r.id for r in config.rules))
    yield from _duplicates("silences", (s.id for s in config.silences))
    yield from _duplicates("sops", (s.id for s in config.sops))
    yield from _duplicates("escalations", (e.id for e in config.escalations))
    for index, sop in enumerate(config.sops):
        yield from _duplicates("steps", (step.id for step in sop.steps), ("sops", index))
    for index, camera in enumerate(config.cameras):
        yield from _duplicates("zones", (z.id for z in camera.zones), ("cameras", index))
        yield from _duplicates("lines", (ln.id for ln in camera.lines), ("cameras", index))


def _unknown(kind: str, value: str, known: Iterable[str], owner: str = "") -> str:
    names = sorted(set(known))
    listing = ", ".join(names) if names else "none are defined"
    return f"unknown {kind} '{value}'{owner}{did_you_mean(value, names)} (known: {listing})"


def did_you_mean(value: str, names: Sequence[str]) -> str:
    """`; did you mean 'x'?` for a close name, when there is a choice (one name is listed anyway)."""
    if len(names) < 2:
        return ""
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def cameras_reference_known_things(config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    sites, workers, detectors = known("sites"), known("edge_workers"), known("detectors")
    for index, camera in enumerate(config.cameras):
        if camera.site not in sites:
            yield ConfigIssue(("cameras", index, "site"), _unknown("site", camera.site, sites))
        if camera.worker not in workers:
            yield ConfigIssue(("cameras", index, "worker"), _unknown("edge worker", camera.worker, workers))
        if camera.detect.enabled and camera.detect.detector not in detectors:
            yield ConfigIssue(
                ("cameras", index, "detect", "detector"),
                _unknown("detector", camera.detect.detector, detectors),
            )


def sensors_reference_known_sites(config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    sites = known("sites")
    for index, sensor in enumerate(config.sensors):
        if sensor.site not in sites:
            yield ConfigIssue(("sensors", index, "site"), _unknown("site", sensor.site, sites))


def _rule_sensor_issues(index: int, rule: RuleBase, config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    sensors = known("sensors")
    for position, sensor_id in enumerate(getattr(rule, "sensors", [])):
        if sensor_id not in sensors:
            yield ConfigIssue(("rules", index, "sensors", position), _unknown("sensor", sensor_id, sensors))
    kind = getattr(rule, "sensor_kind", None)
    site = getattr(rule, "site", None)
    if site is not None and site not in known("sites"):
        yield ConfigIssue(("rules", index, "site"), _unknown("site", site, known("sites")))
    if kind is not None and not any(s.kind == kind and (site is None or s.site == site) for s in config.sensors):
        yield ConfigIssue(("rules", index, "sensor_kind"), f"no sensor of kind '{kind}' matches this rule")


def _rule_camera_issues(index: int, rule: RuleBase, config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    cameras = known("cameras")
    if isinstance(rule, NoDataRule | CameraOfflineRule):
        for position, camera_id in enumerate(rule.cameras):
            if camera_id not in cameras:
                yield ConfigIssue(("rules", index, "cameras", position), _unknown("camera", camera_id, cameras))
    if not isinstance(rule, CameraRuleBase):
        return
    camera = config.camera(rule.camera)
    if camera is None and rule.camera in cameras:
        return  # a camera left out for its structure errors
    if camera is None:
        yield ConfigIssue(("rules", index, "camera"), _unknown("camera", rule.camera, cameras))
        return
    if isinstance(rule, LineCrossedRule):
        if camera.line(rule.line) is None:
            lines = (line.id for line in camera.lines)
            yield ConfigIssue(("rules", index, "line"), _unknown("line", rule.line, lines, f" on camera '{camera.id}'"))
        return
    zone_id: str = rule.zone  # type: ignore[attr-defined]
    if camera.zone(zone_id) is None:
        zones = (zone.id for zone in camera.zones)
        yield ConfigIssue(("rules", index, "zone"), _unknown("zone", zone_id, zones, f" on camera '{camera.id}'"))


def rules_reference_known_things(config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    channels = known("channels") | {IMPLICIT_DASHBOARD}
    for index, rule in enumerate(config.rules):
        for field in ("channels", "escalate_to"):
            for position, channel_id in enumerate(getattr(rule, field)):
                if channel_id not in channels:
                    yield ConfigIssue(("rules", index, field, position), _unknown("channel", channel_id, channels))
        yield from _rule_sensor_issues(index, rule, config, known)
        yield from _rule_camera_issues(index, rule, config, known)


def stations_reference_known_things(config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    """Stations on known sites, one FTP user per station, sensors on known stations, each
    (station, parameter) once."""
    sites = known("sites")
    users: set[str] = set()
    for index, station in enumerate(config.stations):
        if station.site not in sites:
            yield ConfigIssue(("stations", index, "site"), _unknown("site", station.site, sites))
        if station.ftp is not None:
            if station.ftp.username in users:
                yield ConfigIssue(
                    ("stations", index, "ftp", "username"), f"FTP user '{station.ftp.username}' is used twice"
                )
            users.add(station.ftp.username)
    stations = known("stations")
    seen: set[tuple[str, str]] = set()
    for index, sensor in enumerate(config.sensors):
        if sensor.station is None or sensor.parameter is None:
            continue
        if sensor.station not in stations:
            yield ConfigIssue(("sensors", index, "station"), _unknown("station", sensor.station, stations))
        key = (sensor.station, sensor.parameter)
        if key in seen:
            yield ConfigIssue(
                ("sensors", index, "parameter"),
                f"parameter '{sensor.parameter}' of station '{sensor.station}' maps to two sensors",
            )
        seen.add(key)


def incidents_reference_known_things(config: StreamsConfig, known: KnownIds) -> Iterator[ConfigIssue]:
    """Rules name known SOPs and escalation policies; policies name known push channels and sites."""
    sops, policies = known("sops"), known("escalations")
    for index, rule in enumerate(config.rules):
        if rule.incident is None:
            continue
        if rule.incident.sop is not None and rule.incident.sop not in sops:
            yield ConfigIssue(("rules", index, "incident", "sop"), _unknown("SOP", rule.incident.sop, sops))
        policy = rule.incident.escalation
        if policy is not None and policy not in policies:
            yield ConfigIssue(("rules", index, "incident", "escalation"), _unknown("escalation", policy, policies))
    channels, sites = known("channels"), known("sites")
    for index, escalation in enumerate(config.escalations):
        for level_index, level in enumerate(escalation.levels):
            for position, channel_id in enumerate(level.channels):
                if channel_id not in channels:
                    where = ("escalations", index, "levels", level_index, "channels", position)
                    yield ConfigIssue(where, _unknown("channel", channel_id, channels))
        for position, site_id in enumerate(escalation.sites):
            if site_id not in sites:
                yield ConfigIssue(("escalations", index, "sites", position), _unknown("site", site_id, sites))


CROSS_CHECKS: tuple[Check, ...] = (
    unique_ids,
    cameras_reference_known_things,
    sensors_reference_known_sites,
    stations_reference_known_things,
    rules_reference_known_things,
    incidents_reference_known_things,
)


def run_cross_checks(config: StreamsConfig, left_out: Mapping[str, frozenset[str]] | None = None) -> list[ConfigIssue]:
    """Every cross-check issue; `left_out`: ids of items validation left out, per section."""
    known = KnownIds(config, left_out or {})
    return [issue for check in CROSS_CHECKS for issue in check(config, known)]
