"""The KPI table of a period (:func:`kpis`, with the previous period's values and changes) and
its JSON-ready form (:func:`kpi_dict`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit.metrics.retention import safe_ratio, stickiness
from engagement_kit.tidy import SUMMARY_FIELDS
from engagement_kit.tidy.frames import finite_or_none

if TYPE_CHECKING:
    from engagement_kit.tidy import Engagement

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
_KPI_COLUMNS = ("value", "previous", "change", "pct_change")


def _kpi_values(data: Engagement) -> pd.Series:
    summary = data.summary
    values = {name: summary.get(name, pd.NA) for name in SUMMARY_FIELDS.values()}
    values["returning_share"] = safe_ratio(values["returning_users"], values["unique_users"])
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
