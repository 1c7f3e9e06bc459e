"""Daily users with their expected range and the unusual days."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit import metrics
from engagement_kit.charts._common import (
    chart_title,
    day_text,
    iso_time,
    lazy_altair,
    no_data_chart,
    time_x,
    zone_of,
)
from engagement_kit.charts.theme import HEIGHT, HIGHLIGHT_COLOR, METRIC_COLORS, METRIC_LABELS, WIDTH
from engagement_kit.tidy import frames as _frames
from engagement_kit.tidy.frames import finite_or_none

if TYPE_CHECKING:
    import altair as alt

    from engagement_kit.tidy import Engagement


# -- anomalies -----------------------------------------------------------------------------------------


def anomaly_chart(
    data: Engagement | pd.DataFrame,
    *,
    metric: str = "unique",
    tz: str | None = None,
    title: str | None = None,
    **options: Any,
) -> alt.LayerChart | alt.Chart:
    """Daily users with the expected range of :func:`~engagement_kit.metrics.anomalies` as a band
    and the anomalies as vermillion points.

    ``options`` go to :func:`~engagement_kit.metrics.anomalies` (``window``, ``threshold``,
    ``min_periods``, ``min_scale``, ``by_weekday``).

    Returns
    -------
    altair.LayerChart
        ``area`` (``low``..``high``, grey), ``line`` (``value``, metric colour) and ``point``
        (anomalies only, :data:`HIGHLIGHT_COLOR`) layers over ``x`` ``time``; tooltips ``when``,
        ``value``, ``expected``, ``low``, ``high``, ``score``, ``direction``.
    """
    alt = lazy_altair()
    _frames.check_metric(metric)
    title = title if title is not None else f"{METRIC_LABELS[metric]} per day and expected range"
    found = metrics.anomalies(data, metric=metric, all_days=True, **options)
    if not len(found):
        return no_data_chart(title)
    frame = pd.DataFrame(
        {
            "time": [iso_time(d, None) for d in found["date"]],
            "when": [day_text(d) for d in found["date"]],
            "value": [finite_or_none(v) for v in found["value"]],
            "expected": [finite_or_none(v) for v in found["expected"]],
            "low": [finite_or_none(v) for v in found["low"]],
            "high": [finite_or_none(v) for v in found["high"]],
            "score": [
                None if finite_or_none(v) is None else round(float(v), 2) for v in found["score"]
            ],
            "direction": [None if pd.isna(v) else str(v) for v in found["direction"]],
            "is_anomaly": found["is_anomaly"].astype(bool).to_list(),
        }
    )
    x = time_x("day", zone_of(data, tz))
    tooltip = [
        alt.Tooltip("when:N", title="Day"),
        alt.Tooltip("value:Q", title="Users", format=","),
        alt.Tooltip("expected:Q", title="Expected", format=",.1f"),
        alt.Tooltip("low:Q", title="Range from", format=",.1f"),
        alt.Tooltip("high:Q", title="Range to", format=",.1f"),
        alt.Tooltip("score:Q", title="Robust z-score"),
        alt.Tooltip("direction:N", title="Anomaly"),
    ]
    base = alt.Chart(frame)
    band = (
        base.transform_filter("isValid(datum.low)")
        .mark_area(color="#999999", opacity=0.25)
        .encode(x=x, y=alt.Y("low:Q", title=METRIC_LABELS[metric]), y2="high:Q", tooltip=tooltip)
    )
    line = base.mark_line(
        color=METRIC_COLORS[metric],
        point=alt.OverlayMarkDef(color=METRIC_COLORS[metric], size=30, filled=True),
    ).encode(x=x, y="value:Q", tooltip=tooltip)
    flagged = (
        base.transform_filter("datum.is_anomaly")
        .mark_point(color=HIGHLIGHT_COLOR, size=140, filled=True, shape="diamond")
        .encode(x=x, y="value:Q", tooltip=tooltip)
    )
    return alt.layer(band, line, flagged).properties(
        width=WIDTH, height=HEIGHT, title=chart_title(title)
    )
