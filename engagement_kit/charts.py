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
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import metrics as _m
from .tidy import METRICS

if TYPE_CHECKING:
    import altair as alt

    from .tidy import Engagement

__all__ = [
    "HIGHLIGHT_COLOR",
    "METRIC_COLORS",
    "METRIC_LABELS",
    "NO_DATA_TEXT",
    "THEME_NAME",
    "anomaly_chart",
    "channel_mix_chart",
    "hour_profile_chart",
    "kpi_table_html",
    "new_vs_returning_chart",
    "peak_hours_heatmap",
    "register_theme",
    "setup_notebook",
    "skip_slow_optional_imports",
    "theme_config",
    "trend_chart",
    "use_theme",
    "weekly_history_chart",
]

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
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PERIOD_DASH = {"current": [1, 0], "previous": [6, 4]}
_DAY_TYPE_DASH = {"weekday": [1, 0], "weekend": [6, 4]}


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
            alt.theme.register(THEME_NAME, enable=False)(theme_config)
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


def skip_slow_optional_imports() -> None:
    """Skip ``rfc3987_syntax``, an optional jsonschema format checker that costs ~2 s per import.

    jsonschema imports it eagerly when installed (python-jsonschema/jsonschema#1428) only to
    check the ``iri`` formats, which altair never validates. Setting its ``sys.modules`` entry
    to ``None`` is the documented way to make an import fail; jsonschema then skips the check.
    It only helps before altair (or nbformat) is first imported in the process.
    """
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def setup_notebook(*, renderer: str = "svg", fast_imports: bool = True) -> str:
    """Prepare a notebook for the toolkit's charts: quick altair import, theme, renderer.

    Call it once, in the first code cell (``ek.setup_notebook()``); calling it again is
    harmless.

    Parameters
    ----------
    renderer : str
        ``"svg"`` (default): static SVG drawn offline by vl-convert, the same bytes on every
        run (good for committed notebooks and nbval). ``"report"``: the interactive, offline
        renderer of the HTML reports (:func:`engagement_kit.report.setup_notebook`). Any other
        altair renderer name (``"default"``, ``"html"``, ...) is enabled as is.
    fast_imports : bool
        Skip the slow optional import of ``rfc3987_syntax`` (see
        :func:`skip_slow_optional_imports`).

    Returns
    -------
    str
        The renderer now enabled.
    """
    if fast_imports:
        skip_slow_optional_imports()
    if renderer == "report":
        from .report import setup_notebook as report_setup

        report_setup(fast_imports=fast_imports)
        return renderer
    import altair as alt

    if renderer not in alt.renderers.names():
        raise ValueError(
            f"renderer: {renderer!r} is not an altair renderer; use 'svg', 'report' or one of "
            + ", ".join(sorted(alt.renderers.names()))
        )
    alt.renderers.enable(renderer)
    use_theme()
    return renderer


def _alt() -> Any:
    """Import altair, register the theme, and enable it unless the user chose another one."""
    import altair as alt

    register_theme(enable=alt.theme.active == "default")
    return alt


# -- helpers ----------------------------------------------------------------------------------------


def _message_chart(text: str, *, title: str | None = None, height: int = 120) -> alt.Chart:
    alt = _alt()
    frame = pd.DataFrame({"message": [text]})
    chart = (
        alt.Chart(frame)
        .mark_text(fontSize=15, color="#555555")
        .encode(text=alt.Text("message:N"), tooltip=[alt.Tooltip("message:N", title="Note")])
        .properties(width=WIDTH, height=height)
    )
    return chart.properties(title=title) if title else chart


def _no_data(title: str | None = None) -> alt.Chart:
    return _message_chart(NO_DATA_TEXT, title=title)


def _day_text(ts: pd.Timestamp, hour: int | None = None) -> str:
    """Locale-independent: ``Mon 01 Dec 2025`` or ``Mon 01 Dec 2025 17:00``."""
    text = f"{_m.WEEKDAYS[ts.day_of_week][:3]} {ts.day:02d} {_MONTHS[ts.month - 1]} {ts.year}"
    return text if hour is None else f"{text} {hour:02d}:00"


