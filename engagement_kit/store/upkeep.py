"""Upkeep of the store's file: clearing it (and repairing a corrupt one), an online backup,
and merging exported revisions (see :mod:`engagement_kit.store.portable`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from engagement_kit.errors import StoreError
from engagement_kit.store.core import Database, _CorruptStoreError
from engagement_kit.store.schema import COLUMNS, INSERT_REVISION


class Upkeep(Database):
    """:meth:`clear`, :meth:`backup` and :meth:`merge_rows` of
    :class:`~engagement_kit.store.ResponseStore`."""

    def clear(self, *, stream_id: str | None = None) -> int:
        """Delete every range (all revisions), or one stream's. Returns how many ranges.

        Clearing everything also repairs a corrupt store: a file that is not a readable
        database is deleted (with its ``-wal``/``-shm`` files) and ``0`` is returned.
        """
        where, params = ("", ()) if stream_id is None else (" WHERE stream_id = ?", (stream_id,))

        def work(conn: sqlite3.Connection) -> int:
            (count,) = conn.execute(
                "SELECT count(DISTINCT key) FROM revisions" + where, params
            ).fetchone()
            conn.execute("DELETE FROM revisions" + where, params)
            return int(count)

        try:
            return self._transaction(work)
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

    def backup(self, target: str | os.PathLike[str]) -> Path:
        """A consistent copy of the live store in ``target`` (SQLite's online backup API).

        Safe while other processes read and write: the copy holds every answer committed
        when it finished. It is written next to ``target`` and renamed into place, so an
        existing ``target`` is never left half-written.
        """
        target = Path(target).expanduser()
        if target.resolve() == self.path.resolve():
            raise StoreError(f"backup: {target} is the store itself; choose another file")
        if target.is_dir():
            raise StoreError(f"backup: {target} is a directory; give a file name")
        conn = self._connect()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
        try:
            dst = sqlite3.connect(tmp)
            try:
                self._with_lock_retry(lambda: conn.backup(dst))
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                dst.close()
            os.replace(tmp, target)
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise StoreError(
                f"backup of {self.path} to {target} failed ({exc.__class__.__name__}: {exc})"
            ) from exc
        return target

    def merge_rows(self, rows: list[dict[str, Any]]) -> int:
        """Merge exported revision rows (see :mod:`engagement_kit.store.portable`).

        A row whose answer is already kept for its range only widens that revision's
        ``fetched_at``..``seen_at``; others are added. A range the store already holds keeps
        its answer in use (imported answers join it as older revisions). Returns how many
        revisions were added.
        """

        def work(conn: sqlite3.Connection) -> int:
            added = 0
            known = {k for (k,) in conn.execute("SELECT DISTINCT key FROM revisions")}
            for r in rows:
                if r["key"] in known:
                    r = {**r, "seq": 0}
                cur = conn.execute(
                    "UPDATE revisions SET fetched_at = min(fetched_at, ?), "
                    "seen_at = max(seen_at, ?), ended = max(ended, ?) WHERE key = ? AND digest = ?",
                    (r["fetched_at"], r["seen_at"], int(r["ended"]), r["key"], r["digest"]),
                )
                if cur.rowcount == 0:
                    conn.execute(
                        INSERT_REVISION,
                        tuple(r[c] for c in COLUMNS),
                    )
                    added += 1
            return added

        return self._transaction(work)
