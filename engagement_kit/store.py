"""The response store: every successful answer, kept in SQLite.

It is two things at once:

* **a cache for re-runs.** An answer for a range that ended before today (in the query's zone)
  is *final*: the past does not change, so it is reused without a request. Other answers (the
  range includes today or the future) are reused only for ``ttl`` seconds (15 minutes by
  default). ``refresh=True`` on a fetch forces a new request, whose answer replaces the old.
* **the long-term record.** The platform keeps only about six months of analytics; the store
  keeps every answer it was given, so older weeks stay available for reports and trends after
  the platform has dropped them. Back it up like any other data, and clear it deliberately.

The file is ``$ENGAGEMENT_KIT_STORE`` or ``responses.sqlite3`` in the user cache directory
(``platformdirs.user_cache_dir("engagement-kit")``). Rows are keyed by host + the normalised
query (:meth:`EngagementQuery.key`); no credential or token is ever written.

Several processes (parallel report runs) may read and write at once: the database runs in WAL
mode with a busy timeout, writes are short ``BEGIN IMMEDIATE`` transactions, and a write that
still meets ``database is locked`` is retried. Each thread uses its own connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import StoreError
from .query import EngagementQuery

__all__ = ["DEFAULT_TTL", "ResponseStore", "StoreEntry", "default_store_path"]

#: Seconds a not-yet-final answer is reused.
DEFAULT_TTL = 900
STORE_ENV = "ENGAGEMENT_KIT_STORE"
_BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRIES = 20
_SCHEMA_VERSION = 1
_FIX = "delete it or run `engagement-kit store clear`; set ENGAGEMENT_KIT_STORE to use another path"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key        TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    stream_id  TEXT NOT NULL,
    query      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    final      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_stream ON responses (stream_id);
"""


def default_store_path() -> Path:
    """``ENGAGEMENT_KIT_STORE`` (environment or the project's ``.env``; a relative path counts
    from the project folder), else ``responses.sqlite3`` in the user cache directory."""
    from .settings import load_settings

    configured = load_settings().store_path
    if configured is not None:
        return configured
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("engagement-kit")) / "responses.sqlite3"


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(datetime.UTC))")
    return now.astimezone(dt.UTC)


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class _CorruptStoreError(StoreError):
    """The file exists but is not a readable engagement-kit database."""


@dataclass(frozen=True)
class StoreEntry:
    """One stored answer (without its payload).

    Attributes
    ----------
    key : str
        host + the query's canonical text.
    host, stream_id : str
    query : dict
        The query's fields (``EngagementQuery(**entry.query)`` rebuilds it).
    fetched_at : datetime
        When it was fetched (UTC).
    final : bool
        Whether the range had ended when it was fetched.
    size : int
        Payload size in characters.
    """

    key: str
    host: str
    stream_id: str
    query: dict[str, Any]
    fetched_at: dt.datetime
    final: bool
    size: int