def _iso_time(ts: pd.Timestamp, hour: int | None) -> str:
    return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{(hour or 0):02d}:00:00Z"


def _zone(data: object, tz: str | None) -> str | None:
    return tz or getattr(data, "tz", None)


def _metric_key(name: str) -> str:
    """``unique_users``/``avg_new_users_per_day``/``new`` → ``unique``/``new``/``new``."""
    key = name.removeprefix("avg_").removesuffix("_per_day").removesuffix("_users")
    return key if key in METRICS else name


def _metric_color(metrics: Sequence[str]) -> alt.Color:
    alt = _alt()
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


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    for metric in metrics:
        _m._check_metric(metric)
    return list(metrics)


def _hourly_wide(
    data: object, metric: str, *, title: str | None, what: str
) -> tuple[pd.DataFrame, alt.Chart | None]:
    """The wide frame of hourly ``data``, or a message chart saying why there is nothing to draw."""
    _m._check_metric(metric)
    wide = _m._wide(data)
    if not len(wide):
        return wide, _no_data(title)
    if not _m._is_hourly(wide):
        text = f"{what} need hourly data: fetch with aggregation='hourly'"
        return wide, _message_chart(text, title=title)
    return wide, None


def _title(text: str | None, subtitle: str | None = None) -> Any:
    alt = _alt()
    if subtitle:
        return alt.Title(text or "", subtitle=subtitle)
    return alt.Title(text) if text else alt.Undefined


def _bucket_frame(wide: pd.DataFrame) -> pd.DataFrame:
    """Add ``time`` (wall clock as UTC ISO text) and ``when`` (tooltip text) to a wide frame."""
    hourly = _m._is_hourly(wide)
    out = wide[["date", "hour", *METRICS]].copy()
    hours = [int(h) if hourly else None for h in out["hour"]]
    out["time"] = [_iso_time(d, h) for d, h in zip(out["date"], hours, strict=True)]
    out["when"] = [_day_text(d, h) for d, h in zip(out["date"], hours, strict=True)]
    return out


def _time_x(unit: str, zone: str | None) -> alt.X:
    alt = _alt()
    where = f" ({zone})" if zone else ""
    return alt.X(
        "time:T",
        title=f"{unit.capitalize()}{where}",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format=_AXIS_FORMAT[unit], labelAngle=0),
    )


_AXIS_FORMAT = {"hour": "%d %b %H:%M", "day": "%a %d %b", "week": "%d %b %Y"}


def _coarsen(wide: pd.DataFrame) -> tuple[pd.DataFrame, str, str | None]:
    """Keep the embedded data small: hourly → daily → weekly sums while a series would have
    more than :data:`MAX_POINTS` buckets.

    Returns the (possibly summed) wide frame, its unit (``"hour"``/``"day"``/``"week"``) and a
    note for the subtitle when it was summed.
    """
    unit = "hour" if _m._is_hourly(wide) else "day"
    if len(wide) <= MAX_POINTS:
        return wide, unit, None
    days = wide["date"].nunique()
    note = None
    if unit == "hour":
        wide = _m.daily_totals(wide)
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
    alt = _alt()
    metrics = _check_metrics(metrics)
    wide = _m._wide(data)
    if not len(wide) or not metrics:
        return _no_data(title)
    wide, unit, note = _coarsen(wide)
    frames = [_long_series(_bucket_frame(wide), metrics, "current")]
    if previous is not None:
        prev, _, _ = _coarsen(_m._wide(previous))
        if len(prev):
            shift = wide["date"].min() - prev["date"].min()
            aligned = _bucket_frame(prev)
            aligned["time"] = [
                _iso_time(d + shift, None if pd.isna(h) else int(h))
                for d, h in zip(prev["date"], prev["hour"], strict=True)
            ]
            frames.append(_long_series(aligned, metrics, "previous"))
    long = pd.concat(frames, ignore_index=True)
    with_previous = long["period"].nunique() > 1
    encoding: dict[str, Any] = {
        "x": _time_x(unit, _zone(data, tz)),
        "y": alt.Y("users:Q", title="Users"),
        "color": _metric_color(metrics),
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
        .properties(width=WIDTH, height=HEIGHT, title=_title(title, note))
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
    alt = _alt()
    wide = _m._wide(data)
    if not len(wide):
        return _no_data(title)
    wide, unit, note = _coarsen(wide)
    buckets = _bucket_frame(wide)
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
    zone = _zone(data, tz)
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X(
                f"{time_unit}(time):T",
                title=f"{unit.capitalize()}{f' ({zone})' if zone else ''}",
                axis=alt.Axis(format=_AXIS_FORMAT[unit], labelAngle=0),
            ),
            y=alt.Y(
                "users:Q",
                title="Share of users" if normalize else "Users",
                stack="normalize" if normalize else "zero",
                axis=alt.Axis(format="%" if normalize else ",d"),
            ),
            color=_metric_color(["new", "returning"]),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("when:N", title="When"),
                alt.Tooltip("label:N", title="Metric"),
                alt.Tooltip("users:Q", title="Users", format=","),
                alt.Tooltip("share:Q", title="Share", format=".0%"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT, title=_title(title, note))
    )


