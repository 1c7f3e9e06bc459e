"""Retention proxies from counts: returning and new-user shares per day, stickiness over a
period and week by week (the API gives counts, never which users; see :mod:`engagement_kit.metrics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit.errors import InvalidQueryError
from engagement_kit.tidy import METRICS
from engagement_kit.tidy.frames import check_columns as _check_columns
from engagement_kit.tidy.frames import daily_totals
from engagement_kit.tidy.frames import is_engagement as _is_engagement
from engagement_kit.tidy.frames import is_hourly as _is_hourly
from engagement_kit.tidy.frames import wide as _wide

if TYPE_CHECKING:
    from engagement_kit.tidy import Engagement


def safe_ratio(num: object, den: object) -> float | Any:
    """``num / den`` or ``pd.NA`` when either is missing or the denominator is 0."""
    if num is None or den is None or pd.isna(num) or pd.isna(den) or den == 0:
        return pd.NA
    return float(num) / float(den)  # type: ignore[arg-type]  # pandas scalars: numbers here


def _safe_divide(num: pd.Series, den: pd.Series) -> pd.Series:
    num = num.astype("Float64")
    den = den.astype("Float64")
    return (num / den.mask(den == 0)).astype("Float64")


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
    return safe_ratio(wide["unique"].sum() / days, data.summary.get("unique_users"))


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
                "stickiness": safe_ratio(mean, week.unique_users),
            }
        )
    out = pd.DataFrame(
        rows, columns=["week", "start", "end", "mean_daily_unique", "unique_users", "stickiness"]
    )
    for col in ("mean_daily_unique", "unique_users", "stickiness"):
        out[col] = out[col].astype("Float64")
    return out
