"""Altair charts of true retention (from :mod:`engagement_kit.metrics.cohorts`), in the toolkit's theme.

* :func:`cohort_heatmap`: the cohort triangle, one row per cohort, one column per offset, each
  cell coloured by retention and labelled with its percentage; tooltips give cohort, offset,
  users and retained users. Possibly left-censored cohorts are marked ``*`` on the axis.
* :func:`retention_curves`: retention by offset, a thin line per cohort and the users-weighted
  average in bold.
* :func:`lifecycle_chart`: new / returning / resurrecting above zero and dormant below, per
  period (diverging stacked bars).
* :func:`stickiness_chart`: the share of each week's users active on 1..7 days.
* :func:`outcome_return_chart`: the share of first-seen users active again in each later
  period, one colour per outcome of their first session, with the Wilson intervals as bars.
* :func:`outcome_transitions_chart`: first vs next session outcome of returning users.

Re-exported by :mod:`engagement_kit.charts` and :mod:`engagement_kit.charts.cohorts`. Like the
other charts: inputs are not mutated, specs are deterministic, empty data
gives a chart that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from engagement_kit.charts._common import chart_title, no_data_chart
from engagement_kit.charts.theme import METRIC_COLORS, WIDTH, lazy_altair
from engagement_kit.config.weeks import iso_week_label
from engagement_kit.metrics.cohorts import LIFECYCLE_STATUSES
from engagement_kit.metrics.outcomes import OUTCOME_LABELS, OUTCOMES

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "LIFECYCLE_COLORS",
    "OUTCOME_COLORS",
    "cohort_heatmap",
    "lifecycle_chart",
    "outcome_return_chart",
    "outcome_transitions_chart",
    "retention_curves",
    "stickiness_chart",
]

#: Lifecycle colours (Okabe–Ito): new orange, returning green (as everywhere), resurrecting
#: sky blue, dormant grey.
LIFECYCLE_COLORS = {
    "new": METRIC_COLORS["new"],
    "returning": METRIC_COLORS["returning"],
    "resurrecting": "#56B4E9",
    "dormant": "#999999",
}
_PERIOD_WORD = {"day": "Day", "week": "Week", "month": "Month"}
#: First-session outcome colours (Okabe–Ito): self-service bluish green, drop-off vermillion,
#: agent blue, unknown grey.
OUTCOME_COLORS = {
    "selfService": "#009E73",
    "dropOff": "#D55E00",
    "agent": "#0072B2",
    "unknown": "#999999",
}


def _cohort_label(ts: pd.Timestamp, period: str) -> str:
    if period == "month":
        return ts.strftime("%Y-%m")
    if period == "week":
        return f"{iso_week_label(ts.date())} ({ts.strftime('%d %b')})"
    return ts.strftime("%Y-%m-%d")


def _triangle_cells(triangle: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    period = triangle.attrs.get("period", "week")
    cells = triangle.sort_values(["cohort", "offset"], kind="stable").copy()
    labels = [
        _cohort_label(c, period) + (" *" if flag else "")
        for c, flag in zip(cells["cohort"], cells["possibly_censored"], strict=True)
    ]
    cells["label"] = labels
    cells["rate"] = cells["rate"].astype(float).round(4)
    cells["percent"] = [f"{r:.0%}" for r in cells["rate"]]
    cells["cohort"] = cells["cohort"].dt.strftime("%Y-%m-%d")
    return cells[["cohort", "label", "offset", "users", "retained", "rate", "percent"]], period


_FIRST_PERIOD_GREY = "#e3e3e3"


def _scale_top(best: float) -> float:
    """The colour scale's top: the best later rate rounded up to a tenth (at most 100 %)."""
    return min(1.0, max(0.1, -(-round(best * 100) // 10) / 10))


def cohort_heatmap(
    triangle: pd.DataFrame, *, title: str | None = "Cohort retention"
) -> alt.LayerChart | alt.Chart:
    """The cohort triangle as a heatmap with percentages (from ``cohort_retention``).

    Returns
    -------
    altair.LayerChart
        ``rect`` cells (``x`` offset, ``y`` cohort label, colour ``rate``) and ``text`` labels
        with the percentage; tooltip cohort, offset, users, retained, rate.
    """
    alt = lazy_altair()
    if not len(triangle):
        return no_data_chart(title)
    cells, period = _triangle_cells(triangle)
    word = _PERIOD_WORD.get(period, "Period")
    base = alt.Chart(cells).encode(
        x=alt.X("offset:O", title=f"{word}s since first seen"),
        y=alt.Y("label:O", title=None, sort=list(dict.fromkeys(cells["label"]))),
    )
    tooltip = [
        alt.Tooltip("cohort:N", title=f"Cohort ({word.lower()} starting)"),
        alt.Tooltip("offset:Q", title=f"{word} offset"),
        alt.Tooltip("users:Q", title="Users in cohort", format=","),
        alt.Tooltip("retained:Q", title="Retained users", format=","),
        alt.Tooltip("rate:Q", title="Retention", format=".1%"),
    ]
    # offset 0 is 100 % by definition: grey, outside the colour scale, whose top is the best
    # later rate, so that 10 % and 18 % do not both look like "almost nothing" next to it
    later = cells.loc[cells["offset"] > 0, "rate"]
    top = _scale_top(float(later.max())) if len(later) else 1.0
    heat = base.mark_rect().encode(
        color=alt.condition(
            "datum.offset == 0",
            alt.value(_FIRST_PERIOD_GREY),
            alt.Color(
                "rate:Q",
                title="Retained",
                scale=alt.Scale(scheme="greens", domain=[0, top], clamp=True),
                legend=alt.Legend(format=".0%"),
            ),
        ),
        tooltip=tooltip,
    )
    # the label sits over the cell's centre: it carries the cell's tooltip, not one of its own
    text = base.mark_text(fontSize=10).encode(
        tooltip=tooltip,
        text="percent:N",
        color=alt.condition(
            f"datum.offset > 0 && datum.rate > {top * 0.6:.4f}",
            alt.value("white"),
            alt.value("#222222"),
        ),
    )
    kind = triangle.attrs.get("kind", "on")
    subtitle = (
        f"Share of each {period}'s new users active "
        + ("in" if kind == "on" else "in or after")
        + f" the {period} at each offset"
        + ("; * = possibly left-censored" if triangle["possibly_censored"].any() else "")
    )
    rows = cells["label"].nunique()
    return alt.layer(heat, text).properties(
        width=WIDTH, height=alt.Step(22 if rows < 30 else 14), title=chart_title(title, subtitle)
    )


def retention_curves(
    triangle: pd.DataFrame, *, title: str | None = "Retention curves"
) -> alt.LayerChart | alt.Chart:
    """One thin line per cohort and the users-weighted average (bold) by offset.

    Offset 0 (always 100 %) is left out so the curves use the height.
    """
    alt = lazy_altair()
    data = triangle[triangle["offset"] > 0]
    if not len(data):
        return no_data_chart(title)
    cells, period = _triangle_cells(data)
    word = _PERIOD_WORD.get(period, "Period")
    grouped = data.groupby("offset")[["retained", "users"]].sum()
    average = pd.DataFrame(
        {
            "offset": grouped.index.astype(int),
            "rate": (grouped["retained"] / grouped["users"]).round(4).to_numpy(),
            "cohorts": data.groupby("offset").size().to_numpy(),
        }
    )
    x = alt.X("offset:Q", title=f"{word}s since first seen", axis=alt.Axis(tickMinStep=1))
    y = alt.Y("rate:Q", title="Retained", axis=alt.Axis(format=".0%"))
    lines = (
        alt.Chart(cells)
        .mark_line(strokeWidth=1, opacity=0.35, color="#0072B2")
        .encode(
            x=x,
            y=y,
            detail="cohort:N",
            tooltip=[
                alt.Tooltip("label:N", title="Cohort"),
                alt.Tooltip("offset:Q", title=f"{word} offset"),
                alt.Tooltip("rate:Q", title="Retention", format=".1%"),
            ],
        )
    )
    mean = (
        alt.Chart(average)
        .mark_line(strokeWidth=3, color="#D55E00", point=True)
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("offset:Q", title=f"{word} offset"),
                alt.Tooltip("rate:Q", title="Average retention", format=".1%"),
                alt.Tooltip("cohorts:Q", title="Cohorts averaged"),
            ],
        )
    )
    subtitle = "Thin: one line per cohort; bold: the average weighted by cohort size"
    return alt.layer(lines, mean).properties(
        width=WIDTH, height=260, title=chart_title(title, subtitle)
    )


def lifecycle_chart(frame: pd.DataFrame, *, title: str | None = "User lifecycle") -> alt.Chart:
    """Diverging stacked bars: new, returning, resurrecting up; dormant down (from ``lifecycle``)."""
    alt = lazy_altair()
    if not len(frame):
        return no_data_chart(title)
    data = frame.copy()
    data["period"] = data["period"].dt.strftime("%Y-%m-%d")
    data["order"] = data["status"].map({s: i for i, s in enumerate(LIFECYCLE_STATUSES)})
    data["users_abs"] = data["users"].abs()
    domain = list(LIFECYCLE_STATUSES)
    period = frame.attrs.get("period", "week")
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("period:O", title=f"{_PERIOD_WORD.get(period, 'Period')} starting"),
            y=alt.Y("users:Q", title="Users (dormant below zero)", stack="zero"),
            color=alt.Color(
                "status:N",
                title=None,
                sort=domain,
                scale=alt.Scale(domain=domain, range=[LIFECYCLE_COLORS[s] for s in domain]),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("period:N", title="Period starting"),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("users_abs:Q", title="Users", format=","),
            ],
        )
    )
    subtitle = (
        "New: first seen; returning: also active the period before; resurrecting: back after "
        "a gap; dormant: active the period before, not now"
    )
    return chart.properties(width=WIDTH, height=260, title=chart_title(title, subtitle))


