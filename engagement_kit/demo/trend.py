"""The demo platform's User Engagement Trend answer, counted from a stream's session log.

Definitions (the platform's, see ``shared/api/NOTES.md``); "counted sessions" are the sessions
that pass the request's filters (conversation type, status, channels), lie in the requested
days of the query zone and have started by "now". "First-ever session" is always taken over the
*whole, unfiltered* log (every channel, type and status).

Per bucket (one hour, or one day, of the query zone's wall clock):

* **unique**: distinct users with a counted session in the bucket;
* **new**: those of them whose first-ever session falls in the bucket;
* **returning**: those of them whose first-ever session is before the bucket's start.

So per bucket ``unique = new + returning``. A repeated fall-back hour is one bucket covering
both real hours; a skipped spring-forward hour is present with 0.

With ``overlap=True`` (the other reading of the platform's definition, "users who had
interacted before and start another session in the bucket") **returning** is the users with
a counted session in the bucket that starts after their first-ever session. A user new at
10:00 and back at 15:00 then counts as new *and* returning that day, so per bucket
``max(new, returning) <= unique <= new + returning``.

Per period (``summary``):

* **uniqueUsers**: distinct users with a counted session in the period;
* **newUsers**: users with a counted session on the local day of their first-ever session,
  that day inside the period (= the sum of the daily ``new`` buckets);
* **returningUsers**: distinct users with a counted session on a local day later than the
  local day of their first-ever session (with ``overlap=True``: a counted session later than
  their first-ever session);
* ``avg…PerDay`` = the count divided by the number of days, a JSON int when whole (``0``,
  like the reference sample) and the plain float otherwise (``0.4``).

A user new on day 1 and back on day 3 counts in both, so ``new + returning`` can exceed
``unique``.

Days after "now" have no activity; the day holding "now" is partial. The summary does not
depend on the aggregation.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

import numpy as np

from engagement_kit.demo.sessions import DemoStream, local_view, session_arrays
from engagement_kit.tidy import HOUR_KEYS, format_api_date

__all__ = ["TrendRequest", "trend_answer"]

_DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class TrendRequest:
    """One validated request, in the platform's own lower-cased vocabulary.

    Attributes
    ----------
    stream : DemoStream
    start, end : datetime.date
        Inclusive days of the query zone.
    aggregation : {"daily", "hourly"}
    conversation_type : {"all", "interactive", "non interactive"}
    conversation_status : {"all", "active", "closed"}
    channels : tuple of str or None
        Lower-cased channel names; ``None`` = every channel.
    channels_echo : str or None
        What ``filters.channels`` shows; ``None`` when the request had no ``channels``.
    tz : str
        IANA zone of the days and hours.
    """

    stream: DemoStream
    start: dt.date
    end: dt.date
    aggregation: str = "hourly"
    conversation_type: str = "all"
    conversation_status: str = "all"
    channels: tuple[str, ...] | None = None
    channels_echo: str | None = None
    tz: str = "UTC"

    @property
    def days(self) -> int:
        """Days in the range, both ends included."""
        return (self.end - self.start).days + 1


def _average(count: int, days: int) -> int | float:
    avg = count / days
    return int(avg) if avg.is_integer() else avg


def _pairs(bucket: np.ndarray, user: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (bucket, user) pairs, as two arrays."""
    keys = np.unique(bucket.astype(np.int64) * n_users + user)
    return keys // n_users, keys % n_users


