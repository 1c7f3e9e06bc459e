"""The ledger: what was sent and which alerts fired, in the response store's SQLite file."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from engagement_kit.config.weeks import parse_iso_week as _week_key
from engagement_kit.errors import StoreError
from engagement_kit.store import default_store_path
from engagement_kit.store.core import immediate_transaction

_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    stream_id    TEXT NOT NULL,
    week         TEXT NOT NULL,
    destination  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    PRIMARY KEY (stream_id, week, destination, kind)
);
CREATE TABLE IF NOT EXISTS alert_firings (
    stream_id TEXT NOT NULL,
    rule      TEXT NOT NULL,
    week      TEXT NOT NULL,
    fired_at  TEXT NOT NULL,
    PRIMARY KEY (stream_id, rule, week)
);
"""


class Ledger:
    """Sent messages and fired alerts, in two tables of the response store's file.

    ``destination`` is the URL as written in ``streams.toml`` (``${NAME}`` unexpanded), so no
    secret is stored. ``engagement-kit store clear`` deletes answers only, not this record.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_LEDGER_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(
                    f"delivery record in {self.path}: cannot open it ({type(exc).__name__}: "
                    f"{exc}); set ENGAGEMENT_KIT_STORE to a writable file"
                ) from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sent(
        self, stream_id: str, week: str, destination: str, kind: str
    ) -> tuple[str, str] | None:
        """``(content_hash, sent_at)`` when this was sent already."""
        row = (
            self._db()
            .execute(
                "SELECT content_hash, sent_at FROM deliveries WHERE stream_id = ? AND week = ? "
                "AND destination = ? AND kind = ?",
                (stream_id, week, destination, kind),
            )
            .fetchone()
        )
        return (row[0], row[1]) if row else None

    def record(
        self, stream_id: str, week: str, destination: str, kind: str, content_hash: str
    ) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
            (stream_id, week, destination, kind, content_hash, timestamp_now()),
        )

    def last_fired(self, stream_id: str, before_week: str) -> dict[str, str]:
        """Rule name → the latest week before ``before_week`` in which it fired."""
        rows = (
            self._db()
            .execute(
                "SELECT rule, week FROM alert_firings WHERE stream_id = ?",
                (stream_id,),
            )
            .fetchall()
        )
        key = _week_key
        out: dict[str, str] = {}
        for rule, week in rows:
            if key(week) < key(before_week) and (rule not in out or key(week) > key(out[rule])):
                out[rule] = week
        return out

    def set_firings(self, stream_id: str, week: str, rules: Iterable[str]) -> None:
        """The rules that fired for this stream and week (replacing an earlier evaluation)."""
        with immediate_transaction(self._db()) as db:
            db.execute(
                "DELETE FROM alert_firings WHERE stream_id = ? AND week = ?", (stream_id, week)
            )
            db.executemany(
                "INSERT INTO alert_firings VALUES (?, ?, ?, ?)",
                [(stream_id, r, week, timestamp_now()) for r in rules],
            )


def timestamp_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
