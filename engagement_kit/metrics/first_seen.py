"""Session windows and first-seen users, kept in the response store's SQLite file.

Two tables of their own beside the response store's (the store's own tables are not touched):

``session_windows``
    The sessions of each *closed* getSessions window (host, stream, grid width, window start),
    in the compact row form of :func:`engagement_kit.client.sessions.session_row`. A closed window
    never changes, so it is never asked again: a long backfill interrupted by Ctrl-C or a
    crash resumes where it stopped.
``first_seen`` and ``first_seen_meta``
    Per stream, each user's first session (its start in UTC and channel), built by
    ``engagement-kit backfill --stream ID --since DATE`` and extended incrementally: a later
    run only lowers a user's first start or adds users. The meta row keeps the *horizon* (the
    earliest day the backfill reached) and the last day covered. Users first seen within
    ``censor_days`` of the horizon may really be older (their earlier sessions lie before the
    horizon): :meth:`FirstSeenTable.frame` flags them as possibly left-censored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa

from engagement_kit.store.database import Database
from engagement_kit.store.schema import first_seen, first_seen_meta
from engagement_kit.store.session_windows import SessionCache

_F, _M = first_seen.c, first_seen_meta.c

__all__ = [
    "DEFAULT_CENSOR_DAYS",
    "FirstSeenTable",
    "SessionCache",
    "backfill",
    "check_recent_week",
]

#: Users first seen this close to the backfill's horizon may really be older.
DEFAULT_CENSOR_DAYS = 28


class FirstSeenTable(Database):
    """Per stream, each user's first session (see the module docstring)."""

    def update(
        self,
        host: str,
        stream_id: str,
        sessions: pd.DataFrame,
        *,
        since: dt.date,
        through: dt.date,
        tz: str,
    ) -> int:
        """Fold a sessions frame covering local days ``since``..``through`` into the table.

        Developer sessions are left out (the dashboards leave them out too). A user's first
        start only ever moves earlier. Returns the number of users in the frame.
        """
        frame = sessions.loc[
            ~sessions["is_developer"].astype(bool), ["user_id", "start", "channel"]
        ]
        frame = frame.sort_values("start", kind="stable").drop_duplicates("user_id")
        starts = frame["start"].dt.tz_convert("UTC").map(lambda t: t.isoformat())
        rows = list(zip(frame["user_id"], starts, frame["channel"], strict=True))
        meta = self.meta(host, stream_id)
        horizon = min(since, meta["horizon"]) if meta else since
        last = max(through, meta["through"]) if meta else through

        def work(conn: sa.Connection) -> None:
            upsert = self.insert(first_seen)
            for user, start, channel in rows:
                conn.execute(
                    upsert.values(
                        host=host, stream_id=stream_id, user_id=user, first_start=start,
                        channel=channel,
                    ).on_conflict_do_update(
                        index_elements=["host", "stream_id", "user_id"],
                        set_={"first_start": upsert.excluded.first_start,
                              "channel": upsert.excluded.channel},
                        where=upsert.excluded.first_start < _F.first_start,
                    )
                )  # fmt: skip
            values = {
                "tz": tz,
                "horizon": horizon.isoformat(),
                "through": last.isoformat(),
                "updated_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            conn.execute(
                self.insert(first_seen_meta)
                .values(host=host, stream_id=stream_id, **values)
                .on_conflict_do_update(index_elements=["host", "stream_id"], set_=values)
            )

        self.transaction(work)
        return len(rows)

    def meta(self, host: str, stream_id: str) -> dict[str, Any] | None:
        """``{"tz", "horizon", "through", "updated_at"}`` of the stream, or ``None``."""
        rows = self.read(
            sa.select(_M.tz, _M.horizon, _M.through, _M.updated_at).where(
                _M.host == host, _M.stream_id == stream_id
            )
        )
        if not rows:
            return None
        tz, horizon, through, updated = rows[0]
        return {
            "tz": tz,
            "horizon": dt.date.fromisoformat(horizon),
            "through": dt.date.fromisoformat(through),
            "updated_at": updated,
        }

    def frame(
        self, host: str, stream_id: str, *, tz: str = "UTC", censor_days: int = DEFAULT_CENSOR_DAYS
    ) -> pd.DataFrame:
        """``user_id``, ``first_start`` (in ``tz``), ``channel``, ``possibly_censored``.

        ``possibly_censored`` is true for users first seen within ``censor_days`` of the
        horizon: their real first session may be older than the backfill reached.
        """
        rows = self.read(
            sa.select(_F.user_id, _F.first_start, _F.channel)
            .where(_F.host == host, _F.stream_id == stream_id)
            .order_by(_F.first_start, _F.user_id)
        )
        frame = pd.DataFrame(rows, columns=["user_id", "first_start", "channel"])
        frame["first_start"] = pd.to_datetime(
            frame["first_start"], utc=True, format="ISO8601"
        ).dt.tz_convert(tz)
        meta = self.meta(host, stream_id)
        if meta is None:
            frame["possibly_censored"] = False
        else:
            edge = pd.Timestamp(meta["horizon"] + dt.timedelta(days=censor_days), tz=tz)
            frame["possibly_censored"] = frame["first_start"] < edge
        frame.attrs.update({**(meta or {}), "stream_id": stream_id, "tz": tz})
        return frame


