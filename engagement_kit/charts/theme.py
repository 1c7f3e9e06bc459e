"""The toolkit's altair theme (Okabe–Ito colours, readable sizes) and the colours every chart
uses.

altair is imported inside the functions on purpose: the quick-import switch
(:func:`engagement_kit.charts.skip_slow_optional_imports`) only helps before its first import.
"""

from __future__ import annotations

from typing import Any

#: Name of the registered altair theme.
THEME_NAME = "engagement_kit"
#: One colour per metric (Okabe–Ito, colour-blind safe), the same in every chart.
METRIC_COLORS: dict[str, str] = {"unique": "#0072B2", "new": "#E69F00", "returning": "#009E73"}
#: Display names of the metrics.
METRIC_LABELS: dict[str, str] = {
    "unique": "Unique users",
    "new": "New users",
    "returning": "Returning users",
}
#: Marks what needs attention: coverage window, current week, anomalies (Okabe–Ito vermillion).
HIGHLIGHT_COLOR = "#D55E00"
#: Up/down colours of the KPI table (the arrows carry the meaning too).
UP_COLOR = "#009E73"
DOWN_COLOR = "#D55E00"
NEUTRAL_COLOR = "#666666"
#: Heatmap colour scheme per metric, in the metric's hue.
HEATMAP_SCHEMES: dict[str, str] = {"unique": "blues", "new": "oranges", "returning": "greens"}
#: The text of a chart without data.
NO_DATA_TEXT = "No data for this period"

#: Most buckets one series may embed; longer data is summed per day, then per week.
MAX_POINTS = 1500

FONT = "'Source Sans 3', 'Segoe UI', 'Helvetica Neue', Arial, sans-serif"
WIDTH = 640
HEIGHT = 260
_OKABE_ITO = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)


# -- theme ------------------------------------------------------------------------------------------


def theme_config() -> dict[str, Any]:
    """The theme as a Vega-Lite top-level config: readable fonts and sizes, Okabe–Ito colours,
    and tooltips from the encoding on every mark (also on charts built by hand)."""
    axis = {
        "labelFontSize": 12,
        "titleFontSize": 13,
        "titleFontWeight": 600,
        "labelColor": "#333333",
        "titleColor": "#333333",
        "gridColor": "#E6E6E6",
        "domainColor": "#888888",
        "tickColor": "#888888",
    }
    return {
        "config": {
            "font": FONT,
            "background": "#FFFFFF",
            "title": {
                "fontSize": 16,
                "fontWeight": 600,
                "anchor": "start",
                "color": "#222222",
                "subtitleFontSize": 13,
                "subtitleColor": "#555555",
            },
            "axis": axis,
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "symbolSize": 120},
            "header": {"labelFontSize": 12, "titleFontSize": 13},
            "text": {"fontSize": 12},
            "mark": {"tooltip": {"content": "encoding"}},
            "line": {"strokeWidth": 2.5},
            "point": {"size": 45, "filled": True},
            "range": {"category": list(_OKABE_ITO)},
            "view": {"continuousWidth": WIDTH, "continuousHeight": HEIGHT, "stroke": None},
        }
    }


_registered: list[str] = []


def register_theme(*, enable: bool = False) -> str:
    """Register the ``engagement_kit`` altair theme (once; later calls change nothing).

    Parameters
    ----------
    enable : bool
        Also make it the active theme.

    Returns
    -------
    str
        The theme's name, :data:`THEME_NAME`.
    """
    import altair as alt

    if not _registered:  # alt.theme.names() scans entry points: ask once per process
        if THEME_NAME not in alt.theme.names():
            alt.theme.register(THEME_NAME, enable=False)(theme_config)  # type: ignore[arg-type]  # a plain dict is a ThemeConfig
        _registered.append(THEME_NAME)
    if enable and alt.theme.active != THEME_NAME:
        alt.theme.enable(THEME_NAME)
    return THEME_NAME


def use_theme() -> str:
    """Make the ``engagement_kit`` theme active (registering it if needed); idempotent.

    Returns
    -------
    str
        The theme's name.
    """
    return register_theme(enable=True)


def lazy_altair() -> Any:
    """Import altair, register the theme, and enable it unless the user chose another one."""
    import altair as alt

    register_theme(enable=alt.theme.active == "default")
    return alt
