"""Weekly history: week-over-week changes of ``client.fetch_weeks`` frames and the direction of
each metric's trend over the last weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engagement_kit.errors import InvalidQueryError
from engagement_kit.tidy import SUMMARY_FIELDS
from engagement_kit.tidy.frames import check_columns as _check_columns

if TYPE_CHECKING:
    pass

WEEKLY_METRICS: tuple[str, ...] = tuple(SUMMARY_FIELDS.values())

#: Default relative change over the trend window below which a trend is called "flat".
TREND_THRESHOLD = 0.05


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