def backfill(
    client: Any,
    stream_id: str,
    since: dt.date | str,
    until: dt.date | str | None = None,
    *,
    tz: str = "UTC",
    config: Any = None,
    progress: bool | None = None,
    table: FirstSeenTable | None = None,
) -> dict[str, Any]:
    """Build or extend the stream's first-seen table from getSessions, back to ``since``.

    Only the days the table does not cover yet are asked for (before its horizon, after its
    last day); closed windows already in the store are not asked again either, so an
    interrupted backfill resumes where it stopped.

    Parameters
    ----------
    client : EngagementClient
    since : date or 'YYYY-MM-DD'
        The horizon: how far back to look for users' first sessions.
    until : date or 'YYYY-MM-DD', optional
        Last day (default yesterday in ``tz``).
    tz : str
        Zone of the days.

    Returns
    -------
    dict
        ``stream_id``, ``horizon``, ``through``, ``sessions`` (fetched now), ``users`` (in the
        table), ``new_users`` (added now), ``complete`` (``False`` after Ctrl-C: the table was
        left as it was; run again to resume), ``requested_windows``.
    """
    from engagement_kit.client.sessions import fetch_sessions
    from engagement_kit.config.query import parse_date
    from engagement_kit.config.weeks import today_in
    from engagement_kit.errors import InvalidQueryError

    first = parse_date(since, field="since")
    yesterday = today_in(tz, now=client.now()) - dt.timedelta(days=1)
    last = parse_date(until, field="until") if until is not None else yesterday
    if last > yesterday:
        raise InvalidQueryError(
            f"until: {last} has not ended yet in {tz}; the last complete day is {yesterday}",
            field="until",
        )
    if first > last:
        raise InvalidQueryError(f"since: {first} is after {last}", field="since")
    if table is None:
        if client.store is None:
            raise InvalidQueryError("backfill needs a store (the client has store=False)")
        table = FirstSeenTable(client.store.location)
    meta = table.meta(client.host, stream_id)
    ranges = [(first, last)]
    if meta is not None:
        if meta["tz"] != tz:
            raise InvalidQueryError(
                f"tz: the first-seen table of {stream_id} was built in {meta['tz']}; use "
                f"--tz {meta['tz']}",
                field="tz",
            )
        ranges = []
        if first < meta["horizon"]:
            ranges.append((first, meta["horizon"] - dt.timedelta(days=1)))
        if last > meta["through"]:
            ranges.append((max(first, meta["through"] + dt.timedelta(days=1)), last))
    before = len(table.frame(client.host, stream_id))
    fetched = requested = 0
    complete = True
    for lo, hi in ranges:
        sessions = fetch_sessions(
            client, stream_id, lo, hi, tz=tz, config=config, progress=progress
        )
        fetched += len(sessions)
        requested += sessions.attrs["requested_windows"]
        if not sessions.attrs["complete"]:
            complete = False
            break
        table.update(client.host, stream_id, sessions, since=lo, through=hi, tz=tz)
    meta = table.meta(client.host, stream_id)
    users = len(table.frame(client.host, stream_id))
    return {
        "stream_id": stream_id,
        "horizon": meta["horizon"] if meta else None,
        "through": meta["through"] if meta else None,
        "sessions": fetched,
        "users": users,
        "new_users": users - before,
        "complete": complete,
        "requested_windows": requested,
    }


def check_recent_week(
    client: Any,
    stream_id: str,
    *,
    tz: str = "UTC",
    week: str | None = None,
    first_seen: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cross-check one complete ISO week: daily users from getSessions vs the trend API.

    Ready for ``engagement-kit doctor``. Uses the stored first-seen table of the stream when
    there is one (else ``first_seen``, else only the week's own sessions, and then new and
    returning users of users older than the week differ, which the result's
    ``attrs["first_seen"]`` says).

    Returns
    -------
    DataFrame
        :func:`engagement_kit.metrics.cohorts.cross_check` for the week's seven days.
    """
    from engagement_kit.config.weeks import last_complete_week, today_in, week_bounds
    from engagement_kit.metrics.cohorts import cross_check, daily_user_counts

    label = week or last_complete_week(tz, today=today_in(tz, now=client.now()))
    monday, sunday = week_bounds(label)
    sessions = client.fetch_sessions(stream_id, monday, sunday, tz=tz, progress=False)
    basis = "the week only"
    if first_seen is None and client.store is not None:
        table = FirstSeenTable(client.store.location)
        if table.meta(client.host, stream_id) is not None:
            first_seen = table.frame(client.host, stream_id, tz=tz)
    if first_seen is not None:
        basis = f"the first-seen table (since {first_seen.attrs.get('horizon')})"
    counts = daily_user_counts(sessions, first_seen=first_seen)
    trend = client.fetch(stream_id, monday, sunday, tz=tz, aggregation="daily")
    result = cross_check(counts, trend)
    result.attrs.update(week=label, stream_id=stream_id, first_seen=basis)
    return result
