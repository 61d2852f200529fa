"""Shared replicas: the part of the alerts that runs on every replica, leader or follower (a plain
component, started for the app's whole life): the database-fed dashboard feed (`feed.py`), and
the follower's alerts API (`follower.py`) with its command client (`commands.py`), all over one
`LISTEN` connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.alerts.change_notify import CHANGE_CHANNEL
from server.alerts.commands import DONE_CHANNEL, CommandClient
from server.alerts.feed import ChangeFeed
from server.alerts.follower import FollowerAlerts
from server.db.listener import PgListener
from server.notify.hub import AlertHub

if TYPE_CHECKING:
    from server.state import Services


class ReplicaAlerts:
    def __init__(self, command_timeout_s: float = 5.0) -> None:
        self.command_timeout_s = command_timeout_s
        self.hub = AlertHub()
        self._follower: FollowerAlerts | None = None
        self._listener: PgListener | None = None

    @property
    def follower(self) -> FollowerAlerts:
        if self._follower is None:
            raise RuntimeError("the replica alerts are not started")
        return self._follower

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.listening

    async def start(self, state: Services) -> None:
        feed = ChangeFeed(state.pool, self.hub)
        await feed.seed()
        commands = CommandClient(state.pool, self.command_timeout_s)
        self._follower = FollowerAlerts(state.pool, commands, self.hub, lambda: state.config)
        handlers = {CHANGE_CHANNEL: feed.on_notification, DONE_CHANNEL: commands.on_done}
        self._listener = PgListener(state.settings.database_url, handlers, "alert-feed", feed.reconnected)
        self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        self.hub.close()
