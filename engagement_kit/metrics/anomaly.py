"""Unusual days: robust z-scores of daily totals against a rolling median (see :func:`anomalies`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engagement_kit.errors import InvalidQueryError
from engagement_kit.tidy.frames import check_metric as _check_metric
from engagement_kit.tidy.frames import daily_totals

if TYPE_CHECKING:
    from engagement_kit.tidy import Engagement

#: Consistency constant that makes the MAD estimate the standard deviation of normal data.
_MAD_SCALE = 1.4826
#: Same for the mean absolute deviation (used when the MAD is 0).
_MEAN_AD_SCALE = 1.2533


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
    direction = np.where(flagged, np.where(score > 0, "up", "down"), np.array(None, dtype=object))
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
