"""Private helpers shared by :mod:`~engagement_kit.metrics` and :mod:`~engagement_kit.charts`:
any accepted input as one wide frame, argument checks, and numbers made JSON-ready.

Not public API: import the public functions of ``metrics`` and ``charts`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit.errors import InvalidQueryError
from engagement_kit.tidy import METRICS

if TYPE_CHECKING:
    from engagement_kit.tidy import Engagement


# -- input normalisation ----------------------------------------------------------------------


def is_engagement(data: object) -> bool:
    return hasattr(data, "trend") and hasattr(data, "wide") and hasattr(data, "summary")


def wide(data: Engagement | pd.DataFrame) -> pd.DataFrame:
    """Any accepted input → a new wide frame: ``date``, ``hour``, ``unique``, ``new``, ``returning``.

    Sorted by date then hour, fresh index; the caller's objects are never touched.
    """
    if is_engagement(data):
        frame = data.wide()
    elif isinstance(data, pd.DataFrame):
        cols = set(data.columns)
        if {"metric", "users", "date"} <= cols:
            frame = _long_to_wide(data)
        elif {"date", *METRICS} <= cols:
            frame = data.copy()
        else:
            raise InvalidQueryError(
                "data: expected an Engagement, its trend frame (date, hour, metric, users) or "
                f"its wide() frame (date, hour, unique, new, returning); got columns {sorted(cols)}",
                field="data",
            )
    else:
        raise InvalidQueryError(
            f"data: expected an Engagement or a pandas DataFrame, got {type(data).__name__}",
            field="data",
        )
    if "hour" not in frame.columns:
        frame["hour"] = pd.array([pd.NA] * len(frame), dtype="Int8")
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["hour"] = frame["hour"].astype("Int8")
    for metric in METRICS:
        frame[metric] = frame[metric].astype("int64")
    frame = frame.sort_values(["date", "hour"], kind="stable", na_position="first")
    return frame.reset_index(drop=True)


def _long_to_wide(trend: pd.DataFrame) -> pd.DataFrame:
    keys = trend[["date"]].copy()
    keys["hour"] = trend["hour"].astype("Int8").fillna(-1) if "hour" in trend else -1
    keys["metric"] = trend["metric"].astype(str)
    keys["users"] = trend["users"].to_numpy()
    table = keys.pivot_table(
        index=["date", "hour"], columns="metric", values="users", aggfunc="sum", fill_value=0
    )
    for metric in METRICS:
        if metric not in table.columns:
            table[metric] = 0
    out = table[list(METRICS)].reset_index()
    out.columns.name = None
    out["hour"] = out["hour"].astype("Int8").mask(out["hour"] < 0)
    return out


def is_hourly(wide: pd.DataFrame) -> bool:
    return bool(len(wide)) and bool(wide["hour"].notna().any())


def check_metric(metric: str, allowed: Sequence[str] = METRICS) -> str:
    if metric not in allowed:
        raise InvalidQueryError(
            f"metric: {metric!r} is not one of {', '.join(map(repr, allowed))}", field="metric"
        )
    return metric


def check_columns(frame: pd.DataFrame, needed: Iterable[str], name: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidQueryError(
            f"{name}: missing column(s) {', '.join(missing)}; pass client.fetch_weeks output",
            field=name,
        )


# -- daily totals ---------------------------------------------------------------------------------


def daily_totals(data: Engagement | pd.DataFrame) -> pd.DataFrame:
    """One row per day, summing hourly buckets when the data is hourly.

    For hourly data ``unique`` and ``returning`` become *user-hours* (a user active in three
    hours counts three times); ``new`` adds up exactly. Daily data passes through unchanged.

    Returns
    -------
    pandas.DataFrame
        ``date`` (``datetime64[ns]``), ``unique``, ``new``, ``returning`` (``int64``), oldest first.
    """
    frame = wide(data)
    cols = ["date", *METRICS]
    if not is_hourly(frame):
        return frame[cols].reset_index(drop=True)
    return frame.groupby("date", sort=True)[list(METRICS)].sum().reset_index()[cols]


# -- labels -------------------------------------------------------------------------------------


def hour_label(start: int, end: int | None = None) -> str:
    """``hour_label(18)`` → ``"18:00–19:00"``; ``hour_label(18, 2)`` → ``"18:00–02:00"``.

    ``end`` is exclusive and may wrap past midnight; ``hour_label(0, 24)`` is the whole day.
    """
    end = (start + 1) % 24 if end is None else end
    return f"{start:02d}:00–{end:02d}:00"


# -- numbers for JSON (which has no NaN) --------------------------------------------------------


def finite_or_none(value: object) -> float | None:
    """``float(value)``, or ``None`` for ``None``, NaN, ``pd.NA`` and infinities."""
    if value is None or pd.isna(value):
        return None
    number = float(value)  # type: ignore[arg-type]  # whatever pandas counts as a number
    return number if math.isfinite(number) else None


def json_number(value: object) -> int | float | None:
    """:func:`finite_or_none`, but whole numbers (counts) as ``int``."""
    number = finite_or_none(value)
    if number is not None and number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def json_ready(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot hold) by ``None``, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