def stickiness_chart(
    histogram: pd.DataFrame, *, title: str | None = "Active days per week"
) -> alt.Chart:
    """Share of each week's users by their number of active days (from ``stickiness_histogram``),
    averaged over the weeks."""
    alt = lazy_altair()
    if not len(histogram) or not histogram["users"].sum():
        return no_data_chart(title)
    totals = histogram.groupby("active_days")["users"].sum()
    data = pd.DataFrame(
        {
            "active_days": totals.index.astype(int),
            "users": totals.to_numpy(),
            "share": (totals / totals.sum()).round(4).to_numpy(),
        }
    )
    weeks = histogram["week"].nunique()
    chart = (
        alt.Chart(data)
        .mark_bar(color=METRIC_COLORS["unique"])
        .encode(
            x=alt.X("active_days:O", title="Days active in the week"),
            y=alt.Y("share:Q", title="Share of the week's users", axis=alt.Axis(format=".0%")),
            tooltip=[
                alt.Tooltip("active_days:O", title="Active days"),
                alt.Tooltip("users:Q", title="User-weeks", format=","),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
    )
    subtitle = f"Over {weeks} complete week(s); a user counts once per week"
    return chart.properties(width=WIDTH, height=220, title=chart_title(title, subtitle))


def outcome_return_chart(
    result: object,
    *,
    title: str | None = "Back after the first conversation",
    period: str | None = None,
) -> alt.LayerChart | alt.Chart:
    """Share of first-seen users active again at each offset, by the outcome of their first
    session, with Wilson intervals (from ``retention_by_outcome``: its result or its
    ``retention`` frame).

    Returns
    -------
    altair.LayerChart
        ``rule`` interval bars (``low``..``high``) and ``point`` marks (one per outcome
        with users and offset; tooltip outcome, offset, users, retained, rate, interval).
    """
    alt = lazy_altair()
    frame = getattr(result, "retention", result)
    period = str(period or getattr(result, "period", "week"))
    confidence = getattr(result, "confidence", 0.95)
    if getattr(result, "by_channel", False):
        raise ValueError("outcome_return_chart: pass a result without by_channel=True")
    assert isinstance(frame, pd.DataFrame)
    data = frame[frame["users"] > 0].copy()
    if not len(data):
        return no_data_chart(title)
    data["label"] = data["outcome"].map(OUTCOME_LABELS)
    for name in ("rate", "low", "high"):  # 6 digits: a tooltip rounds as the sidecar's would
        data[name] = data[name].astype(float).round(6)
    data = data[
        ["outcome", "label", "offset", "cohorts", "users", "retained", "rate", "low", "high"]
    ]
    word = _PERIOD_WORD.get(period, "Period")
    shown = [o for o in OUTCOMES if o in set(data["outcome"])]
    labels = [OUTCOME_LABELS[o] for o in shown]
    color = alt.Color(
        "label:N",
        title="First conversation",
        sort=labels,
        scale=alt.Scale(domain=labels, range=[OUTCOME_COLORS[o] for o in shown]),
        legend=alt.Legend(orient="top"),
    )
    x = alt.X("offset:O", title=f"{word}s since first seen", axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("label:N", sort=labels, scale=alt.Scale(paddingOuter=0.3))
    tooltip = [
        alt.Tooltip("label:N", title="First conversation"),
        alt.Tooltip("offset:Q", title=f"{word} offset"),
        alt.Tooltip("users:Q", title="New users", format=","),
        alt.Tooltip("retained:Q", title="Active again", format=","),
        alt.Tooltip("rate:Q", title="Share", format=".1%"),
        alt.Tooltip("low:Q", title=f"{confidence:.0%} interval from", format=".1%"),
        alt.Tooltip("high:Q", title=f"{confidence:.0%} interval to", format=".1%"),
    ]
    base = alt.Chart(data).encode(x=x, xOffset=offset, color=color)
    bars = base.mark_rule(strokeWidth=2, opacity=0.55).encode(
        y=alt.Y("low:Q", title=f"Active again in that {period}", axis=alt.Axis(format=".0%")),
        y2="high:Q",
        tooltip=tooltip,
    )
    points = base.mark_point(filled=True, size=70, opacity=1).encode(
        y=alt.Y("rate:Q"), tooltip=tooltip
    )
    subtitle = (
        f"Share of each outcome's new users active again in the {period} at each offset; "
        f"bars: {confidence:.0%} Wilson intervals"
    )
    return alt.layer(bars, points).properties(
        width=WIDTH, height=260, title=chart_title(title, subtitle)
    )


def outcome_transitions_chart(
    transitions: pd.DataFrame, *, title: str | None = "First vs next conversation"
) -> alt.LayerChart | alt.Chart:
    """A heatmap of returning users: the outcome of their first session (rows) against that of
    their next one (columns), the cells' share of the row (from ``outcome_transitions``)."""
    alt = lazy_altair()
    data = transitions[transitions.groupby("first")["users"].transform("sum") > 0].copy()
    if not len(data) or not data["users"].sum():
        return no_data_chart(title)
    data["first_label"] = data["first"].map(OUTCOME_LABELS)
    data["next_label"] = data["next"].map(OUTCOME_LABELS)
    data["share"] = data["share"].astype(float).round(6)
    data["percent"] = [f"{v:.0%}" for v in data["share"]]
    order = [OUTCOME_LABELS[o] for o in OUTCOMES]
    tooltip = [
        alt.Tooltip("first_label:N", title="First conversation"),
        alt.Tooltip("next_label:N", title="Next conversation"),
        alt.Tooltip("users:Q", title="Users", format=","),
        alt.Tooltip("share:Q", title="Share of the row", format=".1%"),
    ]
    base = alt.Chart(data).encode(
        x=alt.X("next_label:O", title="Next conversation", sort=order, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("first_label:O", title="First conversation", sort=order),
    )
    heat = base.mark_rect().encode(
        color=alt.Color(
            "share:Q",
            title="Share of row",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(format=".0%"),
        ),
        tooltip=tooltip,
    )
    text = base.mark_text(fontSize=11).encode(
        text="percent:N",
        tooltip=tooltip,
        color=alt.condition("datum.share > 0.6", alt.value("white"), alt.value("#222222")),
    )
    subtitle = "Returning users: the outcome of their first conversation and of the next one"
    return alt.layer(heat, text).properties(
        width=WIDTH // 2, height=alt.Step(32), title=chart_title(title, subtitle)
    )
