"""Altair charts of engagement data, and the toolkit's registered theme.

Every builder takes tidy frames (or an :class:`~engagement_kit.tidy.Engagement`), aggregates in
pandas first (the spec embeds only the few rows it draws), and returns a *new* chart. Nothing
here displays, saves or mutates its input. Empty data gives a chart that reads "No data for this
period" instead of an exception.

Colours are fixed per metric and colour-blind safe (Okabe–Ito): unique users blue, new users
orange, returning users bluish green, everywhere, whatever theme is active. Vermillion marks
what needs attention (the coverage window, the current week, anomalies).

Times are drawn as wall-clock time of the query's zone: buckets are sent to Vega as
``YYYY-MM-DDTHH:00:00Z`` and drawn on a UTC scale, so a chart reads the same in every viewer's
browser, and daylight-saving days keep their 24 hourly buckets.

Specs are deterministic: data is sorted, no random ids or selections are added, so
``chart.to_dict()`` is stable for the same input (notebook tests rely on it). A series longer
than :data:`MAX_POINTS` buckets is summed per day (hourly data), then per week, and the subtitle
says so, so that no chart embeds thousands of rows.

The theme ``engagement_kit`` is registered once (:func:`register_theme`, idempotent).
:func:`use_theme` makes it active; building a chart also activates it when altair's own
``default`` theme is active, and leaves any theme the user chose alone.

Modules: :mod:`.theme` (colours, theme, quick imports), :mod:`.renderer` (``setup_notebook`` and
the offline report renderer), :mod:`.time` (trend, new vs returning, weekly history),
:mod:`.hours` (heatmap, hour profile), :mod:`.anomalies`, :mod:`.channels` (the channel mix),
:mod:`.kpi_table`.
"""

from __future__ import annotations

from engagement_kit.charts.anomalies import anomaly_chart
from engagement_kit.charts.channels import channel_mix_chart
from engagement_kit.charts.cohorts import (  # sessions
    cohort_heatmap,
    lifecycle_chart,
    outcome_return_chart,
    outcome_transitions_chart,
    retention_curves,
    stickiness_chart,
)
from engagement_kit.charts.fast_import import skip_slow_optional_imports
from engagement_kit.charts.hours import hour_profile_chart, peak_hours_heatmap
from engagement_kit.charts.kpi_table import kpi_table_html
from engagement_kit.charts.renderer import RENDERER_NAME, chart_mimebundle, setup_notebook
from engagement_kit.charts.theme import (
    DOWN_COLOR,
    FONT,
    HEATMAP_SCHEMES,
    HEIGHT,
    HIGHLIGHT_COLOR,
    MAX_POINTS,
    METRIC_COLORS,
    METRIC_LABELS,
    NEUTRAL_COLOR,
    NO_DATA_TEXT,
    THEME_NAME,
    UP_COLOR,
    WIDTH,
    register_theme,
    theme_config,
    use_theme,
)
from engagement_kit.charts.time import new_vs_returning_chart, trend_chart, weekly_history_chart

__all__ = [
    "DOWN_COLOR",
    "FONT",
    "HEATMAP_SCHEMES",
    "HEIGHT",
    "HIGHLIGHT_COLOR",
    "MAX_POINTS",
    "METRIC_COLORS",
    "METRIC_LABELS",
    "NEUTRAL_COLOR",
    "NO_DATA_TEXT",
    "RENDERER_NAME",
    "THEME_NAME",
    "UP_COLOR",
    "WIDTH",
    "anomaly_chart",
    "channel_mix_chart",
    "chart_mimebundle",
    "cohort_heatmap",
    "hour_profile_chart",
    "kpi_table_html",
    "lifecycle_chart",
    "new_vs_returning_chart",
    "outcome_return_chart",
    "outcome_transitions_chart",
    "peak_hours_heatmap",
    "register_theme",
    "retention_curves",
    "setup_notebook",
    "skip_slow_optional_imports",
    "stickiness_chart",
    "theme_config",
    "trend_chart",
    "use_theme",
    "weekly_history_chart",
]
