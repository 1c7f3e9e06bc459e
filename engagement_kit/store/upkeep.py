"""Upkeep of the store: clearing it (and repairing a corrupt file without losing the record of
what was sent), a backup, merging exported revisions (see :mod:`engagement_kit.store.portable`)
and copying a whole store to another (``store copy``, e.g. SQLite → PostgreSQL)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engagement_kit.errors import StoreError
from engagement_kit.store import schema
from engagement_kit.store.database import CorruptStoreError, Database, logger
from engagement_kit.store.schema import COLUMNS, revisions
from engagement_kit.store.sqlite_file import salvage_sqlite

#: What a corrupt file's repair carries over into the new store when it can still be read.
_SALVAGED = (schema.deliveries, schema.alert_firings)


class Upkeep(Database):
    """:meth:`clear`, :meth:`backup`, :meth:`merge_rows` and :meth:`copy_to` of
    :class:`~engagement_kit.store.ResponseStore`."""

    #: Where :meth:`clear` copied a corrupt file before replacing it (``None`` otherwise).
    set_aside: Path | None = None

    def clear(self, *, stream_id: str | None = None) -> int:
        """Delete every range (all revisions), or one stream's. Returns how many ranges.

        Clearing everything also repairs a corrupt SQLite file: it is first copied aside to
        ``<file>.corrupt-<UTC time>`` (:attr:`set_aside`), then replaced by a new store that
        keeps the record of what was sent and which alerts fired when those tables can still be
        read, and ``0`` is returned. A store written by a newer engagement-kit is refused
        (:class:`~engagement_kit.store.database.NewerStoreError`), never touched.
        """
        where = sa.true() if stream_id is None else revisions.c.stream_id == stream_id

        def work(conn: sa.Connection) -> int:
            count = conn.execute(
                sa.select(sa.func.count(sa.distinct(revisions.c.key))).where(where)
            ).scalar()
            conn.execute(sa.delete(revisions).where(where))
            return int(count or 0)

        try:
            return self.transaction(work)
        except CorruptStoreError:
            if stream_id is not None or self.path is None:
                raise
        self._repair()
        return 0

    def _repair(self) -> None:
        assert self.path is not None
        self.close()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            for suffix in ("", "-wal"):
                if os.path.exists(f"{self.path}{suffix}"):
                    shutil.copy2(f"{self.path}{suffix}", f"{aside}{suffix}")
        except OSError as exc:
            raise self.error(exc, f"copy the corrupt file aside to {aside}") from exc
        kept = salvage_sqlite(aside, [t.name for t in _SALVAGED])
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self.error(exc, "delete it") from exc
        self.set_aside = aside
        rows = sum(len(v) for v in kept.values())
        if rows:

            def restore(conn: sa.Connection) -> None:
                for table in _SALVAGED:
                    for row in kept.get(table.name, []):
                        conn.execute(self.insert(table).values(**row).on_conflict_do_nothing())

            self.transaction(restore)
        logger.warning(
            "response store %s was corrupt: copied aside to %s; a new store was created%s",
            self.path,
            aside,
            f", keeping {rows} record(s) of what was sent and which alerts fired" if rows else "",
        )

    def backup(self, target: str | os.PathLike[str]) -> Path:
        """A consistent copy of the live store in ``target``.

        SQLite: SQLite's online backup API, safe while other processes read and write (the
        copy holds every answer committed when it finished). PostgreSQL: ``pg_dump`` in its
        custom format (restore with ``pg_restore``); it must be installed. The copy is written
        next to ``target`` and renamed into place, so an existing ``target`` is never left
        half-written.
        """
        target = Path(target).expanduser()
        if self.path is not None and target.resolve() == self.path.resolve():
            raise StoreError(f"backup: {target} is the store itself; choose another file")
        if target.is_dir():
            raise StoreError(f"backup: {target} is a directory; give a file name")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
        try:
            if self.path is not None:
                self.backup_sqlite(tmp)
            else:
                self._pg_dump(tmp)
            os.replace(tmp, target)
        except (sa.exc.SQLAlchemyError, OSError, subprocess.SubprocessError) as exc:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise StoreError(
                self._mask(
                    f"backup of {self.shown} to {target} failed ({exc.__class__.__name__}: {exc})"
                )
            ) from exc
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
        return target

    def _pg_dump(self, tmp: Path) -> None:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise StoreError(
                f"backup of {self.shown}: pg_dump is not installed (it is the backup of a "
                "PostgreSQL store): install PostgreSQL's client tools (apt-get install "
                "postgresql-client)"
            )
        self.engine  # noqa: B018 - the schema is checked (a newer store is refused) first
        done = subprocess.run(
            [pg_dump, "--format=custom", "--no-password", "--file", str(tmp)],
            env=self.pg_environment(),
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise OSError(
                self._mask(
                    done.stderr.strip().splitlines()[-1] if done.stderr else "pg_dump failed"
                )
            )

    def merge_rows(self, rows: list[dict[str, Any]]) -> int:
        """Merge exported revision rows (see :mod:`engagement_kit.store.portable`).

        A row whose answer is already kept for its range only widens that revision's
        ``fetched_at``..``seen_at``; others are added. A range the store already holds keeps
        its answer in use (imported answers join it as older revisions). Returns how many
        revisions were added.
        """
        return self.transaction(lambda conn: merge_revisions(conn, rows))

    def copy_to(self, target: Database) -> dict[str, int]:
        """Copy every revision and every record (host limits, session windows, first-seen
        users, what was sent, alert firings) into ``target``; copying again adds nothing.

        Returns
        -------
        dict
            Table name → rows added to ``target``.
        """
        if target.shown == self.shown:
            raise StoreError(f"store copy: {self.shown} is both source and destination")
        columns = [revisions.c[c] for c in COLUMNS]
        source = [
            dict(zip(COLUMNS, row, strict=True))
            for row in self.read(sa.select(*columns).order_by(revisions.c.id))
        ]
        tables = {t.name: self.read(sa.select(t)) for t in schema.RECORD_TABLES}

        def work(conn: sa.Connection) -> dict[str, int]:
            added = {"revisions": merge_revisions(conn, source)}
            for table in schema.RECORD_TABLES:
                names = [c.name for c in table.columns]
                count = 0
                for row in tables[table.name]:
                    result = conn.execute(
                        target.insert(table)
                        .values(**dict(zip(names, row, strict=True)))
                        .on_conflict_do_nothing()
                        .returning(sa.literal(1))  # psycopg reports no rowcount here
                    )
                    count += len(result.all())
                added[table.name] = count
            return added

        return target.transaction(work)


def merge_revisions(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """Merge revision rows (column name → value) in ``conn``'s transaction; how many were new."""
    added = 0
    known = {k for (k,) in conn.execute(sa.select(revisions.c.key).distinct())}
    for r in rows:
        if r["key"] in known:
            r = {**r, "seq": 0}
        found = conn.execute(
            sa.select(
                revisions.c.id, revisions.c.fetched_at, revisions.c.seen_at, revisions.c.ended
            ).where(revisions.c.key == r["key"], revisions.c.digest == r["digest"])
        ).first()
        if found is None:
            # a writer that added the same answer meanwhile wins: then it is only widened below
            inserted = conn.execute(
                schema.dialect_insert(conn, revisions)
                .values(**{c: r[c] for c in COLUMNS})
                .on_conflict_do_nothing(index_elements=["key", "digest"])
                .returning(revisions.c.id)
            )
            if inserted.first() is not None:
                added += 1
                continue
            found = conn.execute(
                sa.select(
                    revisions.c.id, revisions.c.fetched_at, revisions.c.seen_at, revisions.c.ended
                ).where(revisions.c.key == r["key"], revisions.c.digest == r["digest"])
            ).one()
        rid, fetched, seen, ended = found
        conn.execute(
            sa.update(revisions)
            .where(revisions.c.id == rid)
            .values(
                fetched_at=min(fetched, r["fetched_at"]),
                seen_at=max(seen, r["seen_at"]),
                ended=max(int(ended), int(r["ended"])),
            )
        )
    return added