class ResponseStore:
    """SQLite store of raw answers, keyed by host + normalised query.

    Parameters
    ----------
    path : str or Path, optional
        The database file (default :func:`default_store_path`). Created on first use, with
        its directory; nothing is touched until then.
    ttl : float
        Seconds a not-yet-final answer is reused (default 900).

    Raises
    ------
    StoreError
        (on first use) When the file is not a database, is corrupt or cannot be opened; the
        message names the file and the fix.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, ttl: float = DEFAULT_TTL):
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
            raise ValueError(f"ttl: {ttl!r} must be a number of seconds >= 0")
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.ttl = float(ttl)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ResponseStore({str(self.path)!r}, ttl={self.ttl:g})"

    # -- connections --------------------------------------------------------------------------
    def _error(self, exc: BaseException, doing: str) -> StoreError:
        return StoreError(
            f"response store {self.path}: cannot {doing} ({exc.__class__.__name__}: {exc}); {_FIX}"
        )

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        if self.path.is_dir():
            raise StoreError(
                f"response store {self.path}: is a directory, not a database file; "
                "set ENGAGEMENT_KIT_STORE to a file path such as ~/engagement/responses.sqlite3"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc, "create its directory") from exc
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # only so close() may close every thread's connection
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "open it") from exc
        try:
            self._with_lock_retry(lambda: self._setup(conn))
        except sqlite3.OperationalError as exc:
            conn.close()
            raise self._error(exc, "open it") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _CorruptStoreError(
                f"response store {self.path}: not a database or corrupt "
                f"({exc.__class__.__name__}: {exc}); {_FIX}"
            ) from exc
        self._local.conn = conn
        self._local.pid = os.getpid()
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a read-only medium
            raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == _SCHEMA_VERSION:
            return
        if version > _SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"written by a newer engagement-kit (schema {version}); upgrade engagement-kit"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _with_lock_retry(self, operation: Any) -> Any:
        """Run ``operation`` again when SQLite reports the database locked or busy."""
        delay = 0.05
        for attempt in range(_LOCK_RETRIES):
            try:
                return operation()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or attempt == _LOCK_RETRIES - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            return self._with_lock_retry(lambda: conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise self._error(exc, "read it") from exc

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        conn = self._connect()

        def run() -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = conn.execute(sql, params).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return count

        try:
            return self._with_lock_retry(run)
        except sqlite3.Error as exc:
            raise self._error(exc, "write to it") from exc

    def close(self) -> None:
        """Close every connection this store opened (it reopens on next use)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> ResponseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ------------------------------------------------------------------------------
    @staticmethod
    def key(host: str, query: EngagementQuery) -> str:
        """The row key: host + the query's canonical text (never a secret)."""
        return f"{host.rstrip('/')} {query.key()}"

    def get(
        self, host: str, query: EngagementQuery, *, now: dt.datetime | None = None
    ) -> str | None:
        """The stored raw answer for ``query`` on ``host``, if it may be reused.

        A final answer is always reused; another only within ``ttl`` seconds of being fetched.

        Returns
        -------
        str or None
            The payload (JSON text), or ``None`` for a miss or an expired answer.
        """
        at = _utc(now)
        rows = self._read(
            "SELECT payload, fetched_at, final FROM responses WHERE key = ?",
            (self.key(host, query),),
        )
        if not rows:
            return None
        payload, fetched_at, final = rows[0]
        if final:
            return payload
        try:
            fetched = dt.datetime.fromisoformat(fetched_at)
        except ValueError:
            return None
        age = (at - fetched).total_seconds()
        return payload if 0 <= age <= self.ttl else None

    def put(
        self,
        host: str,
        query: EngagementQuery,
        payload: str | bytes,
        *,
        final: bool,
        now: dt.datetime | None = None,
    ) -> None:
        """Store (or replace) the answer for ``query`` on ``host``.

        Parameters
        ----------
        payload : str or bytes
            The raw JSON text exactly as received; only store answers that parsed.
        final : bool
            ``True`` when the range had ended before today in the query's zone.
        """
        if isinstance(payload, bytes | bytearray):
            payload = bytes(payload).decode("utf-8")
        fields = query.model_dump(mode="json")
        self._write(
            "INSERT OR REPLACE INTO responses "
            "(key, host, stream_id, query, payload, fetched_at, final) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.key(host, query),
                host.rstrip("/"),
                query.stream_id,
                json.dumps(fields, sort_keys=True),
                payload,
                _utc(now).isoformat(),
                int(bool(final)),
            ),
        )

    def entries(self, *, stream_id: str | None = None) -> list[StoreEntry]:
        """Every stored answer (without payloads), oldest fetch first."""
        sql = (
            "SELECT key, host, stream_id, query, fetched_at, final, length(payload) FROM responses"
        )
        params: tuple[Any, ...] = ()
        if stream_id is not None:
            sql += " WHERE stream_id = ?"
            params = (stream_id,)
        rows = self._read(sql + " ORDER BY fetched_at, key", params)
        return [
            StoreEntry(
                key=key,
                host=host,
                stream_id=sid,
                query=json.loads(query),
                fetched_at=dt.datetime.fromisoformat(fetched),
                final=bool(final),
                size=int(size),
            )
            for key, host, sid, query, fetched, final, size in rows
        ]

    def info(self) -> dict[str, Any]:
        """What the store holds.

        Returns
        -------
        dict
            ``path``, ``size_bytes`` (file plus write-ahead log), ``entries``, ``final_entries``,
            ``streams`` (stream id → number of answers), ``oldest_fetch``, ``newest_fetch``
            (ISO UTC text or ``None``), ``ttl_seconds``.
        """
        (count, finals, oldest, newest), *_ = self._read(
            "SELECT count(*), coalesce(sum(final), 0), min(fetched_at), max(fetched_at) "
            "FROM responses"
        )
        streams = dict(
            self._read(
                "SELECT stream_id, count(*) FROM responses GROUP BY stream_id ORDER BY stream_id"
            )
        )
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += os.path.getsize(f"{self.path}{suffix}")
        return {
            "path": str(self.path),
            "size_bytes": size,
            "entries": int(count),
            "final_entries": int(finals),
            "streams": streams,
            "oldest_fetch": oldest,
            "newest_fetch": newest,
            "ttl_seconds": self.ttl,
        }

    # -- the longest range per request each host accepts (learned by the client) --------------
    _LIMITS_TABLE = (
        "CREATE TABLE IF NOT EXISTS host_limits ("
        "host TEXT NOT NULL, aggregation TEXT NOT NULL, max_days INTEGER NOT NULL, "
        "learned_at TEXT NOT NULL, PRIMARY KEY (host, aggregation))"
    )

    def max_days(self, host: str, aggregation: str) -> int | None:
        """The longest range (days) ``host`` accepted per request, as learned, or ``None``."""
        self._write(self._LIMITS_TABLE)
        rows = self._read(
            "SELECT max_days FROM host_limits WHERE host = ? AND aggregation = ?",
            (host.rstrip("/"), aggregation),
        )
        return int(rows[0][0]) if rows else None

    def set_max_days(
        self, host: str, aggregation: str, days: int, *, now: dt.datetime | None = None
    ) -> None:
        """Remember that ``host`` answers at most ``days`` days per ``aggregation`` request."""
        self._write(self._LIMITS_TABLE)
        self._write(
            "INSERT OR REPLACE INTO host_limits (host, aggregation, max_days, learned_at) "
            "VALUES (?, ?, ?, ?)",
            (host.rstrip("/"), aggregation, int(days), _utc(now).isoformat()),
        )

    def clear(self, *, stream_id: str | None = None) -> int:
        """Delete every answer, or one stream's. Returns how many were deleted.

        Clearing everything also repairs a corrupt store: a file that is not a readable
        database is deleted (with its ``-wal``/``-shm`` files) and ``0`` is returned.
        """
        try:
            if stream_id is None:
                return self._write("DELETE FROM responses")
            return self._write("DELETE FROM responses WHERE stream_id = ?", (stream_id,))
        except _CorruptStoreError:
            if stream_id is not None:
                raise
        self.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._error(exc, "delete it") from exc
        return 0
