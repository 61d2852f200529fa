"""Site scope: a user or API key may be limited to some sites (a district). Within its scope the
caller's role applies; outside it the caller sees nothing: lists are filtered and a single item
answers 404, as if it did not exist (never 403, which would tell it exists)."""

from __future__ import annotations

from collections import OrderedDict

from fastapi import HTTPException, status

from contract.config.root import StreamsConfig
from contract.topics import Topics
from server.auth.roles import Principal
from server.store.base import DeadLetterScope

MAX_VIEWS = 64


def scope_of(sites: list[str] | None) -> frozenset[str] | None:
    """A stored scope (a column of users / api_keys) as a principal's: NULL is every site."""
    return None if sites is None else frozenset(sites)


def sites_of(principal: Principal | None) -> frozenset[str] | None:
    """The caller's sites; None means every site."""
    return None if principal is None else principal.sites


def in_scope(principal: Principal | None, site: str | None) -> bool:
    """A scoped caller sees only items of its sites (an item without a site is outside every scope)."""
    sites = sites_of(principal)
    return sites is None or (site is not None and site in sites)


def require_in_scope(principal: Principal | None, site: str | None, what: str) -> None:
    if not in_scope(principal, site):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")


def narrowed(principal: Principal | None, requested: str | None) -> frozenset[str] | None:
    """The sites a list may show: the requested one (if in scope) or the whole scope."""
    sites = sites_of(principal)
    if requested is None:
        return sites
    if sites is not None and requested not in sites:
        return frozenset()
    return frozenset({requested})


def scoped_cameras(config: StreamsConfig, principal: Principal | None) -> frozenset[str] | None:
    """The cameras a scoped caller's lists are limited to, in the query itself (so a page is full);
    None for an unscoped caller: every camera, those removed from streams.yaml included."""
    sites = sites_of(principal)
    if sites is None:
        return None
    return frozenset(camera.id for camera in config.cameras if camera.site in sites)


def scoped_dead_letters(config: StreamsConfig, principal: Principal | None) -> DeadLetterScope | None:
    """The sensors and topics (sensor topics, camera topics) whose dead letters a scoped caller sees."""
    sites = sites_of(principal)
    if sites is None:
        return None
    topics = Topics(config.mqtt.topic_prefix)
    sensors = [sensor for sensor in config.sensors if sensor.site in sites]
    cameras = [camera.id for camera in config.cameras if camera.site in sites]
    camera_topics = {
        topic(camera_id)
        for camera_id in cameras
        for topic in (topics.camera_events, topics.camera_status, topics.camera_recordings)
    }
    sensor_topics = {topics.sensor_topic(sensor) for sensor in sensors}
    return DeadLetterScope(frozenset(sensor.id for sensor in sensors), frozenset(camera_topics | sensor_topics))


def restricted(config: StreamsConfig, sites: frozenset[str]) -> StreamsConfig:
    """The part of streams.yaml a caller scoped to `sites` sees: those sites, their cameras,
    sensors, stations and edge-independent rules (a rule stays if it watches any of them)."""
    cameras = [camera for camera in config.cameras if camera.site in sites]
    sensors = [sensor for sensor in config.sensors if sensor.site in sites]
    return config.model_copy(
        update={
            "sites": [site for site in config.sites if site.id in sites],
            "cameras": cameras,
            "sensors": sensors,
            "stations": [station for station in config.stations if station.site in sites],
        }
    )


class ScopedViews:
    """Restricted configs, built once per (config, scope) and kept for the last few (bounded)."""

    def __init__(self, limit: int = MAX_VIEWS) -> None:
        self.limit = limit
        self._views: OrderedDict[tuple[int, frozenset[str]], tuple[StreamsConfig, StreamsConfig]] = OrderedDict()

    def view(self, config: StreamsConfig, principal: Principal | None) -> StreamsConfig:
        sites = sites_of(principal)
        if sites is None:
            return config
        key = (id(config), sites)
        found = self._views.get(key)
        if found is not None and found[0] is config:
            self._views.move_to_end(key)
            return found[1]
        view = restricted(config, sites)
        self._views[key] = (config, view)
        while len(self._views) > self.limit:
            self._views.popitem(last=False)
        return view
