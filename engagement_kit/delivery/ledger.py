"""The ledger: what was sent, what is being sent (claims) and which alerts fired, in the
response store (its ``deliveries``, ``claims`` and ``alert_firings`` tables, declared in
:mod:`engagement_kit.store.schema`, reached through :mod:`engagement_kit.store.database`).

Sent exactly once, by construction: before a message goes out, :meth:`Ledger.claim` inserts
one ``claims`` row for its stream, week, destination and kind. The primary key makes a
second process's insert fail, so it skips the message and says who holds it. After sending,
:meth:`Ledger.record` moves the claim to ``deliveries`` in one transaction;
:meth:`Ledger.release` marks a failed attempt, which any later run claims again. A claim whose
owner died (killed, machine lost) is taken over once it is older than the claim timeout
(``ENGAGEMENT_KIT_CLAIM_TIMEOUT``, 15 minutes by default). A crash after the server accepted
a message but before it was recorded therefore sends it again after that timeout: delivery is
*at least once* in that window (see docs/delivery.md for why).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from engagement_kit.config.weeks import parse_iso_week as _week_key
from engagement_kit.store.database import Database
from engagement_kit.store.schema import alert_firings, claims, deliveries

__all__ = ["DEFAULT_CLAIM_TIMEOUT", "DIGEST_KEY", "Claim", "Ledger"]

#: Seconds after which a claim whose owner never finished is taken over.
DEFAULT_CLAIM_TIMEOUT = 900.0

#: The ``stream_id`` of a digest's rows: a digest is one message per run, keyed by
#: ``(DIGEST_KEY, its weeks, destination, "digest")``, not by each of its streams.
DIGEST_KEY = "(digest)"

_D, _C, _A = deliveries.c, claims.c, alert_firings.c


@dataclasses.dataclass(frozen=True)
class Claim:
    """What :meth:`Ledger.claim` found.

    ``status`` is ``"claimed"`` (this process sends it), ``"sent"`` (recorded as sent:
    ``content_hash`` and ``at``), or ``"busy"`` (another live process holds it: ``owner``,
    ``at``). ``took_over`` names the owner of a stale claim this process took over.
    """

    status: str
    owner: str = ""
    at: str = ""
    content_hash: str = ""
    took_over: str = ""


def _stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ledger(Database):
    """Sent messages, claims and fired alerts, in the store.

    ``destination`` is the URL as written in ``streams.toml`` (``${NAME}`` unexpanded), so no
    secret is stored. ``engagement-kit store clear`` deletes answers only, not this record.

    Parameters
    ----------
    location : str or Path, optional
        The store (default: ``ENGAGEMENT_KIT_STORE`` or the default file).
    claim_timeout : float, optional
        Seconds after which another process's unfinished claim is taken over (default
        ``ENGAGEMENT_KIT_CLAIM_TIMEOUT``, else 900).
    """

    def __init__(
        self, location: str | os.PathLike[str] | None = None, *, claim_timeout: float | None = None
    ) -> None:
        super().__init__(location)
        if claim_timeout is None:
            from engagement_kit.config.settings import load_settings

            claim_timeout = load_settings().claim_timeout
        self.claim_timeout = float(claim_timeout)
        #: Who this ledger's claims belong to: host, process and a random part.
        self.owner = f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"

    @staticmethod
    def _key(
        table: sa.Table, stream_id: str, week: str, destination: str, kind: str
    ) -> sa.ColumnElement[bool]:
        c = table.c
        return sa.and_(
            c.stream_id == stream_id, c.week == week, c.destination == destination, c.kind == kind
        )

    def sent(
        self, stream_id: str, week: str, destination: str, kind: str
    ) -> tuple[str, str] | None:
        """``(content_hash, sent_at)`` when this was sent already."""
        rows = self.read(
            sa.select(_D.content_hash, _D.sent_at).where(
                self._key(deliveries, stream_id, week, destination, kind)
            )
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def claim(
        self,
        stream_id: str,
        week: str,
        destination: str,
        kind: str,
        *,
        resend: bool = False,
        now: float | None = None,
    ) -> Claim:
        """Claim one message for this process, atomically (see the module docstring)."""
        at = time.time() if now is None else now
        key = self._key(claims, stream_id, week, destination, kind)
        mine = {"owner": self.owner, "status": "claimed", "claimed_at": at, "detail": ""}

        def work(conn: sa.Connection) -> Claim:
            if not resend:
                done = conn.execute(
                    sa.select(_D.content_hash, _D.sent_at).where(
                        self._key(deliveries, stream_id, week, destination, kind)
                    )
                ).first()
                if done is not None:
                    return Claim("sent", at=done[1], content_hash=done[0])
            inserted = conn.execute(
                self.insert(claims)
                .values(stream_id=stream_id, week=week, destination=destination, kind=kind, **mine)
                .on_conflict_do_nothing()
                .returning(_C.owner)  # counted by the rows returned: psycopg's rowcount is -1
            )
            if inserted.first() is not None:
                return Claim("claimed", self.owner, _stamp(at))
            owner, status, claimed_at = conn.execute(
                sa.select(_C.owner, _C.status, _C.claimed_at).where(key)
            ).one()
            stale = status != "claimed" or at - claimed_at >= self.claim_timeout
            if owner != self.owner and not stale:
                return Claim("busy", owner, _stamp(claimed_at))
            taken = conn.execute(
                sa.update(claims)
                .where(key, _C.owner == owner, _C.claimed_at == claimed_at)
                .values(**mine)
                .returning(_C.owner)
            )
            if taken.first() is None:  # another process took it over in between
                return Claim("busy", "another process", _stamp(at))
            took = owner if owner != self.owner and status == "claimed" else ""
            return Claim("claimed", self.owner, _stamp(at), took_over=took)

        return self.transaction(work)

    def record(
        self, stream_id: str, week: str, destination: str, kind: str, content_hash: str
    ) -> None:
        """Record the message as sent (and drop its claim), in one transaction."""
        values = {"content_hash": content_hash, "sent_at": timestamp_now()}

        def work(conn: sa.Connection) -> None:
            conn.execute(
                self.insert(deliveries)
                .values(
                    stream_id=stream_id, week=week, destination=destination, kind=kind, **values
                )
                .on_conflict_do_update(
                    index_elements=["stream_id", "week", "destination", "kind"], set_=values
                )
            )
            conn.execute(
                sa.delete(claims).where(self._key(claims, stream_id, week, destination, kind))
            )

        self.transaction(work)

    def release(
        self, stream_id: str, week: str, destination: str, kind: str, detail: str = ""
    ) -> None:
        """Mark this process's claim failed: the next run (any process) claims it again."""
        self.write(
            sa.update(claims)
            .where(self._key(claims, stream_id, week, destination, kind), _C.owner == self.owner)
            .values(status="failed", detail=detail[:500])
        )

    def last_fired(self, stream_id: str, before_week: str) -> dict[str, str]:
        """Rule name → the latest week before ``before_week`` in which it fired."""
        rows = self.read(sa.select(_A.rule, _A.week).where(_A.stream_id == stream_id))
        key = _week_key
        out: dict[str, str] = {}
        for rule, week in rows:
            if key(week) < key(before_week) and (rule not in out or key(week) > key(out[rule])):
                out[rule] = week
        return out

    def set_firings(self, stream_id: str, week: str, rules: Iterable[str]) -> None:
        """The rules that fired for this stream and week (replacing an earlier evaluation)."""
        rows = [
            {"stream_id": stream_id, "rule": r, "week": week, "fired_at": timestamp_now()}
            for r in rules
        ]

        def work(conn: sa.Connection) -> None:
            conn.execute(sa.delete(alert_firings).where(_A.stream_id == stream_id, _A.week == week))
            if rows:
                conn.execute(sa.insert(alert_firings), rows)

        self.transaction(work)


def timestamp_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
