"""Hours of the day from hourly data: peak hours, the top hours, the weekday/weekend hour
profile and the coverage window a support team should staff.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engagement_kit.errors import InvalidQueryError
from engagement_kit.tidy.frames import check_metric as _check_metric
from engagement_kit.tidy.frames import hour_label
from engagement_kit.tidy.frames import is_hourly as _is_hourly
from engagement_kit.tidy.frames import wide as _wide

if TYPE_CHECKING:
    from engagement_kit.tidy import Engagement

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


def _hourly_only(data: Engagement | pd.DataFrame, what: str) -> pd.DataFrame:
    wide = _wide(data)
    if len(wide) and not _is_hourly(wide):
        raise InvalidQueryError(
            f"{what} needs hourly data; fetch with aggregation='hourly'", field="aggregation"
        )
    return wide


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


@dataclasses.dataclass(frozen=True, repr=False)
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

    def __repr__(self) -> str:
        from engagement_kit.formatting import share_text

        if not self.found:
            return f"<CoverageWindow: {self.label}>"
        return (
            f"<CoverageWindow {self.label}: {self.hours} hours hold {share_text(self.share)} of "
            f"the user-hours (asked for {share_text(self.target)})>"
        )

    def _repr_html_(self) -> str:
        """A small table in a notebook (the window, its hours, the share held)."""
        import html

        from engagement_kit.formatting import share_text

        rows = [
            ("window", self.label),
            ("hours", str(self.hours)),
            ("share of user-hours", share_text(self.share)),
            ("asked for", share_text(self.target)),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:right'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table class='ek-coverage'><tbody>{cells}</tbody></table>"

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
