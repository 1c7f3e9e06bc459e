"""Pure analysis of engagement data: frames in, frames (or small records) out.

Nothing here fetches, prints or mutates its input. Every function accepts an
:class:`~engagement_kit.tidy.Engagement`, its long ``trend`` frame, or its ``wide()`` frame
(one row per bucket with ``unique``, ``new`` and ``returning`` columns), unless it says otherwise.

What the aggregate numbers can and cannot tell
----------------------------------------------
The User Engagement Trend API gives *counts*: distinct users per bucket (hour or day) and per
period, split into new (first-ever interaction in the bucket) and returning (seen before).
It never says *which* users. So:

* **Can**: how many users came, what share of each day's users had been seen before
  (*returning share*), what share were first-timers (*new-user share*), how concentrated use is
  in time (peak hours, the coverage window), and how often the period's users came back on
  average (*stickiness*: mean daily unique users ÷ period unique users, the DAU-over-period-users
  ratio; 1 means every user came every day, 1/days means each came on one day only).
* **Cannot**: true cohort retention ("of the users new in week 1, how many came back in week
  2?"), churn, or how many distinct users a rolling 7-day window holds. Those need user-level
  data the API does not give. A rising returning share may mean better retention *or* fewer new
  users; read it next to the new-user counts.
* Hourly data counts a user once per hour they were active, so per-day sums of hourly
  ``unique`` are *user-hours*, not users (``new`` does add up: a user is new in one hour only).
  Shares computed from hourly data are user-hour shares; stickiness needs daily data.
* Over a period, new + returning may exceed unique (a user new on Monday and back on Tuesday is
  in both); that is the platform's definition, not an error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._frames import check_columns as _check_columns
from ._frames import check_metric as _check_metric
from ._frames import daily_totals, finite_or_none, hour_label
from ._frames import is_engagement as _is_engagement
from ._frames import is_hourly as _is_hourly
from ._frames import wide as _wide
from .errors import InvalidQueryError
from .tidy import METRICS, SUMMARY_FIELDS

if TYPE_CHECKING:
    from .tidy import Engagement

__all__ = [
    "KPI_LABELS",
    "KPI_NAMES",
    "WEEKDAYS",
    "WEEKLY_METRICS",
    "CoverageWindow",
    "anomalies",
    "channel_mix",
    "check_data",
    "coverage_window",
    "daily_totals",
    "hour_label",
    "hour_profile",
    "kpi_dict",
    "kpis",
    "peak_hours",
    "retention_proxies",
    "stickiness",
    "top_hours",
    "trend_direction",
    "week_over_week",
    "weekly_stickiness",
    "weekly_trends",
]

#: Weekday names in calendar order (Monday first, like ISO weeks and ``Timestamp.day_of_week``).
WEEKDAYS: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
#: The rows of :func:`kpis`, in display order.
KPI_NAMES: tuple[str, ...] = (*SUMMARY_FIELDS.values(), "returning_share", "stickiness")
#: Human labels for the KPI rows (tables, reports).
KPI_LABELS: dict[str, str] = {
    "unique_users": "Unique users",
    "new_users": "New users",
    "returning_users": "Returning users",
    "avg_unique_users_per_day": "Avg unique users per day",
    "avg_new_users_per_day": "Avg new users per day",
    "avg_returning_users_per_day": "Avg returning users per day",
    "returning_share": "Returning share",
    "stickiness": "Stickiness (daily ÷ period users)",
}
#: The numeric columns of ``client.fetch_weeks`` output, compared week over week by default.
WEEKLY_METRICS: tuple[str, ...] = tuple(SUMMARY_FIELDS.values())

#: Default relative change over the trend window below which a trend is called "flat".
TREND_THRESHOLD = 0.05
#: Consistency constant that makes the MAD estimate the standard deviation of normal data.
_MAD_SCALE = 1.4826
#: Same for the mean absolute deviation (used when the MAD is 0).
_MEAN_AD_SCALE = 1.2533
_KPI_COLUMNS = ("value", "previous", "change", "pct_change")


# -- input normalisation ----------------------------------------------------------------------


def _hourly_only(data: Engagement | pd.DataFrame, what: str) -> pd.DataFrame:
    wide = _wide(data)
    if len(wide) and not _is_hourly(wide):
        raise InvalidQueryError(
            f"{what} needs hourly data; fetch with aggregation='hourly'", field="aggregation"
        )
    return wide


def _ratio(num: object, den: object) -> float | Any:
    """``num / den`` or ``pd.NA`` when either is missing or the denominator is 0."""
    if num is None or den is None or pd.isna(num) or pd.isna(den) or den == 0:
        return pd.NA
    return float(num) / float(den)


def _safe_divide(num: pd.Series, den: pd.Series) -> pd.Series:
    num = num.astype("Float64")
    den = den.astype("Float64")
    return (num / den.mask(den == 0)).astype("Float64")


# -- daily frame and retention proxies ----------------------------------------------------------


def retention_proxies(
    data: Engagement | pd.DataFrame, *, window: int = 7, min_periods: int | None = None
) -> pd.DataFrame:
    """Daily returning share and new-user share, and their rolling versions.

    ``returning_share`` = returning ÷ unique users of the day and ``new_share`` = new ÷ unique,
    ``<NA>`` on days without users. The rolling versions are ratios of sums over the trailing
    ``window`` days (so busy days weigh more), ``<NA>`` until ``min_periods`` days are available
    (default: the whole window).

    These are *proxies*: they say what share of each day's users had been seen before, not
    whether a given cohort came back. True cohort retention needs user-level data the API does
    not give. There is no rolling stickiness either: how many distinct users a 7-day window
    holds is not in the daily data (use :func:`stickiness` for a fetched period, or
    :func:`weekly_stickiness` with ``client.fetch_weeks`` output). With hourly data the shares
    are user-hour shares (see :func:`daily_totals`).

    Parameters
    ----------
    data : Engagement or DataFrame
        Daily data is best.
    window : int
        Rolling window in days (default 7); it names the columns (``…_7d``).
    min_periods : int, optional
        Days needed before a rolling value is given; default ``window``.

    Returns
    -------
    pandas.DataFrame
        ``date``, ``unique``, ``new``, ``returning``, ``returning_share``, ``new_share``,
        ``returning_share_{window}d``, ``new_share_{window}d`` (shares ``Float64`` in 0–1).
    """
    if window < 1:
        raise InvalidQueryError("window: must be at least 1 day", field="window")
    min_periods = window if min_periods is None else min_periods
    if not 1 <= min_periods <= window:
        raise InvalidQueryError(
            f"min_periods: must be between 1 and window ({window})", field="min_periods"
        )
    out = daily_totals(data)
    out["returning_share"] = _safe_divide(out["returning"], out["unique"])
    out["new_share"] = _safe_divide(out["new"], out["unique"])
    rolled = out[list(METRICS)].rolling(window, min_periods=min_periods).sum()
    out[f"returning_share_{window}d"] = _safe_divide(rolled["returning"], rolled["unique"])
    out[f"new_share_{window}d"] = _safe_divide(rolled["new"], rolled["unique"])
    return out


def stickiness(data: Engagement) -> float | Any:
    """Mean daily unique users ÷ the period's unique users (DAU over period users).

    1.0 means every user of the period came every day; ``1/days`` means each came on one day.
    It says how often users come back *on average*, not who comes back (that needs user-level
    data the API does not give).

    Returns
    -------
    float or pandas.NA
        ``<NA>`` for hourly data (daily unique users cannot be rebuilt from hourly counts),
        when the period's unique users are unknown (a chunked fetch) or zero.
    """
    if not _is_engagement(data):
        raise InvalidQueryError(
            "data: stickiness needs an Engagement (its summary holds the period's unique users)",
            field="data",
        )
    wide = _wide(data)
    if _is_hourly(wide) or not len(wide):
        return pd.NA
    days = len(wide["date"].unique())
    return _ratio(wide["unique"].sum() / days, data.summary.get("unique_users"))


def weekly_stickiness(data: Engagement | pd.DataFrame, weeks: pd.DataFrame) -> pd.DataFrame:
    """Stickiness per ISO week: mean daily unique users of the week ÷ the week's unique users.

    Parameters
    ----------
    data : Engagement or DataFrame
        *Daily* data covering the weeks (hourly data gives ``<NA>``).
    weeks : DataFrame
        ``client.fetch_weeks`` output (``week``, ``start``, ``end``, ``unique_users``, …).

    Returns
    -------
    pandas.DataFrame
        ``week``, ``start``, ``end``, ``mean_daily_unique``, ``unique_users``, ``stickiness``;
        ``<NA>`` where the daily data does not cover the whole week or the week had no users.
    """
    _check_columns(weeks, ("week", "start", "end", "unique_users"), "weeks")
    wide = _wide(data)
    hourly = _is_hourly(wide)
    by_day = wide.groupby("date")["unique"].sum()
    rows = []
    for week in weeks.itertuples(index=False):
        start, end = pd.Timestamp(week.start), pd.Timestamp(week.end)
        days = pd.date_range(start, end, freq="D")
        present = by_day.reindex(days)
        mean = pd.NA if hourly or present.isna().any() else float(present.mean())
        rows.append(
            {
                "week": week.week,
                "start": week.start,
                "end": week.end,
                "mean_daily_unique": mean,
                "unique_users": week.unique_users,
                "stickiness": _ratio(mean, week.unique_users),
            }
        )
    out = pd.DataFrame(
        rows, columns=["week", "start", "end", "mean_daily_unique", "unique_users", "stickiness"]
    )
    for col in ("mean_daily_unique", "unique_users", "stickiness"):
        out[col] = out[col].astype("Float64")
    return out


# -- KPIs -------------------------------------------------------------------------------------


def _kpi_values(data: Engagement) -> pd.Series:
    summary = data.summary
    values = {name: summary.get(name, pd.NA) for name in SUMMARY_FIELDS.values()}
    values["returning_share"] = _ratio(values["returning_users"], values["unique_users"])
    values["stickiness"] = stickiness(data)
    return pd.Series([values[k] for k in KPI_NAMES], index=list(KPI_NAMES), dtype="Float64")


def kpis(current: Engagement, previous: Engagement | None = None) -> pd.DataFrame:
    """Headline numbers of a period, with the change from a previous period.

    Rows (index ``kpi``): the summary's ``unique_users``, ``new_users``, ``returning_users``
    and their per-day averages (the platform's: period count ÷ days), then ``returning_share``
    (period returning ÷ period unique users: the share of the period's users who had been seen
    before) and ``stickiness`` (see :func:`stickiness`). Both are proxies of retention, not
    cohort retention, which needs user-level data the API does not give.

    Counts of periods of different lengths are not comparable; the per-day averages and the
    shares are.

    Parameters
    ----------
    current : Engagement
    previous : Engagement, optional
        The period to compare with (typically the one just before, of equal length).

    Returns
    -------
    pandas.DataFrame
        Index ``kpi`` (:data:`KPI_NAMES`); columns ``value``, ``previous``, ``change``
        (value − previous) and ``pct_change`` (change ÷ previous as a fraction: 0.25 is +25 %),
        all ``Float64``. ``pct_change`` is ``<NA>`` when previous is 0 or missing; every column
        but ``value`` is ``<NA>`` without a previous period. ``attrs["notes"]`` says why a
        value is ``<NA>``: ``{"value": {kpi: reason}, "previous": {kpi: reason}}`` (a range
        fetched in parts has no exact unique or returning users).
    """
    value = _kpi_values(current)
    if previous is None:
        prev = pd.Series(pd.NA, index=value.index, dtype="Float64")
    else:
        prev = _kpi_values(previous)
    change = value - prev
    pct = (change / prev.mask(prev == 0)).astype("Float64")
    out = pd.DataFrame({"value": value, "previous": prev, "change": change, "pct_change": pct})
    out.index.name = "kpi"
    out.attrs["notes"] = {
        "value": _kpi_notes(current, value),
        "previous": _kpi_notes(previous, prev) if previous is not None else {},
    }
    return out


#: KPI -> the summary fields it is computed from (their notes explain a missing KPI).
_KPI_SOURCES = {
    "returning_share": ("returning_users", "unique_users"),
    "stickiness": ("unique_users",),
}


def _kpi_notes(data: Engagement, values: pd.Series) -> dict[str, str]:
    """Why a KPI is ``<NA>``, from the answer's ``summary_notes`` (a range fetched in parts)."""
    notes = getattr(data, "summary_notes", None) or {}
    out = {}
    for kpi, v in values.items():
        if pd.isna(v):
            for source in _KPI_SOURCES.get(str(kpi), (str(kpi),)):
                if source in notes:
                    out[str(kpi)] = notes[source]
                    break
    return out


def kpi_dict(kpis_frame: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """The :func:`kpis` frame as plain JSON-ready data.

    Returns
    -------
    dict
        ``{kpi: {"label", "value", "previous", "change", "pct_change"}}`` in row order, with
        Python floats and ``None`` for missing values (never NaN, which JSON cannot hold).
    """
    out: dict[str, dict[str, Any]] = {}
    for name, row in kpis_frame.iterrows():
        entry: dict[str, Any] = {"label": KPI_LABELS.get(str(name), str(name))}
        for col in _KPI_COLUMNS:
            entry[col] = finite_or_none(row.get(col, pd.NA))
        out[str(name)] = entry
    return out


# -- weekly history -------------------------------------------------------------------------------


def week_over_week(weeks: pd.DataFrame, *, metrics: Sequence[str] = WEEKLY_METRICS) -> pd.DataFrame:
    """Change of each weekly number from the week before.

    A partial week (``days`` < 7, e.g. the current one) has smaller counts by nature: compare
    its per-day averages, not its counts.

    Parameters
    ----------
    weeks : DataFrame
        ``client.fetch_weeks`` output: one row per ISO week, oldest first.
    metrics : sequence of str
        Columns to compare (default: all six summary numbers).

    Returns
    -------
    pandas.DataFrame
        Long, one row per metric and week (metric order, then oldest week first): ``week``,
        ``start``, ``end``, ``days``, ``metric``, ``value``, ``previous``, ``change``,
        ``pct_change`` (fraction; ``<NA>`` for the first week and when previous is 0 or missing).
    """
    _check_columns(weeks, ("week", *metrics), "weeks")
    ordered = weeks.sort_values("week", kind="stable").reset_index(drop=True)
    keys = [c for c in ("week", "start", "end", "days") if c in ordered.columns]
    parts = []
    for metric in metrics:
        value = ordered[metric].astype("Float64")
        prev = value.shift(1)
        part = ordered[keys].copy()
        for col in ("start", "end", "days"):
            if col not in part.columns:
                part[col] = pd.NA
        part["metric"] = metric
        part["value"] = value
        part["previous"] = prev
        part["change"] = value - prev
        part["pct_change"] = (part["change"] / prev.mask(prev == 0)).astype("Float64")
        parts.append(part)
    columns = [
        "week",
        "start",
        "end",
        "days",
        "metric",
        "value",
        "previous",
        "change",
        "pct_change",
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _trend_fit(weeks: pd.DataFrame, metric: str, n_weeks: int, threshold: float) -> dict[str, Any]:
    usable = weeks.sort_values("week", kind="stable")
    if "days" in usable.columns:
        usable = usable[usable["days"].fillna(0) >= 7]
    values = usable[metric].astype("Float64")
    usable = usable[values.notna()]
    tail = usable.tail(n_weeks)
    y = tail[metric].astype(float).to_numpy()
    result: dict[str, Any] = {
        "metric": metric,
        "direction": "unknown",
        "relative_change": pd.NA,
        "weeks": len(y),
        "first_week": tail["week"].iloc[0] if len(y) else None,
        "last_week": tail["week"].iloc[-1] if len(y) else None,
    }
    if len(y) < 2:
        return result
    x = np.arange(len(y), dtype=float)
    dx = x - x.mean()
    slope = float((dx * (y - y.mean())).sum() / (dx * dx).sum())  # least squares
    mean = float(y.mean())
    rel = 0.0 if mean == 0 else slope * (len(y) - 1) / mean
    result["relative_change"] = rel
    result["direction"] = "up" if rel > threshold else "down" if rel < -threshold else "flat"
    return result


def _check_trend_args(n_weeks: int, threshold: float) -> None:
    if n_weeks < 2:
        raise InvalidQueryError("n_weeks: a trend needs at least 2 weeks", field="n_weeks")
    if threshold < 0:
        raise InvalidQueryError("threshold: must be 0 or more (0.05 = 5 %)", field="threshold")


def trend_direction(
    weeks: pd.DataFrame,
    *,
    metric: str = "unique_users",
    n_weeks: int = 4,
    threshold: float = TREND_THRESHOLD,
) -> str:
    """Whether a weekly number went up, down or stayed flat over the last ``n_weeks`` weeks.

    A least-squares line is fitted through the last ``n_weeks`` *complete* weeks (``days`` == 7
    when that column exists; a partial current week is left out). Its rise over the window,
    relative to the window's mean, decides: above ``threshold`` (default 0.05, i.e. 5 % of the
    mean over the four weeks) is ``"up"``, below ``-threshold`` is ``"down"``, else ``"flat"``.
    All-zero weeks are ``"flat"``.

    Returns
    -------
    str
        ``"up"``, ``"down"``, ``"flat"``, or ``"unknown"`` when fewer than 2 usable weeks exist.
    """
    _check_columns(weeks, ("week", metric), "weeks")
    _check_trend_args(n_weeks, threshold)
    return _trend_fit(weeks, metric, n_weeks, threshold)["direction"]


def weekly_trends(
    weeks: pd.DataFrame,
    *,
    metrics: Sequence[str] = WEEKLY_METRICS,
    n_weeks: int = 4,
    threshold: float = TREND_THRESHOLD,
) -> pd.DataFrame:
    """:func:`trend_direction` for several weekly numbers at once.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``direction``, ``relative_change`` (fitted rise over the window ÷ window
        mean, ``Float64``), ``weeks`` (how many were used), ``first_week``, ``last_week``.
    """
    _check_columns(weeks, ("week", *metrics), "weeks")
    _check_trend_args(n_weeks, threshold)
    rows = [_trend_fit(weeks, m, n_weeks, threshold) for m in metrics]
    out = pd.DataFrame(
        rows,
        columns=["metric", "direction", "relative_change", "weeks", "first_week", "last_week"],
    )
    out["relative_change"] = out["relative_change"].astype("Float64")
    return out


# -- peak hours ----------------------------------------------------------------------------------


def _hour_totals(wide: pd.DataFrame, metric: str) -> np.ndarray:
    totals = np.zeros(24, dtype=float)
    if len(wide):
        sums = wide.groupby(wide["hour"].astype(int))[metric].sum()
        totals[sums.index.to_numpy()] = sums.to_numpy()
    return totals


def peak_hours(data: Engagement | pd.DataFrame, *, metric: str = "unique") -> pd.DataFrame:
    """Weekday × hour matrix of mean users, in the query's wall-clock hours.

    Each cell is the users of that weekday and hour summed over the range, divided by how many
    times that weekday occurs in the data (a 10-day range has some weekdays twice). Hours are
    the platform's 24 wall-clock buckets, so daylight-saving days still have 24 cells (the
    skipped hour normally holds 0; a repeated hour holds both real hours).

    Parameters
    ----------
    data : Engagement or DataFrame
        Hourly data.
    metric : {"unique", "new", "returning"}

    Returns
    -------
    pandas.DataFrame
        7 × 24 ``Float64``: index ``weekday`` (ordered categorical ``Monday`` … ``Sunday``),
        columns ``hour`` 0–23; a weekday absent from the range is a row of ``<NA>``.

    Raises
    ------
    InvalidQueryError
        For daily data.
    """
    _check_metric(metric)
    wide = _hourly_only(data, "peak_hours")
    index = pd.CategoricalIndex(WEEKDAYS, categories=WEEKDAYS, ordered=True, name="weekday")
    matrix = pd.DataFrame(
        np.full((7, 24), np.nan), index=index, columns=pd.RangeIndex(24, name="hour")
    )
    if len(wide):
        weekday = wide["date"].dt.day_of_week
        sums = (
            wide.groupby([weekday, wide["hour"].astype(int)])[metric]
            .sum()
            .unstack(fill_value=0)
            .reindex(columns=range(24), fill_value=0)
        )
        occurrences = wide.drop_duplicates("date")["date"].dt.day_of_week.value_counts()
        means = sums.div(occurrences.reindex(sums.index), axis=0)
        matrix.iloc[means.index.to_numpy()] = means.to_numpy(dtype=float)
    return matrix.astype("Float64")


def top_hours(
    data: Engagement | pd.DataFrame, k: int = 3, *, metric: str = "unique"
) -> pd.DataFrame:
    """The ``k`` busiest hours of the day, averaged over every day of the range.

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1 = busiest), ``hour`` (0–23), ``label`` (``"18:00–19:00"``), ``users`` (mean
        per day, ``Float64``), ``share`` (of all user-hours, ``<NA>`` when there are none);
        busiest first, ties by earlier hour. Empty for empty data.
    """
    _check_metric(metric)
    if k < 1:
        raise InvalidQueryError("k: must be at least 1", field="k")
    wide = _hourly_only(data, "top_hours")
    columns = ["rank", "hour", "label", "users", "share"]
    if not len(wide):
        return pd.DataFrame(columns=columns)
    totals = _hour_totals(wide, metric)
    days = wide["date"].nunique()
    order = sorted(range(24), key=lambda h: (-totals[h], h))[:k]
    grand = totals.sum()
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "hour": order,
            "label": [hour_label(h) for h in order],
            "users": [totals[h] / days for h in order],
            "share": [totals[h] / grand if grand else np.nan for h in order],
        }
    )
    out["users"] = out["users"].astype("Float64")
    out["share"] = out["share"].astype("Float64")
    return out[columns]


def hour_profile(data: Engagement | pd.DataFrame, *, metric: str = "unique") -> pd.DataFrame:
    """Mean users per hour on weekdays (Monday–Friday) and on weekends (Saturday, Sunday).

    Returns
    -------
    pandas.DataFrame
        48 rows, weekday rows first: ``day_type`` (``"weekday"``/``"weekend"``), ``hour``
        (0–23), ``users`` (mean per day of that type, ``<NA>`` when the range has no such day),
        ``share`` (of that day type's user-hours, ``<NA>`` when they are 0), ``days`` (how many
        days of that type the range has).
    """
    _check_metric(metric)
    wide = _hourly_only(data, "hour_profile")
    rows = []
    for day_type, weekend in (("weekday", False), ("weekend", True)):
        part = wide[(wide["date"].dt.day_of_week >= 5) == weekend] if len(wide) else wide
        days = part["date"].nunique() if len(part) else 0
        totals = _hour_totals(part, metric)
        grand = totals.sum()
        for h in range(24):
            rows.append(
                {
                    "day_type": day_type,
                    "hour": h,
                    "users": totals[h] / days if days else np.nan,
                    "share": totals[h] / grand if grand else np.nan,
                    "days": days,
                }
            )
    out = pd.DataFrame(rows)
    out["users"] = out["users"].astype("Float64")
    out["share"] = out["share"].astype("Float64")
    return out


@dataclasses.dataclass(frozen=True)
class CoverageWindow:
    """The shortest run of consecutive hours holding a given share of user-hours.

    Attributes
    ----------
    start_hour : int or None
        First hour of the window (0–23); ``None`` when there were no users.
    end_hour : int or None
        Exclusive end (0–23); it wraps past midnight when smaller than ``start_hour``
        (``start_hour=18, end_hour=2`` is 18:00 to 02:00). Equal to ``start_hour`` for 24 hours.
    hours : int
        Length of the window (0 when there were no users).
    share : float
        The share of user-hours actually inside the window (NaN when there were no users).
    target : float
        The share asked for.
    label : str
        ``"18:00–02:00"``, ``"00:00–24:00"`` for the whole day, or a sentence when no users.
    """

    start_hour: int | None
    end_hour: int | None
    hours: int
    share: float
    target: float
    label: str

    @property
    def found(self) -> bool:
        """Whether there was any traffic to cover."""
        return self.hours > 0

    @property
    def hour_list(self) -> tuple[int, ...]:
        """The hours in the window, in order (wrapping past midnight)."""
        if self.start_hour is None:
            return ()
        return tuple((self.start_hour + i) % 24 for i in range(self.hours))

    def contains(self, hour: int) -> bool:
        """Whether ``hour`` (0–23) lies in the window."""
        return hour in self.hour_list

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN share becomes ``None``)."""
        out = dataclasses.asdict(self)
        if isinstance(self.share, float) and math.isnan(self.share):
            out["share"] = None
        return out


def coverage_window(
    data: Engagement | pd.DataFrame, share: float = 0.8, *, metric: str = "unique"
) -> CoverageWindow:
    """The hours a support team should staff: the shortest run of consecutive wall-clock hours
    (wrapping past midnight) that holds at least ``share`` of all user-hours of the range.

    Among equally short runs the one holding the most user-hours wins, then the earliest start.

    Parameters
    ----------
    data : Engagement or DataFrame
        Hourly data.
    share : float
        Target share in (0, 1]; default 0.8.
    metric : {"unique", "new", "returning"}

    Returns
    -------
    CoverageWindow
        ``start_hour``, ``end_hour`` (exclusive, may wrap), ``hours``, ``share``, ``target``,
        ``label``. With no users at all: ``hours=0``, ``start_hour=end_hour=None``, ``share``
        NaN and the label ``"no users in this period"``.
    """
    _check_metric(metric)
    if not 0 < share <= 1:
        raise InvalidQueryError(f"share: {share!r} must be in (0, 1], e.g. 0.8", field="share")
    wide = _hourly_only(data, "coverage_window")
    totals = _hour_totals(wide, metric)
    grand = totals.sum()
    if grand <= 0:
        return CoverageWindow(None, None, 0, math.nan, float(share), "no users in this period")
    doubled = np.concatenate([totals, totals])
    cumulative = np.concatenate([[0.0], np.cumsum(doubled)])
    need = share * grand * (1 - 1e-12)
    for length in range(1, 25):
        sums = cumulative[length : length + 24] - cumulative[:24]
        best = float(sums.max())
        if best >= need:
            start = int(np.flatnonzero(sums == best)[0])
            if length == 24:
                start = 0
            end = (start + length) % 24
            label = "00:00–24:00" if length == 24 else hour_label(start, end)
            return CoverageWindow(start, end, length, float(best / grand), float(share), label)
    raise AssertionError("unreachable: 24 hours always hold every user-hour")  # pragma: no cover


# -- anomalies ---------------------------------------------------------------------------------


def anomalies(
    data: Engagement | pd.DataFrame,
    *,
    metric: str = "unique",
    window: int = 14,
    threshold: float = 3.5,
    min_periods: int = 7,
    min_scale: float = 1.0,
    by_weekday: bool = False,
    all_days: bool = False,
) -> pd.DataFrame:
    """Days whose users stray from the trailing window, by a robust z-score.

    For each day the ``window`` days before it (not the day itself) give the expected value,
    their median, and a spread: ``1.4826 × MAD`` (median absolute deviation). When the MAD is 0
    (more than half the window identical) the spread falls back to ``1.2533 ×`` the mean
    absolute deviation, and never goes below ``min_scale`` users, so a perfectly flat history
    does not turn a change of one user into an infinite score. ``score = (value − median) /
    spread``; days with ``|score| > threshold`` are anomalies. The expected range is
    ``median ± threshold × spread`` (low clipped at 0).

    With ``by_weekday=True`` the window is the previous ``window`` occurrences of the same
    weekday, which keeps regular weekend dips from being flagged (needs weeks of history).
    Hourly data is summed per day first (user-hours for ``unique``, see :func:`daily_totals`).

    Parameters
    ----------
    metric : {"unique", "new", "returning"}
    window : int
        Trailing days (or same-weekday occurrences) to compare with; default 14.
    threshold : float
        Robust z-score beyond which a day is flagged; default 3.5.
    min_periods : int
        History needed before a day is scored; earlier days get ``<NA>``.
    min_scale : float
        Smallest spread, in users (default 1.0).
    all_days : bool
        Return every day (with ``is_anomaly``) instead of only the anomalies.

    Returns
    -------
    pandas.DataFrame
        ``date``, ``metric``, ``value``, ``expected`` (median), ``low``, ``high``, ``score``
        (``Float64``), ``direction`` (``"up"``/``"down"``, ``<NA>`` when not an anomaly),
        ``is_anomaly`` (bool); oldest first.
    """
    _check_metric(metric)
    if window < 1 or not 1 <= min_periods <= window:
        raise InvalidQueryError(
            "window/min_periods: need window >= 1 and 1 <= min_periods <= window",
            field="window",
        )
    if threshold <= 0 or min_scale <= 0:
        raise InvalidQueryError(
            "threshold/min_scale: both must be greater than 0", field="threshold"
        )
    daily = daily_totals(data)
    values = daily[metric].to_numpy(dtype=float)
    weekday = daily["date"].dt.day_of_week.to_numpy()
    n = len(values)
    expected = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    for i in range(n):
        if by_weekday:
            history = values[:i][weekday[:i] == weekday[i]][-window:]
        else:
            history = values[max(0, i - window) : i]
        if len(history) < min_periods:
            continue
        median = float(np.median(history))
        deviations = np.abs(history - median)
        spread = _MAD_SCALE * float(np.median(deviations))
        if spread == 0:
            spread = _MEAN_AD_SCALE * float(deviations.mean())
        expected[i] = median
        scale[i] = max(spread, min_scale)
    score = (values - expected) / scale
    flagged = np.abs(np.nan_to_num(score)) > threshold
    direction = np.where(flagged, np.where(score > 0, "up", "down"), None)
    out = pd.DataFrame(
        {
            "date": daily["date"],
            "metric": metric,
            "value": pd.array(values, dtype="Float64"),
            "expected": pd.array(expected, dtype="Float64"),
            "low": pd.array(np.clip(expected - threshold * scale, 0, None), dtype="Float64"),
            "high": pd.array(expected + threshold * scale, dtype="Float64"),
            "score": pd.array(score, dtype="Float64"),
            "direction": pd.array(direction, dtype="string"),
            "is_anomaly": flagged,
        }
    )
    if not all_days:
        out = out[out["is_anomaly"]]
    return out.reset_index(drop=True)


# -- data checks ---------------------------------------------------------------------------------


def check_data(data: Engagement) -> pd.DataFrame:
    """Sanity checks of one answer that hold on any platform: see :func:`engagement_kit.checks.check_data`."""
    from .checks import check_data as run

    return run(data)


def channel_mix(frame: pd.DataFrame) -> pd.DataFrame:
    """The channel-mix table of a ``client.fetch_channels`` frame (see
    :func:`engagement_kit.channels.channel_mix`). Unique users do not add up across channels."""
    from .channels import channel_mix as table

    return table(frame)


# True retention from user-level sessions (getSessions) lives in its own module; re-exported
# here so ``metrics.cohort_retention`` sits beside the trend-based proxies.
from .cohorts import cohort_retention, lifecycle, stickiness_histogram  # noqa: E402

__all__ += ["cohort_retention", "lifecycle", "stickiness_histogram"]
