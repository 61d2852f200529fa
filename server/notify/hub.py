"""The dashboard hub: every alert change to every WebSocket client, and current state on connect.

Each client has a bounded queue; a client that falls `queue_size` messages behind is cut off
(counted) rather than slowing the engine or the other clients. It reconnects and gets a replay.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from contract.payloads import AlertPayload

logger = logging.getLogger(__name__)

Message = dict[str, Any]
MAX_OPEN = 100_000


def change_message(action: str, payload: AlertPayload) -> Message:
    return {"type": "alert", "action": action, "alert": payload.model_dump(mode="json")}


class Subscription:
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=queue_size)
        self.cut_off = False

    async def next(self) -> Message | None:
        """The next message; None once the hub has cut this client off (or closed)."""
        return None if self.cut_off and self.queue.empty() else await self.queue.get()


class AlertHub:
    def __init__(self, queue_size: int = 1000, max_clients: int = 500) -> None:
        self.queue_size = queue_size
        self.max_clients = max_clients
        self._clients: set[Subscription] = set()
        self._open: dict[str, AlertPayload] = {}
        self.cut_off = 0

    @property
    def clients(self) -> int:
        return len(self._clients)

    def seed(self, alerts: list[AlertPayload]) -> None:
        """Current state after a restart (from the engine's open alerts), for replays."""
        self._open = {alert.id: alert for alert in alerts[:MAX_OPEN]}

    def subscribe(self) -> Subscription:
        """A new client: its queue starts with a snapshot of every open alert."""
        if len(self._clients) >= self.max_clients:
            raise ConnectionRefusedError(f"{self.max_clients} dashboard clients are connected")
        subscription = Subscription(self.queue_size + 1)
        snapshot = [alert.model_dump(mode="json") for alert in self._open.values()]
        subscription.queue.put_nowait({"type": "snapshot", "alerts": snapshot})
        self._clients.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._clients.discard(subscription)

    def publish(self, action: str, payload: AlertPayload) -> None:
        self._remember(payload)
        message = change_message(action, payload)
        for client in list(self._clients):
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self._cut(client)

    def broadcast(self, message: Message) -> None:
        """Another kind of change (an incident's) to every client, with the same bound per client."""
        for client in list(self._clients):
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self._cut(client)

    def _remember(self, payload: AlertPayload) -> None:
        if payload.state == "resolved":
            self._open.pop(payload.id, None)
        elif payload.id in self._open or len(self._open) < MAX_OPEN:
            self._open[payload.id] = payload

    def _cut(self, client: Subscription) -> None:
        self.cut_off += 1
        client.cut_off = True
        self._clients.discard(client)
        logger.warning("dashboard client cut off: %s messages behind", client.queue.qsize())

    def close(self) -> None:
        for client in list(self._clients):
            client.cut_off = True
            if not client.queue.full():
                client.queue.put_nowait(None)
        self._clients.clear()
