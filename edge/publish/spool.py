"""A bounded on-disk spool (SQLite, WAL): events wait here until the broker acknowledges them.

Order is the insertion order (`seq`). When full, the oldest events are dropped and counted.
A row is deleted only after the broker's acknowledgement (MQTT PUBACK, JetStream PubAck), so a
crash or broker restart re-sends rather than loses (at least once). Each row keeps the event's
stable message id, which a JetStream publisher sends as `Nats-Msg-Id` for de-duplication.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    msg_id TEXT
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SpooledMessage:
    seq: int
    topic: str
    payload: bytes
    msg_id: str | None = None


class EventSpool:
    def __init__(self, path: Path, max_events: int) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "msg_id" not in columns:  # a spool written before message ids were kept
            self._db.execute("ALTER TABLE events ADD COLUMN msg_id TEXT")
        self._lock = threading.Lock()
        self._max = max_events
        self._depth = int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])
        row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        self._dropped = int(row[0]) if row else 0

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def dropped(self) -> int:
        return self._dropped

    def append(self, topic: str, payload: bytes, msg_id: str | None = None) -> int:
        """Store one message; return how many old ones were dropped to make room."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = (topic, payload, msg_id)
                self._db.execute("INSERT INTO events (topic, payload, msg_id) VALUES (?, ?, ?)", row)
                excess = self._depth + 1 - self._max
                if excess > 0:
                    self._db.execute(
                        "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)", (excess,)
                    )
                    self._dropped += excess
                    self._db.execute(
                        "INSERT INTO counters VALUES ('dropped', ?) ON CONFLICT(name) DO UPDATE SET value = ?",
                        (self._dropped, self._dropped),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth = min(self._depth + 1, self._max)
            return max(excess, 0)

    def read_after(self, seq: int, limit: int) -> list[SpooledMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, msg_id FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [SpooledMessage(int(s), str(t), bytes(p), m) for s, t, p, m in rows]

    def delete(self, seq: int) -> None:
        self.delete_many([seq])

    def delete_many(self, seqs: list[int]) -> None:
        """Forget acknowledged messages (one transaction)."""
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq in seqs])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth -= cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
