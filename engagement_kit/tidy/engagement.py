"""The result of a fetch: :class:`Engagement` (a summary and a long tidy trend frame, with its
wide view), the names of its metrics and summary fields, and :func:`merge_engagements`, which
joins the answers for consecutive chunks of one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engagement_kit.errors import ResponseFormatError
from engagement_kit.tidy.dates import format_api_date

if TYPE_CHECKING:
    from engagement_kit.config.query import EngagementQuery

__all__ = ["METRICS", "NOT_ADDITIVE", "SUMMARY_FIELDS", "Engagement", "merge_engagements"]

#: The three trends, in the order they appear in frames.
METRICS: tuple[str, ...] = ("unique", "new", "returning")

#: platform summary key -> our column name, in display order.
SUMMARY_FIELDS: dict[str, str] = {
    "uniqueUsers": "unique_users",
    "newUsers": "new_users",
    "returningUsers": "returning_users",
    "avgUniqueUsersPerDay": "avg_unique_users_per_day",
    "avgNewUsersPerDay": "avg_new_users_per_day",
    "avgReturningUsersPerDay": "avg_returning_users_per_day",
}


@dataclass(frozen=True, eq=False)
class Engagement:
    """One answer of the User Engagement Trend API, tidied.

    Attributes
    ----------
    summary : pandas.Series
        ``Float64``, indexed ``unique_users, new_users, returning_users,
        avg_unique_users_per_day, avg_new_users_per_day, avg_returning_users_per_day``.
        Over a period, new + returning may exceed unique (a user new on one day and back on a
        later one counts in both). For a range fetched in chunks only new users add up exactly;
        unique and returning (and their averages) are ``<NA>`` rather than wrong.
    trend : pandas.DataFrame
        Long and tidy, one row per metric and bucket, ordered by metric then date then hour:
        ``stream_id`` (category), ``metric`` (category ``unique``/``new``/``returning``),
        ``date`` (``datetime64[ns]``, local calendar day), ``hour`` (``Int8`` 0–23, ``<NA>`` for
        daily data), ``start`` (``datetime64[ns, tz]``, the bucket's first instant in the query's
        zone, see the module docstring for daylight-saving days), ``users`` (``int64``).
    filters : dict
        What the platform says it applied (its ``filters`` object, as sent).
    query : EngagementQuery or None
        The query that produced the answer (never holds a secret); ``None`` when a bare
        payload was parsed.
    stream_id, tz, aggregation : str
        The stream, the IANA zone of ``date``/``hour``/``start``, and ``"daily"``/``"hourly"``.
    summary_notes : dict
        Why a ``summary`` value is ``<NA>``: summary field → a sentence for the reader (empty
        for an answer of one request). Tables show the sentence instead of a bare dash.
    """

    summary: pd.Series
    trend: pd.DataFrame
    filters: dict[str, Any] = field(default_factory=dict)
    query: EngagementQuery | None = None
    stream_id: str = "unknown"
    tz: str = "UTC"
    aggregation: str = "daily"
    summary_notes: dict[str, str] = field(default_factory=dict)

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The distinct days covered, in order (whatever the order of ``trend``'s rows)."""
        days = np.unique(self.trend["date"].to_numpy(dtype="datetime64[ns]"))
        return pd.DatetimeIndex(days)

    @property
    def days(self) -> int:
        """Number of days covered."""
        return len(self.dates)

    @property
    def n_buckets(self) -> int:
        """Distinct (date, hour) buckets: days for daily data, days × 24 for hourly data."""
        date, hour, _ = _trend_keys(self.trend)
        return len(np.unique(_bucket_key(date, hour)))

    @property
    def start(self) -> dt.date | None:
        """First day (from the query when known, else from the data)."""
        if self.query is not None:
            return self.query.start
        return self.dates[0].date() if len(self.trend) else None

    @property
    def end(self) -> dt.date | None:
        """Last day (from the query when known, else from the data)."""
        if self.query is not None:
            return self.query.end
        return self.dates[-1].date() if len(self.trend) else None

    def wide(self) -> pd.DataFrame:
        """One row per bucket, the three metrics side by side.

        Rows are matched on their (date, hour) key, never on their position, so a ``trend``
        that was sorted, filtered or concatenated still gives the right columns. A bucket that
        one metric lacks counts 0 for it.

        Returns
        -------
        pandas.DataFrame
            ``date``, ``hour``, ``start``, ``unique``, ``new``, ``returning`` (``int64``),
            ordered by date then hour.

        Raises
        ------
        ResponseFormatError
            When a metric has two rows for the same bucket, or a row names an unknown metric.
        """
        return _wide_from_trend(self.trend)

    def __repr__(self) -> str:
        unique = self.summary.get("unique_users")
        shown = "NA" if pd.isna(unique) else f"{int(unique):,}"
        return (
            f"<Engagement {self.stream_id} {self.start} to {self.end} {self.aggregation} "
            f"{self.tz}: {shown} unique users>"
        )


#: The summary fields a chunked range cannot give exactly.
NOT_ADDITIVE: tuple[str, ...] = (
    "unique_users",
    "returning_users",
    "avg_unique_users_per_day",
    "avg_returning_users_per_day",
)


