"""Charts over time: the trend, new vs returning users, the weekly history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit import metrics
from engagement_kit.charts._common import (
    AXIS_FORMAT,
    bucket_frame,
    chart_title,
    check_metrics,
    coarsen,
    day_text,
    iso_time,
    lazy_altair,
    metric_color,
    metric_key,
    no_data_chart,
    time_x,
    zone_of,
)
from engagement_kit.charts.theme import HEIGHT, HIGHLIGHT_COLOR, METRIC_COLORS, METRIC_LABELS, WIDTH
from engagement_kit.tidy import METRICS
from engagement_kit.tidy import frames as _frames
from engagement_kit.tidy.frames import finite_or_none

if TYPE_CHECKING:
    import altair as alt

    from engagement_kit.tidy import Engagement


_PERIOD_DASH = {"current": [1, 0], "previous": [6, 4]}

# -- trend ------------------------------------------------------------------------------------------


def trend_chart(
    data: Engagement | pd.DataFrame,
    *,
    metrics: Sequence[str] = METRICS,
    previous: Engagement | pd.DataFrame | None = None,
    tz: str | None = None,
    title: str | None = "Users over time",
) -> alt.Chart | alt.LayerChart:
    """Lines of users per day (daily data) or per hour (hourly data), one colour per metric.

    Parameters
    ----------
    data : Engagement or DataFrame
        The period (``trend`` or ``wide()`` frame, or the Engagement).
    metrics : sequence of {"unique", "new", "returning"}
    previous : Engagement or DataFrame, optional
        A previous period drawn dashed over the current one, aligned by day offset (its first
        day over the current first day); tooltips show its real dates.
    tz : str, optional
        Zone named on the axis; defaults to the Engagement's.

    Returns
    -------
    altair.Chart
        ``line`` marks with points; ``x`` ``time`` (temporal, UTC scale = wall clock),
        ``y`` ``users``, ``color`` ``metric``, ``strokeDash`` ``period`` when ``previous`` is
        given; tooltip ``when``, ``metric``, ``users``, ``period``.
    """
    alt = lazy_altair()
    metrics = check_metrics(metrics)
    wide = _frames.wide(data)
    if not len(wide) or not metrics:
        return no_data_chart(title)
    wide, unit, note = coarsen(wide)
    frames = [_long_series(bucket_frame(wide), metrics, "current")]
    if previous is not None:
        prev, _, _ = coarsen(_frames.wide(previous))
        if len(prev):
            shift = wide["date"].min() - prev["date"].min()
            aligned = bucket_frame(prev)
            aligned["time"] = [
                iso_time(d + shift, None if pd.isna(h) else int(h))
                for d, h in zip(prev["date"], prev["hour"], strict=True)
            ]
            frames.append(_long_series(aligned, metrics, "previous"))
    long = pd.concat(frames, ignore_index=True)
    with_previous = long["period"].nunique() > 1
    encoding: dict[str, Any] = {
        "x": time_x(unit, zone_of(data, tz)),
        "y": alt.Y("users:Q", title="Users"),
        "color": metric_color(metrics),
        "tooltip": [
            alt.Tooltip("when:N", title="When"),
            alt.Tooltip("label:N", title="Metric"),
            alt.Tooltip("users:Q", title="Users", format=","),
            alt.Tooltip("period:N", title="Period"),
        ],
    }
    if with_previous:
        encoding["strokeDash"] = alt.StrokeDash(
            "period:N",
            title=None,
            scale=alt.Scale(domain=list(_PERIOD_DASH), range=list(_PERIOD_DASH.values())),
            legend=alt.Legend(orient="top"),
        )
        encoding["opacity"] = alt.Opacity(
            "period:N",
            scale=alt.Scale(domain=["current", "previous"], range=[1.0, 0.55]),
            legend=None,
        )
    chart = (
        alt.Chart(long)
        .mark_line(point=alt.OverlayMarkDef(size=18 if unit == "hour" else 45, filled=True))
        .encode(**encoding)
        .properties(width=WIDTH, height=HEIGHT, title=chart_title(title, note))
    )
    return chart


def _long_series(frame: pd.DataFrame, metrics: Sequence[str], period: str) -> pd.DataFrame:
    parts = []
    for metric in metrics:
        part = frame[["time", "when"]].copy()
        part["metric"] = metric
        part["label"] = METRIC_LABELS[metric]
        part["users"] = frame[metric].astype(int).to_numpy()
        part["period"] = period
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sort_values(["metric", "time"], kind="stable")


# -- composition -------------------------------------------------------------------------------------


def new_vs_returning_chart(
    data: Engagement | pd.DataFrame,
    *,
    normalize: bool = False,
    tz: str | None = None,
    title: str | None = "New and returning users",
) -> alt.Chart:
    """Stacked bars: each bucket's users split into new and returning.

    Parameters
    ----------
    normalize : bool
        Stack to 100 % (the share of each) instead of counts.

    Returns
    -------
    altair.Chart
        ``bar`` marks; ``x`` ``time`` (a day or hour bucket, wall clock), ``y`` ``users``
        (stacked, or normalised), ``color`` ``metric`` (``new``, ``returning``); tooltip
        ``when``, ``metric``, ``users``, ``share`` (of the bucket's new + returning).
    """
    alt = lazy_altair()
    wide = _frames.wide(data)
    if not len(wide):
        return no_data_chart(title)
    wide, unit, note = coarsen(wide)
    buckets = bucket_frame(wide)
    total = (buckets["new"] + buckets["returning"]).astype(float)
    parts = []
    for order, metric in enumerate(("returning", "new")):  # returning at the bottom
        part = buckets[["time", "when"]].copy()
        part["metric"] = metric
        part["label"] = METRIC_LABELS[metric]
        part["users"] = buckets[metric].astype(int)
        part["share"] = (buckets[metric] / total.where(total > 0)).round(4)
        part["order"] = order
        parts.append(part)
    long = pd.concat(parts, ignore_index=True).sort_values(["time", "order"], kind="stable")
    long["share"] = long["share"].astype(float)  # NaN → null in the spec (altair sanitises)
    time_unit = "utcyearmonthdatehours" if unit == "hour" else "utcyearmonthdate"
    zone = zone_of(data, tz)
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X(
                f"{time_unit}(time):T",
                title=f"{unit.capitalize()}{f' ({zone})' if zone else ''}",
                axis=alt.Axis(format=AXIS_FORMAT[unit], labelAngle=0),
            ),
            y=alt.Y(
                "users:Q",
                title="Share of users" if normalize else "Users",
                stack="normalize" if normalize else "zero",
                axis=alt.Axis(format="%" if normalize else ",d"),
            ),
            color=metric_color(["new", "returning"]),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("when:N", title="When"),
                alt.Tooltip("label:N", title="Metric"),
                alt.Tooltip("users:Q", title="Users", format=","),
                alt.Tooltip("share:Q", title="Share", format=".0%"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT, title=chart_title(title, note))
    )


# -- weekly history ------------------------------------------------------------------------------------


def weekly_history_chart(
    weeks: pd.DataFrame,
    *,
    metric: str = "unique_users",
    current_week: str | None = None,
    title: str | None = None,
) -> alt.Chart:
    """Bars of one weekly number over the weeks of ``client.fetch_weeks`` output, with the
    current week (default: the last) outlined and fully opaque.

    Returns
    -------
    altair.Chart
        ``bar`` marks; ``x`` ``week`` (ordinal, oldest first), ``y`` ``value``, colour fixed to
        the metric's, ``opacity`` and ``stroke`` from ``current``; tooltip ``week``, ``from``,
        ``to``, ``value``, ``change``, ``pct_change``, ``days``.
    """
    alt = lazy_altair()
    title = title if title is not None else f"{_weekly_label(metric)} by ISO week"
    if weeks is None or not len(weeks):
        return no_data_chart(title)
    _frames.check_columns(weeks, ("week", metric), "weeks")
    wow = metrics.week_over_week(weeks, metrics=[metric])
    current_week = current_week or str(wow["week"].iloc[-1])
    frame = pd.DataFrame(
        {
            "week": wow["week"].astype(str),
            "from": [_date_text(v) for v in wow["start"]],
            "to": [_date_text(v) for v in wow["end"]],
            "days": [None if pd.isna(v) else int(v) for v in wow["days"]],
            "value": [finite_or_none(v) for v in wow["value"]],
            "change": [finite_or_none(v) for v in wow["change"]],
            "pct_change": [finite_or_none(v) for v in wow["pct_change"]],
        }
    )
    frame["current"] = frame["week"] == current_week
    color = METRIC_COLORS.get(metric_key(metric), METRIC_COLORS["unique"])
    return (
        alt.Chart(frame)
        .mark_bar(color=color, strokeWidth=2.5)
        .encode(
            x=alt.X(
                "week:O", sort=list(frame["week"]), title="ISO week", axis=alt.Axis(labelAngle=-45)
            ),
            y=alt.Y("value:Q", title=_weekly_label(metric)),
            opacity=alt.Opacity(
                "current:N", scale=alt.Scale(domain=[False, True], range=[0.55, 1.0]), legend=None
            ),
            stroke=alt.Stroke(
                "current:N",
                scale=alt.Scale(domain=[False, True], range=["transparent", HIGHLIGHT_COLOR]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("week:N", title="Week"),
                alt.Tooltip("from:N", title="From"),
                alt.Tooltip("to:N", title="To"),
                alt.Tooltip("value:Q", title=_weekly_label(metric), format=",.2~f"),
                alt.Tooltip("change:Q", title="Change", format="+,.2~f"),
                alt.Tooltip("pct_change:Q", title="Change %", format="+.1%"),
                alt.Tooltip("days:Q", title="Days"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT, title=chart_title(title))
    )


def _weekly_label(metric: str) -> str:
    return metrics.KPI_LABELS.get(metric, metric.replace("_", " ").capitalize())


def _date_text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return day_text(pd.Timestamp(value))