# -- peak hours ----------------------------------------------------------------------------------------


def _hour_axis(zone: str | None) -> Any:
    alt = _alt()
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
    alt = _alt()
    wide, message = _hourly_wide(data, metric, title=title, what="Peak hours")
    if message is not None:
        return message
    zone = _zone(data, tz)
    matrix = _m.peak_hours(wide, metric=metric)
    cells = matrix.stack(future_stack=True).rename("users").reset_index()
    cells = cells[cells["users"].notna()].copy()
    cells["weekday"] = cells["weekday"].astype(str)
    cells["hour"] = cells["hour"].astype(int)
    cells["hour_end"] = cells["hour"] + 1
    cells["hours"] = [_m.hour_label(h) for h in cells["hour"]]
    cells["users"] = cells["users"].astype(float).round(3)
    cells = cells.sort_values(["weekday", "hour"], key=_weekday_key, kind="stable")
    window = _m.coverage_window(wide, share, metric=metric)
    hour_scale = alt.Scale(domain=[0, 24], nice=False, zero=True)
    heat = (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X("hour:Q", scale=hour_scale, axis=_hour_axis(zone)),
            x2="hour_end:Q",
            y=alt.Y("weekday:O", sort=list(_m.WEEKDAYS), title=None),
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
    return chart.properties(width=WIDTH, height=alt.Step(26), title=_title(title or "", subtitle))


def _weekday_key(col: pd.Series) -> pd.Series:
    if col.name == "weekday":
        return col.map({d: i for i, d in enumerate(_m.WEEKDAYS)})
    return col


def _window_segments(window: _m.CoverageWindow) -> pd.DataFrame:
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
    alt = _alt()
    wide, message = _hourly_wide(data, metric, title=title, what="Hour profiles")
    if message is not None:
        return message
    prof = _m.hour_profile(wide, metric=metric)
    prof = prof[prof["users"].notna()].copy()
    prof["users"] = prof["users"].astype(float).round(3)
    prof["share"] = prof["share"].astype(float).round(4)
    prof["hours"] = [_m.hour_label(h) for h in prof["hour"]]
    prof = prof.drop(columns="days")
    zone = _zone(data, tz)
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
        .properties(width=WIDTH, height=HEIGHT, title=_title(title))
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
    alt = _alt()
    title = title if title is not None else f"{_weekly_label(metric)} by ISO week"
    if weeks is None or not len(weeks):
        return _no_data(title)
    _m._check_columns(weeks, ("week", metric), "weeks")
    wow = _m.week_over_week(weeks, metrics=[metric])
    current_week = current_week or str(wow["week"].iloc[-1])
    frame = pd.DataFrame(
        {
            "week": wow["week"].astype(str),
            "from": [_date_text(v) for v in wow["start"]],
            "to": [_date_text(v) for v in wow["end"]],
            "days": [None if pd.isna(v) else int(v) for v in wow["days"]],
            "value": [_num(v) for v in wow["value"]],
            "change": [_num(v) for v in wow["change"]],
            "pct_change": [_num(v) for v in wow["pct_change"]],
        }
    )
    frame["current"] = frame["week"] == current_week
    color = METRIC_COLORS.get(_metric_key(metric), _OKABE_ITO[0])
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
        .properties(width=WIDTH, height=HEIGHT, title=_title(title))
    )


