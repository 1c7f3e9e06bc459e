"""Closed getSessions windows kept in the response store's SQLite file (``session_windows``),
and the small SQLite base the session tables share (see :mod:`engagement_kit.metrics.first_seen`).

Its own module so that :func:`engagement_kit.client.sessions.fetch_sessions` can keep windows without
importing the backfill, which imports it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engagement_kit.errors import StoreError

__all__ = ["SessionCache"]

_BUSY_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS session_windows (
    host TEXT NOT NULL, stream_id TEXT NOT NULL, window_days REAL NOT NULL,
    window_start TEXT NOT NULL, rows TEXT NOT NULL, fetched_at TEXT NOT NULL,
    PRIMARY KEY (host, stream_id, window_days, window_start)
);
CREATE TABLE IF NOT EXISTS first_seen (
    host TEXT NOT NULL, stream_id TEXT NOT NULL, user_id TEXT NOT NULL,
    first_start TEXT NOT NULL, channel TEXT NOT NULL,
    PRIMARY KEY (host, stream_id, user_id)
);
CREATE TABLE IF NOT EXISTS first_seen_meta (
    host TEXT NOT NULL, stream_id TEXT NOT NULL, tz TEXT NOT NULL,
    horizon TEXT NOT NULL, through TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (host, stream_id)
);
"""


class _Db:
    """One SQLite connection (WAL, busy timeout) on the store file, with the tables above."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=_BUSY_MS / 1000, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_SCHEMA)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"response store {self.path}: cannot open the session tables "
                    f"({exc.__class__.__name__}: {exc}); delete the file or set "
                    "ENGAGEMENT_KIT_STORE to another path"
                ) from exc
            self._conn = conn
        return self._conn

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connect().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"response store {self.path}: cannot read ({exc})") from exc

    def write_many(self, statements: Iterable[tuple[str, Iterable[tuple[Any, ...]]]]) -> None:
        """Run ``executemany`` statements in one transaction (all or nothing)."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                for sql, rows in statements:
                    conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"response store {self.path}: cannot write ({exc})") from exc
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class SessionCache(_Db):
    """Closed getSessions windows, kept for good (see the module docstring)."""

    def get_windows(
        self, host: str, stream_id: str, windows: Iterable[Any], window_days: float
    ) -> dict[Any, list[list[Any]]]:
        """The stored rows of those of ``windows`` that are stored."""
        wanted = {w.start.isoformat(): w for w in windows}
        if not wanted:
            return {}
        found = {}
        for start, rows in self.read(
            "SELECT window_start, rows FROM session_windows "
            "WHERE host = ? AND stream_id = ? AND window_days = ? "
            "AND window_start BETWEEN ? AND ?",
            (host, stream_id, float(window_days), min(wanted), max(wanted)),
        ):
            if start in wanted:
                found[wanted[start]] = json.loads(rows)
        return found

    def put_window(
        self, host: str, stream_id: str, window: Any, window_days: float, rows: list[list[Any]]
    ) -> None:
        """Keep one closed window's sessions."""
        self.write_many(
            [
                (
                    "INSERT OR REPLACE INTO session_windows VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            host,
                            stream_id,
                            float(window_days),
                            window.start.isoformat(),
                            json.dumps(rows, separators=(",", ":")),
                            _now(),
                        )
                    ],
                )
            ]
        )

    def count(self, host: str, stream_id: str) -> int:
        """How many windows of the stream are stored."""
        return int(
            self.read(
                "SELECT count(*) FROM session_windows WHERE host = ? AND stream_id = ?",
                (host, stream_id),
            )[0][0]
        )