def trend_answer(request: TrendRequest, *, now: float, overlap: bool = False) -> dict[str, Any]:
    """Count the answer of one request at instant ``now`` (epoch seconds).

    ``overlap`` picks the reading of "returning" (see the module docstring).

    Returns
    -------
    dict
        The JSON object the platform sends: ``summary``, ``uniqueUsersTrend``,
        ``newUsersTrend``, ``returningUsersTrend`` (each ``{"dataPoints": [...]}``), ``filters``.
    """
    r = request
    zone = zoneinfo.ZoneInfo(r.tz)
    days = r.days
    first_day = (r.start - _EPOCH).days
    m_start = int(dt.datetime.combine(r.start, dt.time(), tzinfo=zone).timestamp())
    m_end = int(
        dt.datetime.combine(r.end + dt.timedelta(days=1), dt.time(), tzinfo=zone).timestamp()
    )
    # generate the log only as far as the last instant that can count
    limit = max(min(now, m_end), m_start)
    through = dt.datetime.fromtimestamp(limit, zoneinfo.ZoneInfo(r.stream.tz)).date()
    arrays = session_arrays(r.stream, through)
    view = local_view(arrays, r.tz)

    # a two-day margin keeps this right even where local days are not contiguous in UTC
    lo = int(np.searchsorted(arrays.instant, m_start - 2 * _DAY, side="left"))
    hi = int(np.searchsorted(arrays.instant, min(now, m_end + 2 * _DAY), side="right"))
    instant = arrays.instant[lo:hi]
    day = view.day[lo:hi] - first_day
    mask = (day >= 0) & (day < days) & (instant <= now)
    if r.conversation_type != "all":
        interactive = arrays.interactive[lo:hi]
        mask &= interactive if r.conversation_type == "interactive" else ~interactive
    if r.conversation_status != "all":
        active = now < instant + arrays.open_seconds[lo:hi]
        mask &= active if r.conversation_status == "active" else ~active
    if r.channels is not None:
        names = r.stream.channel_names
        codes = [names.index(c) for c in r.channels if c in names]
        mask &= np.isin(arrays.channel[lo:hi], codes)

    n_users = max(arrays.n_users, 1)
    user = arrays.user[lo:hi][mask]
    day = day[mask]
    first = arrays.first_session
    # sessions later than their user's first-ever one (the "overlap" reading of returning)
    later = instant[mask] > arrays.instant[first[user]]

    # daily pairs also give the summary
    pair_day, pair_user = _pairs(day, user, n_users)
    pair_first_day = view.day[first[pair_user]] - first_day
    is_new = pair_first_day == pair_day
    unique_d = np.bincount(pair_day, minlength=days)
    new_d = np.bincount(pair_day[is_new], minlength=days)
    summary_counts = (
        len(np.unique(user)),
        int(is_new.sum()),
        len(np.unique(user[later]))
        if overlap
        else len(np.unique(pair_user[pair_day > pair_first_day])),
    )

    dates = [format_api_date(r.start + dt.timedelta(days=i)) for i in range(days)]
    if r.aggregation == "daily":
        returning_d = (
            np.bincount(_pairs(day[later], user[later], n_users)[0], minlength=days)
            if overlap
            else unique_d - new_d
        )
        counts = (unique_d, new_d, returning_d)
        trends = [
            [{"date": d, "users": v} for d, v in zip(dates, c.tolist(), strict=True)]
            for c in counts
        ]
    else:
        bucket = day * 24 + view.hour[lo:hi][mask]
        trends = _hourly_trends(
            bucket, user, later, view, first, first_day, days, dates, n_users, overlap=overlap
        )

    return _answer_json(r, dates, summary_counts, trends)


def _hourly_trends(
    bucket: np.ndarray,
    user: np.ndarray,
    later: np.ndarray,
    view: Any,
    first: np.ndarray,
    first_day: int,
    days: int,
    dates: list[str],
    n_users: int,
    *,
    overlap: bool,
) -> list[list[dict[str, Any]]]:
    """The three hourly trends (unique, new, returning) of the matching sessions."""
    pair_bucket, pair_user = _pairs(bucket, user, n_users)
    first_s = first[pair_user]
    first_bucket = (view.day[first_s] - first_day) * 24 + view.hour[first_s]
    is_new_h = first_bucket == pair_bucket
    unique_h = np.bincount(pair_bucket, minlength=days * 24)
    new_h = np.bincount(pair_bucket[is_new_h], minlength=days * 24)
    returning_h = (
        np.bincount(_pairs(bucket[later], user[later], n_users)[0], minlength=days * 24)
        if overlap
        else unique_h - new_h
    )
    keys = ("date", *HOUR_KEYS)
    return [
        [
            dict(zip(keys, (d, *row), strict=True))
            for d, row in zip(dates, c.reshape(days, 24).tolist(), strict=True)
        ]
        for c in (unique_h, new_h, returning_h)
    ]


def _answer_json(
    r: TrendRequest,
    dates: list[str],
    summary_counts: tuple[int, int, int],
    trends: list[list[dict[str, Any]]],
) -> dict[str, Any]:
    """The platform's JSON object: summary, the three trends, the filters echo."""
    days = len(dates)
    unique, new, returning = summary_counts
    filters: dict[str, Any] = {
        "start": dates[0],
        "end": dates[-1],
        "conversationType": r.conversation_type,
        "conversationStatus": r.conversation_status,
    }
    if r.channels_echo is not None:
        filters["channels"] = r.channels_echo
    filters["aggregationType"] = r.aggregation
    filters["dataPointsCount"] = days
    return {
        "summary": {
            "uniqueUsers": unique,
            "newUsers": new,
            "returningUsers": returning,
            "avgUniqueUsersPerDay": _average(unique, days),
            "avgNewUsersPerDay": _average(new, days),
            "avgReturningUsersPerDay": _average(returning, days),
        },
        "uniqueUsersTrend": {"dataPoints": trends[0]},
        "newUsersTrend": {"dataPoints": trends[1]},
        "returningUsersTrend": {"dataPoints": trends[2]},
        "filters": filters,
    }