def _weekly_label(metric: str) -> str:
    return _m.KPI_LABELS.get(metric, metric.replace("_", " ").capitalize())


def _date_text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return _day_text(pd.Timestamp(value))


def _num(value: object) -> float | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isinf(number) else number


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
    alt = _alt()
    _m._check_metric(metric)
    title = title if title is not None else f"{METRIC_LABELS[metric]} per day and expected range"
    found = _m.anomalies(data, metric=metric, all_days=True, **options)
    if not len(found):
        return _no_data(title)
    frame = pd.DataFrame(
        {
            "time": [_iso_time(d, None) for d in found["date"]],
            "when": [_day_text(d) for d in found["date"]],
            "value": [_num(v) for v in found["value"]],
            "expected": [_num(v) for v in found["expected"]],
            "low": [_num(v) for v in found["low"]],
            "high": [_num(v) for v in found["high"]],
            "score": [None if _num(v) is None else round(float(v), 2) for v in found["score"]],
            "direction": [None if pd.isna(v) else str(v) for v in found["direction"]],
            "is_anomaly": found["is_anomaly"].astype(bool).to_list(),
        }
    )
    x = _time_x("day", _zone(data, tz))
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
        width=WIDTH, height=HEIGHT, title=_title(title)
    )


# -- KPI table -----------------------------------------------------------------------------------------

_SHARES = {"returning_share", "stickiness"}
_AVERAGES = {"avg_unique_users_per_day", "avg_new_users_per_day", "avg_returning_users_per_day"}


