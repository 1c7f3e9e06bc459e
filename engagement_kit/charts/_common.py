"""Helpers shared by the chart builders of this package (the module is the package's own: import
its names only from inside engagement_kit.charts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit import metrics
from engagement_kit.charts.theme import (
    MAX_POINTS,
    METRIC_COLORS,
    METRIC_LABELS,
    NO_DATA_TEXT,
    WIDTH,
    lazy_altair,
)
from engagement_kit.config.weeks import MONTHS
from engagement_kit.tidy import METRICS
from engagement_kit.tidy import frames as _frames

if TYPE_CHECKING:
    import altair as alt


# -- helpers ----------------------------------------------------------------------------------------


def message_chart(text: str, *, title: str | None = None, height: int = 120) -> alt.Chart:
    alt = lazy_altair()
    frame = pd.DataFrame({"message": [text]})
    chart = (
        alt.Chart(frame)
        .mark_text(fontSize=15, color="#555555")
        .encode(text=alt.Text("message:N"), tooltip=[alt.Tooltip("message:N", title="Note")])
        .properties(width=WIDTH, height=height)
    )
    return chart.properties(title=title) if title else chart


def no_data_chart(title: str | None = None) -> alt.Chart:
    return message_chart(NO_DATA_TEXT, title=title)


def day_text(ts: pd.Timestamp, hour: int | None = None) -> str:
    """Locale-independent: ``Mon 01 Dec 2025`` or ``Mon 01 Dec 2025 17:00``."""
    text = f"{metrics.WEEKDAYS[ts.day_of_week][:3]} {ts.day:02d} {MONTHS[ts.month - 1]} {ts.year}"
    return text if hour is None else f"{text} {hour:02d}:00"


def iso_time(ts: pd.Timestamp, hour: int | None) -> str:
    return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{(hour or 0):02d}:00:00Z"


def zone_of(data: object, tz: str | None) -> str | None:
    return tz or getattr(data, "tz", None)


def metric_key(name: str) -> str:
    """``unique_users``/``avg_new_users_per_day``/``new`` → ``unique``/``new``/``new``."""
    key = name.removeprefix("avg_").removesuffix("_per_day").removesuffix("_users")
    return key if key in METRICS else name


def metric_color(metrics: Sequence[str]) -> alt.Color:
    alt = lazy_altair()
    domain = list(metrics)
    return alt.Color(
        "metric:N",
        title=None,
        scale=alt.Scale(domain=domain, range=[METRIC_COLORS[m] for m in domain]),
        sort=domain,
        legend=alt.Legend(
            orient="top",
            labelExpr="{" + ", ".join(f"'{m}': '{METRIC_LABELS[m]}'" for m in domain) + "}"
            "[datum.label]",
        ),
    )


def check_metrics(metrics: Sequence[str]) -> list[str]:
    for metric in metrics:
        _frames.check_metric(metric)
    return list(metrics)


def hourly_wide(
    data: object, metric: str, *, title: str | None, what: str
) -> tuple[pd.DataFrame, alt.Chart | None]:
    """The wide frame of hourly ``data``, or a message chart saying why there is nothing to draw."""
    _frames.check_metric(metric)
    wide = _frames.wide(data)
    if not len(wide):
        return wide, no_data_chart(title)
    if not _frames.is_hourly(wide):
        text = f"{what} need hourly data: fetch with aggregation='hourly'"
        return wide, message_chart(text, title=title)
    return wide, None


def chart_title(text: str | None, subtitle: str | None = None) -> Any:
    alt = lazy_altair()
    if subtitle:
        return alt.Title(text or "", subtitle=subtitle)
    return alt.Title(text) if text else alt.Undefined


def bucket_frame(wide: pd.DataFrame) -> pd.DataFrame:
    """Add ``time`` (wall clock as UTC ISO text) and ``when`` (tooltip text) to a wide frame."""
    hourly = _frames.is_hourly(wide)
    out = wide[["date", "hour", *METRICS]].copy()
    hours = [int(h) if hourly else None for h in out["hour"]]
    out["time"] = [iso_time(d, h) for d, h in zip(out["date"], hours, strict=True)]
    out["when"] = [day_text(d, h) for d, h in zip(out["date"], hours, strict=True)]
    return out


def time_x(unit: str, zone: str | None) -> alt.X:
    alt = lazy_altair()
    where = f" ({zone})" if zone else ""
    return alt.X(
        "time:T",
        title=f"{unit.capitalize()}{where}",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format=AXIS_FORMAT[unit], labelAngle=0),
    )


AXIS_FORMAT = {"hour": "%d %b %H:%M", "day": "%a %d %b", "week": "%d %b %Y"}


def coarsen(wide: pd.DataFrame) -> tuple[pd.DataFrame, str, str | None]:
    """Keep the embedded data small: hourly → daily → weekly sums while a series would have
    more than :data:`MAX_POINTS` buckets.

    Returns the (possibly summed) wide frame, its unit (``"hour"``/``"day"``/``"week"``) and a
    note for the subtitle when it was summed.
    """
    unit = "hour" if _frames.is_hourly(wide) else "day"
    if len(wide) <= MAX_POINTS:
        return wide, unit, None
    days = wide["date"].nunique()
    note = None
    if unit == "hour":
        wide = metrics.daily_totals(wide)
        wide["hour"] = pd.array([pd.NA] * len(wide), dtype="Int8")
        unit = "day"
        note = f"Hourly data over {days} days, summed per day (unique and returning: user-hours)"
    if len(wide) > MAX_POINTS:
        monday = wide["date"] - pd.to_timedelta(wide["date"].dt.day_of_week, unit="D")
        wide = wide.groupby(monday)[list(METRICS)].sum().rename_axis("date").reset_index()
        wide["hour"] = pd.array([pd.NA] * len(wide), dtype="Int8")
        unit = "week"
        note = f"{days} days, summed per week from Monday (unique and returning: user-days)"
    return wide, unit, note
