"""SQLite files as files: the only module that calls ``sqlite3.connect``.

The store's own connections are SQLAlchemy's (:mod:`engagement_kit.store.database`), set up
with :func:`sqlite_pragmas`. What needs a raw ``sqlite3`` connection comes here: the rate
budget's file (pyrate-limiter's SQLite bucket takes one, :func:`sqlite_connection`), the online
backup and the one-time move of the old default store (:func:`copy_sqlite`), and reading what
can still be read from a corrupt file (:func:`salvage_sqlite`).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

__all__ = ["BUSY_TIMEOUT_S", "copy_sqlite", "salvage_sqlite", "sqlite_connection", "sqlite_pragmas"]

#: How long a SQLite connection waits for a lock before "database is locked".
BUSY_TIMEOUT_S = 30.0


def sqlite_pragmas(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # pragma: no cover - e.g. a read-only medium
        raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = NORMAL")


def sqlite_connection(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A raw autocommit SQLite connection with the store's pragmas (for pyrate-limiter's
    SQLite bucket, which takes a ``sqlite3`` connection)."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    try:
        sqlite_pragmas(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def copy_sqlite(
    source: str | os.PathLike[str] | sqlite3.Connection,
    target: str | os.PathLike[str],
    *,
    existing_only: bool = False,
) -> None:
    """Copy a SQLite database (a path or an open connection) into the file ``target`` with
    SQLite's online backup API: consistent while others write, the WAL's content included.
    ``existing_only``: never create ``source`` (raise ``sqlite3.OperationalError`` instead)."""
    src = (
        source
        if isinstance(source, sqlite3.Connection)
        else sqlite3.connect(
            f"file:{source}?mode=rw" if existing_only else source,
            uri=existing_only,
            timeout=BUSY_TIMEOUT_S,
        )
    )
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        if src is not source:
            src.close()


def salvage_sqlite(
    path: str | os.PathLike[str], tables: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``tables`` that can still be read from a (corrupt) SQLite file, opened
    read-only; a table that cannot be read is left out."""
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return found
    try:
        for name in tables:
            try:
                cur = conn.execute(f'SELECT * FROM "{name}"')
                columns = [d[0] for d in cur.description]
                found[name] = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
            except sqlite3.Error:
                continue
    finally:
        conn.close()
    return found