def _fmt_value(kpi: str, value: object) -> str:
    if value is None or pd.isna(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    if kpi in _SHARES:
        return f"{number:.1%}"
    if kpi in _AVERAGES:
        return f"{number:,.1f}"
    return f"{number:,.0f}" if number == round(number) else f"{number:,.1f}"


def _signed(magnitude: str, number: float) -> str:
    """Prefix ``+``/``−`` (a real minus sign), none when the shown digits are all zero."""
    if not any(ch in "123456789" for ch in magnitude):
        return magnitude
    return ("+" if number > 0 else "−") + magnitude


def _fmt_change(kpi: str, change: object, pct: object) -> tuple[str, str, str]:
    """(arrow, text, colour) of a change cell; no arrow when the shown change is zero."""
    if change is None or pd.isna(change):
        return "", "–", NEUTRAL_COLOR
    number = float(change)  # type: ignore[arg-type]
    size = abs(number)
    if kpi in _SHARES:
        text = _signed(f"{size * 100:.1f}", number) + " pp"
    elif kpi in _AVERAGES:
        text = _signed(f"{size:,.1f}", number)
    else:
        text = _signed(f"{size:,.0f}" if size == round(size) else f"{size:,.1f}", number)
    if pct is not None and not pd.isna(pct):
        ratio = float(pct)  # type: ignore[arg-type]
        text += f" ({_signed(f'{abs(ratio):.1%}', ratio)})"
    if text[0] == "+":
        return "▲", text, UP_COLOR
    if text[0] == "−":
        return "▼", text, DOWN_COLOR
    return "", text, NEUTRAL_COLOR


def kpi_table_html(
    kpis_frame: pd.DataFrame,
    *,
    title: str | None = None,
    value_label: str = "This period",
    previous_label: str = "Previous",
) -> str:
    """An HTML table of :func:`~engagement_kit.metrics.kpis` output, with ▲/▼ changes.

    Self-contained: inline styles only, no external CSS or scripts; every text is HTML-escaped.
    Rises show ▲ in bluish green, falls ▼ in vermillion (the arrows carry the meaning for
    readers who cannot tell the colours apart); shares change in percentage points (pp).

    A value missing for a known reason (``kpis_frame.attrs["notes"]``, e.g. unique users of a
    range the platform only answers in parts) reads "not available (1)", with the reason as
    footnote (1) under the table, instead of a bare dash.

    Returns
    -------
    str
        A ``<table class="ek-kpis">`` with columns KPI, ``value_label``, ``previous_label``,
        Change (the last two only when the frame has previous values).
    """
    has_previous = "previous" in kpis_frame.columns and kpis_frame["previous"].notna().any()
    cell = "padding:4px 12px;border-bottom:1px solid #e6e6e6;"
    num = cell + "text-align:right;font-variant-numeric:tabular-nums;"
    head = "padding:4px 12px;border-bottom:2px solid #999999;text-align:{align};"
    headers = [("KPI", "left"), (value_label, "right")]
    if has_previous:
        headers += [(previous_label, "right"), ("Change", "right")]
    parts = [
        '<table class="ek-kpis" style="border-collapse:collapse;font-family:'
        + html.escape(FONT, quote=True)
        + ';font-size:14px;color:#222222;">'
    ]
    if title:
        parts.append(
            '<caption style="text-align:left;font-weight:600;font-size:16px;padding:4px 0;">'
            f"{html.escape(title)}</caption>"
        )
    parts.append(
        "<thead><tr>"
        + "".join(
            f'<th style="{head.format(align=align)}">{html.escape(text)}</th>'
            for text, align in headers
        )
        + "</tr></thead><tbody>"
    )
    notes = kpis_frame.attrs.get("notes") or {}
    reasons: list[str] = []  # footnotes, numbered in order of first use

    def shown_value(kpi: str, column: str, value: object) -> str:
        reason = (notes.get(column) or {}).get(kpi)
        if reason and (value is None or pd.isna(value)):
            if reason not in reasons:
                reasons.append(reason)
            return f"not available ({reasons.index(reason) + 1})"
        return _fmt_value(kpi, value)

    for name, row in kpis_frame.iterrows():
        kpi = str(name)
        label = _m.KPI_LABELS.get(kpi, kpi)
        cells = [
            f'<td style="{cell}">{html.escape(label)}</td>',
            f'<td style="{num}">{html.escape(shown_value(kpi, "value", row.get("value")))}</td>',
        ]
        if has_previous:
            arrow, text, colour = _fmt_change(kpi, row.get("change"), row.get("pct_change"))
            shown = f"{arrow} {text}" if arrow else text
            previous = shown_value(kpi, "previous", row.get("previous"))
            cells.append(f'<td style="{num}">{html.escape(previous)}</td>')
            cells.append(f'<td style="{num}color:{colour};">{html.escape(shown)}</td>')
        parts.append(f'<tr data-kpi="{html.escape(kpi, quote=True)}">' + "".join(cells) + "</tr>")
    parts.append("</tbody>")
    if reasons:
        span = len(headers)
        parts.append("<tfoot>")
        for i, reason in enumerate(reasons, start=1):
            parts.append(
                f'<tr><td colspan="{span}" style="padding:4px 12px;font-size:12px;'
                f'color:#555555;">({i}) {html.escape(reason)}</td></tr>'
            )
        parts.append("</tfoot>")
    parts.append("</table>")
    return "".join(parts)


def channel_mix_chart(frame: pd.DataFrame, *, metric: str = "unique") -> alt.Chart:
    """Daily users per channel, stacked (see :func:`engagement_kit.channels.channel_mix_chart`).

    Users on several channels count in each stack: stacks are channel-users.
    """
    from .channels import channel_mix_chart as draw

    return draw(frame, metric=metric)


# Charts of true retention (sessions-based cohorts) live in their own module; re-exported here.
from .cohort_charts import (  # noqa: E402
    cohort_heatmap,
    lifecycle_chart,
    retention_curves,
    stickiness_chart,
)

__all__ += ["cohort_heatmap", "lifecycle_chart", "retention_curves", "stickiness_chart"]
