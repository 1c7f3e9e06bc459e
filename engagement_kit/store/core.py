"""The store's SQLite core: opening its file (WAL, busy timeout, schema and its migration), one
connection per thread, short ``BEGIN IMMEDIATE`` writes and retries while it is locked."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import StoreError
from engagement_kit.store.location import (
    adopt_legacy_store,
    default_store_path,
    store_path_is_configured,
)
from engagement_kit.store.schema import COLUMNS, SCHEMA, SCHEMA_VERSION, revision_row

logger = logging.getLogger("engagement_kit.store")

_BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRIES = 20
_FIX = "delete it or run `engagement-kit store clear`; set ENGAGEMENT_KIT_STORE to use another path"


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


@contextlib.contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` on an autocommit connection, rolled back on any error
    (the write lock is taken at the start, so a busy database fails before any work)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class Database:
    """The store's file and its connections (the base of
    :class:`~engagement_kit.store.ResponseStore`).

    Nothing is touched until first use; the default file moves itself once out of the old
    cache folder (see :mod:`engagement_kit.store.location`).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._adopt = path is None and not store_path_is_configured()
        self.path = Path(path).expanduser() if path is not None else default_store_path(adopt=False)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

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
        if self._adopt:
            self._adopt = False
            try:
                adopt_legacy_store(self.path)
            except OSError as exc:
                logger.warning("could not move the old response store: %s", exc)
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
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"written by a newer engagement-kit (schema {version}); upgrade engagement-kit"
            )
        with immediate_transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another may have won
            if version < SCHEMA_VERSION:
                for statement in SCHEMA.split(";"):
                    conn.execute(statement)
                if version == 1:
                    self._migrate_v1(conn)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _migrate_v1(conn: sqlite3.Connection) -> None:
        """Schema 1 (one replaceable answer per key) → revisions, in place, in one transaction."""
        rows = conn.execute(
            "SELECT key, host, query, payload, fetched_at, final FROM responses"
        ).fetchall()
        for key, host, query_text, payload, fetched_at, final in rows:
            query = EngagementQuery(**json.loads(query_text))
            conn.execute(
                "INSERT OR IGNORE INTO revisions (" + ", ".join(COLUMNS) + ") "
                "VALUES (" + ", ".join("?" * len(COLUMNS)) + ")",
                revision_row(key, host, query, payload, fetched_at, fetched_at, bool(final), False),
            )
        conn.execute("DROP TABLE responses")
        if rows:
            logger.info("response store: %d answers moved to the revisions table", len(rows))

    def _with_lock_retry(self, operation: Callable[[], Any]) -> Any:
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

    def _transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(conn)`` in one ``BEGIN IMMEDIATE`` transaction (retried when locked)."""
        conn = self._connect()

        def run() -> Any:
            with immediate_transaction(conn):
                return work(conn)

        try:
            return self._with_lock_retry(run)
        except sqlite3.Error as exc:
            raise self._error(exc, "write to it") from exc

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return self._transaction(lambda conn: conn.execute(sql, params).rowcount)

    def close(self) -> None:
        """Close every connection this store opened (it reopens on next use)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
