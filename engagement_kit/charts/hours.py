"""Charts of the hours of the day: the weekday × hour heatmap and the hour profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit import metrics
from engagement_kit.charts._common import chart_title, hourly_wide, lazy_altair, zone_of
from engagement_kit.charts.theme import (
    HEATMAP_SCHEMES,
    HEIGHT,
    HIGHLIGHT_COLOR,
    METRIC_COLORS,
    METRIC_LABELS,
    WIDTH,
)

if TYPE_CHECKING:
    import altair as alt

    from engagement_kit.tidy import Engagement

_DAY_TYPE_DASH = {"weekday": [1, 0], "weekend": [6, 4]}


# -- peak hours ----------------------------------------------------------------------------------------


def _hour_axis(zone: str | None) -> Any:
    alt = lazy_altair()
    return alt.Axis(
        values=list(range(0, 25, 3)),
        labelExpr="datum.value + ':00'",
        title=(f"Hour of day ({zone})" if zone else "Hour of day"),
    )


def peak_hours_heatmap(
    data: Engagement | pd.DataFrame,
    *,
    metric: str = "unique",
    share: float = 0.8,
    tz: str | None = None,
    title: str | None = "When users come",
) -> alt.LayerChart | alt.Chart:
    """Weekday × hour heatmap of mean users, with the coverage window outlined.

    Hours are the query zone's wall-clock hours (named on the axis). The outlined band is
    :func:`~engagement_kit.metrics.coverage_window` for ``share`` (two pieces when it wraps
    past midnight); the subtitle says it in words.

    Returns
    -------
    altair.LayerChart
        Layer 1: ``rect`` marks, ``x`` ``hour``..``hour_end`` (quantitative 0–24), ``y``
        ``weekday`` (Monday first), ``color`` ``users`` (mean per occurrence of the weekday,
        in the metric's hue); tooltip ``weekday``, ``hours``, ``users``. Layer 2 (when there
        are users): unfilled ``rect`` in :data:`HIGHLIGHT_COLOR` over ``start``..``end``;
        tooltip ``window``, ``share``, ``length``. Daily data gives a message chart.
    """
    alt = lazy_altair()
    wide, message = hourly_wide(data, metric, title=title, what="Peak hours")
    if message is not None:
        return message
    zone = zone_of(data, tz)
    matrix = metrics.peak_hours(wide, metric=metric)
    cells = matrix.stack(future_stack=True).rename("users").reset_index()
    cells = cells[cells["users"].notna()].copy()
    cells["weekday"] = cells["weekday"].astype(str)
    cells["hour"] = cells["hour"].astype(int)
    cells["hour_end"] = cells["hour"] + 1
    cells["hours"] = [metrics.hour_label(h) for h in cells["hour"]]
    cells["users"] = cells["users"].astype(float).round(3)
    cells = cells.sort_values(["weekday", "hour"], key=_weekday_key, kind="stable")
    window = metrics.coverage_window(wide, share, metric=metric)
    hour_scale = alt.Scale(domain=[0, 24], nice=False, zero=True)
    heat = (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X("hour:Q", scale=hour_scale, axis=_hour_axis(zone)),
            x2="hour_end:Q",
            y=alt.Y("weekday:O", sort=list(metrics.WEEKDAYS), title=None),
            color=alt.Color(
                "users:Q",
                title=f"Mean {METRIC_LABELS[metric].lower()}",
                scale=alt.Scale(scheme=HEATMAP_SCHEMES[metric]),
            ),
            tooltip=[
                alt.Tooltip("weekday:N", title="Weekday"),
                alt.Tooltip("hours:N", title="Hours"),
                alt.Tooltip("users:Q", title="Mean users", format=",.1f"),
            ],
        )
    )
    if window.found:
        subtitle = (
            f"{window.share:.0%} of user-hours fall in {window.label} ({window.hours} h), "
            f"the shortest window holding at least {share:.0%}"
        )
        segments = _window_segments(window)
        outline = (
            alt.Chart(segments)
            .mark_rect(fillOpacity=0, stroke=HIGHLIGHT_COLOR, strokeWidth=2.5)
            .encode(
                x=alt.X("start:Q", scale=hour_scale),
                x2="end:Q",
                tooltip=[
                    alt.Tooltip("window:N", title="Coverage window"),
                    alt.Tooltip("share:Q", title="Share of user-hours", format=".0%"),
                    alt.Tooltip("length:Q", title="Hours"),
                ],
            )
        )
        chart: Any = alt.layer(heat, outline)
    else:
        subtitle = "No users in this period"
        chart = heat
    return chart.properties(
        width=WIDTH, height=alt.Step(26), title=chart_title(title or "", subtitle)
    )


def _weekday_key(col: pd.Series) -> pd.Series:
    if col.name == "weekday":
        return col.map({d: i for i, d in enumerate(metrics.WEEKDAYS)})
    return col


def _window_segments(window: metrics.CoverageWindow) -> pd.DataFrame:
    start, hours = int(window.start_hour), window.hours  # type: ignore[arg-type]
    pieces = [(start, min(start + hours, 24))]
    if start + hours > 24:
        pieces.append((0, start + hours - 24))
    return pd.DataFrame(
        {
            "start": [p[0] for p in pieces],
            "end": [p[1] for p in pieces],
            "window": window.label,
            "share": round(window.share, 4),
            "length": hours,
        }
    )


def hour_profile_chart(
    data: Engagement | pd.DataFrame,
    *,
    metric: str = "unique",
    tz: str | None = None,
    title: str | None = "Hour of day: weekdays and weekends",
) -> alt.Chart:
    """Mean users per hour on weekdays (solid) and weekends (dashed), in the metric's colour.

    Returns
    -------
    altair.Chart
        ``line`` marks with points; ``x`` ``hour`` (quantitative 0–23, wall clock), ``y``
        ``users`` (mean per day of the type), ``strokeDash`` ``day_type``, colour fixed to the
        metric's; tooltip ``day_type``, ``hours``, ``users``, ``share``. Daily data gives a
        message chart.
    """
    alt = lazy_altair()
    wide, message = hourly_wide(data, metric, title=title, what="Hour profiles")
    if message is not None:
        return message
    prof = metrics.hour_profile(wide, metric=metric)
    prof = prof[prof["users"].notna()].copy()
    prof["users"] = prof["users"].astype(float).round(3)
    prof["share"] = prof["share"].astype(float).round(4)
    prof["hours"] = [metrics.hour_label(h) for h in prof["hour"]]
    prof = prof.drop(columns="days")
    zone = zone_of(data, tz)
    return (
        alt.Chart(prof)
        .mark_line(
            color=METRIC_COLORS[metric],
            point=alt.OverlayMarkDef(color=METRIC_COLORS[metric], size=35, filled=True),
        )
        .encode(
            x=alt.X(
                "hour:Q",
                scale=alt.Scale(domain=[0, 23], nice=False),
                axis=alt.Axis(
                    values=list(range(0, 24, 3)),
                    labelExpr="datum.value + ':00'",
                    title=f"Hour of day ({zone})" if zone else "Hour of day",
                ),
            ),
            y=alt.Y("users:Q", title=f"Mean {METRIC_LABELS[metric].lower()} per day"),
            strokeDash=alt.StrokeDash(
                "day_type:N",
                title=None,
                scale=alt.Scale(domain=list(_DAY_TYPE_DASH), range=list(_DAY_TYPE_DASH.values())),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("day_type:N", title="Days"),
                alt.Tooltip("hours:N", title="Hours"),
                alt.Tooltip("users:Q", title="Mean users", format=",.1f"),
                alt.Tooltip("share:Q", title="Share of the day", format=".1%"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT, title=chart_title(title))
    )
