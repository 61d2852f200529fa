"""Cross checks between parts of the config, each a small named function returning issues.

They run after the structure is valid, and do no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from contract.config.errors import ConfigIssue, Location
from contract.config.root import IMPLICIT_DASHBOARD, StreamsConfig
from contract.config.rules import CameraOfflineRule, CameraRuleBase, LineCrossedRule, NoDataRule, RuleBase

Check = Callable[[StreamsConfig], Iterator[ConfigIssue]]


def _duplicates(section: str, ids: Iterable[str], prefix: Location = ()) -> Iterator[ConfigIssue]:
    ids = list(ids)
    counts = Counter(ids)
    for index, item_id in enumerate(ids):
        if counts[item_id] > 1 and ids.index(item_id) != index:
            yield ConfigIssue((*prefix, section, index, "id"), f"duplicate id '{item_id}'")


def unique_ids(config: StreamsConfig) -> Iterator[ConfigIssue]:
    yield from _duplicates("sites", (s.id for s in config.sites))
    yield from _duplicates("edge_workers", (w.id for w in config.edge_workers))
    yield from _duplicates("cameras", (c.id for c in config.cameras))
    yield from _duplicates("sensors", (s.id for s in config.sensors))
    yield from _duplicates("stations", (s.id for s in config.stations))
    yield from _duplicates("channels", (c.id for c in config.channels))
    yield from _duplicates("rules", (r.id for r in config.rules))
    yield from _duplicates("silences", (s.id for s in config.silences))
    for index, camera in enumerate(config.cameras):
        yield from _duplicates("zones", (z.id for z in camera.zones), ("cameras", index))
        yield from _duplicates("lines", (ln.id for ln in camera.lines), ("cameras", index))


def _unknown(kind: str, value: str, known: Iterable[str], owner: str = "") -> str:
    names = sorted(set(known))
    listing = ", ".join(names) if names else "none are defined"
    return f"unknown {kind} '{value}'{owner} (known: {listing})"


def cameras_reference_known_things(config: StreamsConfig) -> Iterator[ConfigIssue]:
    sites = {s.id for s in config.sites}
    workers = {w.id for w in config.edge_workers}
    for index, camera in enumerate(config.cameras):
        if camera.site not in sites:
            yield ConfigIssue(("cameras", index, "site"), _unknown("site", camera.site, sites))
        if camera.worker not in workers:
            yield ConfigIssue(("cameras", index, "worker"), _unknown("edge worker", camera.worker, workers))
        if camera.detect.enabled and camera.detect.detector not in config.detectors:
            yield ConfigIssue(
                ("cameras", index, "detect", "detector"),
                _unknown("detector", camera.detect.detector, config.detectors),
            )


def sensors_reference_known_sites(config: StreamsConfig) -> Iterator[ConfigIssue]:
    sites = {s.id for s in config.sites}
    for index, sensor in enumerate(config.sensors):
        if sensor.site not in sites:
            yield ConfigIssue(("sensors", index, "site"), _unknown("site", sensor.site, sites))


def _rule_sensor_issues(index: int, rule: RuleBase, config: StreamsConfig) -> Iterator[ConfigIssue]:
    sensors = {s.id for s in config.sensors}
    for position, sensor_id in enumerate(getattr(rule, "sensors", [])):
        if sensor_id not in sensors:
            yield ConfigIssue(("rules", index, "sensors", position), _unknown("sensor", sensor_id, sensors))
    kind = getattr(rule, "sensor_kind", None)
    site = getattr(rule, "site", None)
    if site is not None and config.site(site) is None:
        yield ConfigIssue(("rules", index, "site"), _unknown("site", site, (s.id for s in config.sites)))
    if kind is not None and not any(s.kind == kind and (site is None or s.site == site) for s in config.sensors):
        yield ConfigIssue(("rules", index, "sensor_kind"), f"no sensor of kind '{kind}' matches this rule")


def _rule_camera_issues(index: int, rule: RuleBase, config: StreamsConfig) -> Iterator[ConfigIssue]:
    cameras = {c.id for c in config.cameras}
    if isinstance(rule, NoDataRule | CameraOfflineRule):
        for position, camera_id in enumerate(rule.cameras):
            if camera_id not in cameras:
                yield ConfigIssue(("rules", index, "cameras", position), _unknown("camera", camera_id, cameras))
    if not isinstance(rule, CameraRuleBase):
        return
    camera = config.camera(rule.camera)
    if camera is None:
        yield ConfigIssue(("rules", index, "camera"), _unknown("camera", rule.camera, cameras))
        return
    if isinstance(rule, LineCrossedRule):
        if camera.line(rule.line) is None:
            known = (line.id for line in camera.lines)
            yield ConfigIssue(("rules", index, "line"), _unknown("line", rule.line, known, f" on camera '{camera.id}'"))
        return
    zone_id: str = rule.zone  # type: ignore[attr-defined]
    if camera.zone(zone_id) is None:
        known = (zone.id for zone in camera.zones)
        yield ConfigIssue(("rules", index, "zone"), _unknown("zone", zone_id, known, f" on camera '{camera.id}'"))


def rules_reference_known_things(config: StreamsConfig) -> Iterator[ConfigIssue]:
    channels = {c.id for c in config.channels} | {IMPLICIT_DASHBOARD}
    for index, rule in enumerate(config.rules):
        for field in ("channels", "escalate_to"):
            for position, channel_id in enumerate(getattr(rule, field)):
                if channel_id not in channels:
                    yield ConfigIssue(("rules", index, field, position), _unknown("channel", channel_id, channels))
        yield from _rule_sensor_issues(index, rule, config)
        yield from _rule_camera_issues(index, rule, config)


def stations_reference_known_things(config: StreamsConfig) -> Iterator[ConfigIssue]:
    """Stations on known sites, one FTP user per station, sensors on known stations, each
    (station, parameter) once."""
    sites = {s.id for s in config.sites}
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
    stations = {s.id for s in config.stations}
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


CROSS_CHECKS: tuple[Check, ...] = (
    unique_ids,
    cameras_reference_known_things,
    sensors_reference_known_sites,
    stations_reference_known_things,
    rules_reference_known_things,
)


def run_cross_checks(config: StreamsConfig) -> list[ConfigIssue]:
    return [issue for check in CROSS_CHECKS for issue in check(config)]
