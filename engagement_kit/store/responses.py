"""The response store: every answer the platform gave, kept in SQLite.

It is two things at once:

* **a cache for re-runs.** An answer is *final* once its range ended at least ``settle``
  (48 hours by default) before it was fetched, in the query's zone: by then the platform has
  finished counting, so it is reused without a request. Other answers (the range includes today,
  or ended too recently to be settled) are reused for ``ttl`` seconds (15 minutes by default),
  then asked again. ``refresh=True`` on a fetch asks again whatever the store holds.
* **the long-term record.** The platform keeps only about six months of analytics; the store
  keeps every distinct answer it was given as a *revision* (append-only, with when it was
  fetched and when it was last confirmed), so older weeks stay available after the platform has
  dropped them and a revised week can be traced. Reads use the newest revision, except one that
  loses data the store already had (days with users answered as zeros, typically because the
  platform no longer keeps them): it is kept, not used, and logged once.

The file is :func:`~engagement_kit.store.location.default_store_path`: ``$ENGAGEMENT_KIT_STORE``
or ``responses.sqlite3`` in the user *data* folder. Revisions are keyed by host + the normalised
query (:meth:`EngagementQuery.key`); no credential or token is ever written.

Several processes (parallel report runs) may read and write at once: the database runs in WAL
mode with a busy timeout, writes are short ``BEGIN IMMEDIATE`` transactions, and a write that
still meets ``database is locked`` is retried. Each thread uses its own connection.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engagement_kit.config.query import EngagementQuery
from engagement_kit.store.compare import lost_buckets
from engagement_kit.store.database import logger
from engagement_kit.store.database import utc as _utc
from engagement_kit.store.host_limits import HostLimits
from engagement_kit.store.schema import (
    REVISION_COLUMNS,
    payload_digest,
    range_end,
    revision_row,
    revisions,
)
from engagement_kit.store.upkeep import Upkeep

_R = revisions.c

__all__ = ["DEFAULT_SETTLE", "DEFAULT_TTL", "ResponseStore", "Revision", "StoreEntry"]

#: Seconds a not-yet-final answer is reused.
DEFAULT_TTL = 900
#: How long after its range ended (in the query's zone) an answer counts as final.
DEFAULT_SETTLE = dt.timedelta(hours=48)


@dataclass(frozen=True)
class Revision:
    """One distinct answer the platform gave for a query.

    Attributes
    ----------
    id : int
        Order of arrival in this store.
    key, host, stream_id : str
    query : EngagementQuery
    payload : str
        The raw JSON text exactly as received.
    fetched_at, seen_at : datetime
        When this answer first came, and when the platform last gave it (UTC).
    ended : bool
        Whether the range had ended when it was fetched.
    settled : bool
        Whether it was seen at least the store's ``settle`` after the range ended (final).
    lossy : bool
        It loses data an earlier revision had: kept, but never used.
    seq : int
        Rises each time the platform gives this answer: the highest is the latest answer.
    """

    id: int
    key: str
    host: str
    stream_id: str
    query: EngagementQuery
    payload: str
    fetched_at: dt.datetime
    seen_at: dt.datetime
    ended: bool
    settled: bool
    lossy: bool
    seq: int = 1


@dataclass(frozen=True)
class StoreEntry:
    """One stored range: its answer in use (without its payload).

    Attributes
    ----------
    key : str
        host + the query's canonical text.
    host, stream_id : str
    query : dict
        The query's fields (``EngagementQuery(**entry.query)`` rebuilds it).
    fetched_at : datetime
        When the answer in use was first fetched (UTC).
    final : bool
        Whether the answer is settled (reused without asking again).
    size : int
        Payload size in characters.
    revisions : int
        How many distinct answers are kept for this range.
    """

    key: str
    host: str
    stream_id: str
    query: dict[str, Any]
    fetched_at: dt.datetime
    final: bool
    size: int
    revisions: int = 1


class ResponseStore(HostLimits, Upkeep):
    """SQLite store of raw answers and their revisions, keyed by host + normalised query.

    Parameters
    ----------
    path : str or Path, optional
        The database file (default :func:`default_store_path`). Created on first use, with
        its directory; nothing is touched until then. The default store moves itself once
        out of the old cache folder (see :mod:`engagement_kit.store.location`).
    ttl : float
        Seconds a not-yet-final answer is reused (default 900).
    settle : timedelta or float
        How long after its range ended (in the query's zone) an answer must have been fetched
        to be final (default 48 hours; a number is seconds).

    Raises
    ------
    StoreError
        (on first use) When the file is not a database, is corrupt or cannot be opened; the
        message names the file and the fix.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        settle: dt.timedelta | float = DEFAULT_SETTLE,
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
            raise ValueError(f"ttl: {ttl!r} must be a number of seconds >= 0")
        if isinstance(settle, int | float) and not isinstance(settle, bool):
            settle = dt.timedelta(seconds=settle)
        if not isinstance(settle, dt.timedelta) or settle < dt.timedelta(0):
            raise ValueError(f"settle: {settle!r} must be a timedelta (or seconds) >= 0")
        super().__init__(path)
        self.ttl = float(ttl)
        self.settle = settle

    def __repr__(self) -> str:
        hours = self.settle.total_seconds() / 3600
        return f"ResponseStore({self.shown!r}, ttl={self.ttl:g}, settle={hours:g}h)"

    # -- revisions ----------------------------------------------------------------------------
    @staticmethod
    def key(host: str, query: EngagementQuery) -> str:
        """The row key: host + the query's canonical text (never a secret)."""
        return f"{host.rstrip('/')} {query.key()}"

    def _settled(self, query: EngagementQuery, seen_at: dt.datetime, ended: bool) -> bool:
        return ended and seen_at >= range_end(query) + self.settle

    def _revision(self, row: tuple[Any, ...]) -> Revision:
        rid, key, host, stream_id, query_text, *_, payload, _, fetched, seen, ended, lossy, seq = (
            row
        )
        query = EngagementQuery(**json.loads(query_text))
        seen_at = dt.datetime.fromisoformat(seen)
        return Revision(
            id=int(rid),
            key=key,
            host=host,
            stream_id=stream_id,
            query=query,
            payload=payload,
            fetched_at=dt.datetime.fromisoformat(fetched),
            seen_at=seen_at,
            ended=bool(ended),
            settled=self._settled(query, seen_at, bool(ended)),
            lossy=bool(lossy),
            seq=int(seq),
        )

    def revisions(self, host: str, query: EngagementQuery) -> list[Revision]:
        """Every distinct answer kept for ``query`` on ``host``, oldest first."""
        rows = self.read(
            sa.select(*REVISION_COLUMNS).where(_R.key == self.key(host, query)).order_by(_R.id)
        )
        return [self._revision(row) for row in rows]

    def ranges(
        self,
        *,
        stream_id: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> dict[str, list[Revision]]:
        """Revisions grouped by key (oldest first), optionally one stream's / one exact range's."""
        statement = sa.select(*REVISION_COLUMNS)
        if stream_id is not None:
            statement = statement.where(_R.stream_id == stream_id)
        if start is not None:
            statement = statement.where(_R.first_day == start.isoformat())
        if end is not None:
            statement = statement.where(_R.last_day == end.isoformat())
        grouped: dict[str, list[Revision]] = {}
        for row in self.read(statement.order_by(_R.key, _R.id)):
            revision = self._revision(row)
            grouped.setdefault(revision.key, []).append(revision)
        return grouped

    @staticmethod
    def in_use(revisions: list[Revision]) -> Revision | None:
        """The revision reads use: the one the platform gave last, unless it loses data."""
        usable = [r for r in revisions if not r.lossy]
        return max(usable, key=lambda r: (r.seq, r.id)) if usable else None

    # -- the cache API ------------------------------------------------------------------------
    def get(
        self, host: str, query: EngagementQuery, *, now: dt.datetime | None = None
    ) -> str | None:
        """The stored raw answer for ``query`` on ``host``, if it may be reused.

        A final (settled) answer is always reused; another only within ``ttl`` seconds of the
        platform last giving it.

        Returns
        -------
        str or None
            The payload (JSON text) of the revision in use, or ``None`` for a miss or an
            expired answer.
        """
        at = _utc(now)
        rows = self.read(  # no Revision objects: this is the hot path of every cached fetch
            sa.select(_R.payload, _R.seen_at, _R.ended, _R.lossy, _R.seq, _R.id).where(
                _R.key == self.key(host, query)
            )
        )
        usable = [row for row in rows if not row[3]]
        if not usable:
            return None
        payload = max(usable, key=lambda row: (row[4], row[5]))[0]
        settled_after = range_end(query) + self.settle
        seen = [(dt.datetime.fromisoformat(row[1]), bool(row[2])) for row in rows]
        if any(ended and seen_at >= settled_after for seen_at, ended in seen):
            return payload
        age = (at - max(seen_at for seen_at, _ in seen)).total_seconds()
        return payload if 0 <= age <= self.ttl else None

    def put(
        self,
        host: str,
        query: EngagementQuery,
        payload: str | bytes,
        *,
        final: bool | None = None,
        now: dt.datetime | None = None,
    ) -> str:
        """Record an answer for ``query`` on ``host``; return the answer now in use.

        An answer identical to a kept revision only marks that revision as confirmed now. A
        new answer is added as a revision, except that one for a range that had not ended yet
        replaces the previous such answer (a day in progress is not history). A new answer
        that loses data the store had (see :func:`~engagement_kit.store.compare.lost_buckets`)
        is kept but not used, and a warning is logged.

        Parameters
        ----------
        payload : str or bytes
            The raw JSON text exactly as received; only store answers that parsed.
        final : bool, optional
            ``False`` when the range had not ended when it was fetched (default: worked out
            from ``now`` and the query's zone).

        Returns
        -------
        str
            The payload reads will use from now on: ``payload``, or the stored answer it
            would have spoiled.
        """
        if isinstance(payload, bytes | bytearray):
            payload = bytes(payload).decode("utf-8")
        at = _utc(now)
        ended = at >= range_end(query) if final is None else bool(final) and at >= range_end(query)
        key, digest = self.key(host, query), payload_digest(payload)
        lost: list[str] = []

        select_key = sa.select(*REVISION_COLUMNS).where(_R.key == key).order_by(_R.id)

        def work(conn: sa.Connection) -> str:
            self.lock(conn, f"revisions {key}")  # two writers of one range: one after the other
            rows = [tuple(row) for row in conn.execute(select_key)]
            same = next((row for row in rows if row[9] == digest), None)
            seq = max((row[-1] for row in rows), default=0) + 1
            if same is not None:
                conn.execute(
                    sa.update(revisions)
                    .where(_R.id == same[0])
                    .values(
                        seen_at=max(same[11], at.isoformat()),
                        ended=max(int(same[12]), int(ended)),
                        seq=seq,
                    )
                )
            else:
                kept = [self._revision(row) for row in rows]
                used = self.in_use(kept)
                lost[:] = [] if used is None else lost_buckets(used.payload, payload, query)
                newest = max(kept, key=lambda r: r.id) if kept else None
                if newest is not None and not newest.ended and not ended and not lost:
                    conn.execute(
                        sa.update(revisions)
                        .where(_R.id == newest.id)
                        .values(
                            payload=payload,
                            digest=digest,
                            fetched_at=at.isoformat(),
                            seen_at=at.isoformat(),
                            seq=seq,
                        )
                    )
                else:
                    conn.execute(
                        sa.insert(revisions).values(
                            **revision_row(
                                key, host, query, payload, at, at, ended, bool(lost), seq=seq
                            )
                        )
                    )
            rows = [tuple(row) for row in conn.execute(select_key)]
            used = self.in_use([self._revision(row) for row in rows])
            return payload if used is None else used.payload

        in_use = self.transaction(work)
        if lost:
            shown = ", ".join(lost[:3]) + (f" and {len(lost) - 3} more" if len(lost) > 3 else "")
            logger.warning(
                "the platform's new answer for %s has no users on %s, where the store has "
                "some (the platform may no longer keep those days): the stored numbers stay in "
                "use and the new answer is kept as a revision (`engagement-kit store history %s`)",
                query.describe(),
                shown,
                query.stream_id,
            )
        return in_use

    # -- what is stored -----------------------------------------------------------------------
    def entries(self, *, stream_id: str | None = None) -> list[StoreEntry]:
        """Every stored range (its answer in use, without payloads), oldest fetch first."""
        statement = sa.select(
            _R.key,
            _R.host,
            _R.stream_id,
            _R.query,
            _R.fetched_at,
            _R.seen_at,
            _R.range_end,
            _R.ended,
            _R.lossy,
            _R.seq,
            _R.id,
            sa.func.length(_R.payload),
        )
        if stream_id is not None:
            statement = statement.where(_R.stream_id == stream_id)
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for row in self.read(statement.order_by(_R.key, _R.id)):
            grouped.setdefault(row[0], []).append(row)
        out = []
        for key, rows in grouped.items():
            usable = [r for r in rows if not r[8]]
            if not usable:  # pragma: no cover - a first answer is never lossy
                continue
            used = max(usable, key=lambda r: (r[9], r[10]))
            settled = any(
                ended
                and dt.datetime.fromisoformat(seen) >= dt.datetime.fromisoformat(end) + self.settle
                for *_, seen, end, ended, _lossy, _seq, _id, _size in rows
            )
            out.append(
                StoreEntry(
                    key=key,
                    host=used[1],
                    stream_id=used[2],
                    query=json.loads(used[3]),
                    fetched_at=dt.datetime.fromisoformat(used[4]),
                    final=settled,
                    size=int(used[11]),
                    revisions=len(rows),
                )
            )
        return sorted(out, key=lambda e: (e.fetched_at, e.key))

    def info(self) -> dict[str, Any]:
        """What the store holds.

        Returns
        -------
        dict
            ``path``, ``size_bytes`` (file plus write-ahead log), ``entries`` (stored ranges),
            ``final_entries`` (settled ranges), ``revisions`` (distinct answers kept),
            ``streams`` (stream id → number of ranges), ``days`` (stream id → (oldest day,
            newest day) covered, ISO text), ``oldest_fetch``, ``newest_fetch`` (ISO UTC text or
            ``None``), ``ttl_seconds``, ``settle_hours``.
        """
        entries = self.entries()
        (kept, oldest, newest), *_ = self.read(
            sa.select(sa.func.count(), sa.func.min(_R.fetched_at), sa.func.max(_R.fetched_at))
        )
        streams: dict[str, int] = {}
        for entry in entries:
            streams[entry.stream_id] = streams.get(entry.stream_id, 0) + 1
        days = {
            sid: (first, last)
            for sid, first, last in self.read(
                sa.select(_R.stream_id, sa.func.min(_R.first_day), sa.func.max(_R.last_day))
                .group_by(_R.stream_id)
                .order_by(_R.stream_id)
            )
        }
        return {
            "path": self.shown,
            "backend": self.backend,
            "size_bytes": self.size_bytes(),
            "entries": len(entries),
            "final_entries": sum(e.final for e in entries),
            "revisions": int(kept),
            "streams": dict(sorted(streams.items())),
            "days": days,
            "oldest_fetch": oldest,
            "newest_fetch": newest,
            "ttl_seconds": self.ttl,
            "settle_hours": self.settle.total_seconds() / 3600,
        }