def merge_engagements(
    parts: Sequence[Engagement], query: EngagementQuery, *, note: str | None = None
) -> Engagement:
    """Join the answers for consecutive chunks of one query into one continuous answer.

    The trend is the chunks' trends end to end. In the summary only new users add up exactly
    (a user's first-ever interaction falls in exactly one chunk); unique and returning users,
    and their per-day averages, are set to ``<NA>`` because a user active in two chunks would
    be counted twice. ``note`` (default: a general sentence) becomes the reason in
    ``summary_notes`` for each of them.

    Returns
    -------
    Engagement
        With ``trend`` ordered by metric, date and hour like a single answer.
    """
    if not parts:
        raise ValueError("merge_engagements needs at least one part")
    if len(parts) == 1:
        return parts[0]
    trend = pd.concat([p.trend for p in parts], ignore_index=True)
    trend = trend.sort_values(["metric", "date", "hour"], kind="stable").reset_index(drop=True)
    new_users = float(sum(p.summary["new_users"] for p in parts))
    days = (query.end - query.start).days + 1
    summary = pd.Series(
        [pd.NA, new_users, pd.NA, pd.NA, new_users / days, pd.NA],
        index=list(SUMMARY_FIELDS.values()),
        dtype="Float64",
        name=query.stream_id,
    )
    filters = dict(parts[0].filters)
    filters["start"] = parts[0].filters.get("start", format_api_date(query.start))
    filters["end"] = parts[-1].filters.get("end", format_api_date(query.end))
    filters["dataPointsCount"] = sum(int(p.filters.get("dataPointsCount", p.days)) for p in parts)
    note = note or (
        f"Not available for this {query.days}-day range: it was fetched in {len(parts)} parts, "
        "and a user active in several parts cannot be counted once."
    )
    return Engagement(
        summary=summary,
        trend=trend,
        filters=filters,
        query=query,
        stream_id=query.stream_id,
        tz=query.tz,
        aggregation=parts[0].aggregation,
        summary_notes=dict.fromkeys(NOT_ADDITIVE, note),
    )


def _trend_keys(trend: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days as int64 ns, hour with -1 for daily rows, metric code 0/1/2) of every row."""
    date = trend["date"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    hour = trend["hour"].astype("Int16").fillna(-1).to_numpy(dtype=np.int64)
    metric = trend["metric"]
    if isinstance(metric.dtype, pd.CategoricalDtype) and tuple(metric.cat.categories) == METRICS:
        code = metric.cat.codes.to_numpy(dtype=np.int64)
    else:
        code = pd.Categorical(metric.astype(str), categories=list(METRICS)).codes.astype(np.int64)
    if (code < 0).any():
        bad = metric[code < 0].iloc[0]
        raise ResponseFormatError(
            f"unknown metric {bad!r}; the metrics are {', '.join(METRICS)}", field="trend.metric"
        )
    return date, hour, code


def _bucket_key(date: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """One int64 per (date, hour) bucket, ordered like the buckets (hour -1 = the whole day)."""
    return (date // 3_600_000_000_000) * 32 + hour + 1  # hours since 1970 stay far from overflow


def _wide_from_trend(trend: pd.DataFrame) -> pd.DataFrame:
    date, hour, code = _trend_keys(trend)
    n = len(trend) // len(METRICS)
    order = np.lexsort((hour, date, code))
    canonical = order if (order[1:] > order[:-1]).all() else None  # already sorted?
    if canonical is None:
        trend = trend.take(order)
        date, hour, code = date[order], hour[order], code[order]
    blocks = n * len(METRICS) == len(trend) and bool(
        (code == np.repeat(np.arange(len(METRICS)), n)).all()
        and all(
            np.array_equal(date[:n], date[i * n : (i + 1) * n])
            and np.array_equal(hour[:n], hour[i * n : (i + 1) * n])
            for i in range(1, len(METRICS))
        )
    )
    key = _bucket_key(date, hour)
    if blocks and (n < 2 or bool((key[1:n] > key[: n - 1]).all())):
        # the usual case: three aligned blocks of the same distinct buckets
        users = trend["users"].to_numpy()
        out = trend.iloc[:n][["date", "hour", "start"]].reset_index(drop=True)
        for i, metric in enumerate(METRICS):
            out[metric] = users[i * n : (i + 1) * n].astype(np.int64, copy=False)
        return out
    frame = pd.DataFrame({"key": key, "code": code, "users": trend["users"].to_numpy()})
    if frame.duplicated(["key", "code"]).any():
        row = trend.iloc[int(np.flatnonzero(frame.duplicated(["key", "code"]).to_numpy())[0])]
        raise ResponseFormatError(
            f"two rows for {row['metric']} users on {pd.Timestamp(row['date']).date()}"
            + ("" if pd.isna(row["hour"]) else f" hour {int(row['hour'])}")
            + "; a trend has one row per metric and bucket",
            field="trend",
        )
    table = frame.pivot(index="key", columns="code", values="users")
    table = table.reindex(columns=range(len(METRICS))).fillna(0).astype(np.int64)
    firsts = pd.Series(np.arange(len(trend))).groupby(key).first()
    out = trend.iloc[firsts.loc[table.index].to_numpy()][["date", "hour", "start"]]
    out = out.reset_index(drop=True)
    for i, metric in enumerate(METRICS):
        out[metric] = table[i].to_numpy()
    return out
