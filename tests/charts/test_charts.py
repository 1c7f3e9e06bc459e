"""engagement_kit.charts checked as Vega-Lite specs (``chart.to_dict()``), and the KPI table."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re

import altair as alt
import pandas as pd
import pytest

from engagement_kit import charts
from engagement_kit import charts as c
from engagement_kit import metrics as m
from engagement_kit.charts import renderer
from engagement_kit.config.query import EngagementQuery
from engagement_kit.metrics import cohorts
from engagement_kit.tidy import METRICS, Engagement
from tests.builders import quick_demo_client, trend_frame

NA = pd.NA


@pytest.fixture(autouse=True)
def _restore_theme():
    """Charts may enable the toolkit theme; give every test the theme it started with."""
    before = alt.theme.active
    yield
    alt.theme.enable(before)


# -- builders ----------------------------------------------------------------------------------------


def engagement(trend: pd.DataFrame, *, tz: str = "UTC") -> Engagement:
    days = trend["date"].nunique()
    hourly = trend["hour"].notna().any()
    first, last = trend["date"].min().date(), trend["date"].max().date()
    query = EngagementQuery(
        stream_id="st-1",
        start=first,
        end=last,
        aggregation="hourly" if hourly else "daily",
        tz=tz,
    )
    summary = pd.Series(
        [1, 1, 0, 1 / days, 1 / days, 0], index=list(m.SUMMARY_FIELDS.values()), dtype="Float64"
    )
    return Engagement(
        summary=summary,
        trend=trend,
        filters={"dataPointsCount": days},
        query=query,
        stream_id="st-1",
        tz=tz,
        aggregation="hourly" if hourly else "daily",
    )


DAILY = {"2025-12-01": (4, 1, 3), "2025-12-02": (0, 0, 0), "2025-12-03": (6, 2, 4)}
PREVIOUS = {"2025-11-28": (2, 2, 0), "2025-11-29": (3, 1, 2), "2025-11-30": (5, 5, 0)}


def hourly_wrapping() -> pd.DataFrame:
    # 100 user-hours: 80 % sit in 22:00-01:00, across midnight
    cells = {
        ("2025-12-01", h): (u, u, 0) for h, u in {22: 30, 23: 30, 0: 20, 1: 10, 12: 10}.items()
    }
    return trend_frame(cells, days=["2025-12-01"], hourly=True)


def weeks_frame(n: int = 12, *, days_last: int = 7) -> pd.DataFrame:
    starts = pd.date_range("2025-09-01", periods=n, freq="7D")
    frame = pd.DataFrame(
        {
            "week": [f"{s.isocalendar()[0]}-W{s.isocalendar()[1]:02d}" for s in starts],
            "start": [s.date() for s in starts],
            "end": [(s + pd.Timedelta(days=6)).date() for s in starts],
        }
    )
    for col in m.WEEKLY_METRICS:
        frame[col] = pd.array([100.0 + 10 * i for i in range(n)], dtype="Float64")
    frame["days"] = [7] * (n - 1) + [days_last]
    return frame


# -- spec helpers --------------------------------------------------------------------------------------


def units(spec: dict) -> list[dict]:
    """Every unit (single-mark) spec inside a possibly layered spec."""
    if "layer" in spec:
        return [u for layer in spec["layer"] for u in units(layer)]
    return [spec]


def rows(spec: dict, unit: dict | None = None) -> list[dict]:
    name = ((unit or {}).get("data") or spec.get("data"))["name"]
    return spec["datasets"][name]


def mark_type(unit: dict) -> str:
    mark = unit["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def tooltip_fields(unit: dict) -> list[str]:
    return [t["field"] for t in unit["encoding"]["tooltip"]]


def assert_tooltips_everywhere(spec: dict) -> None:
    for unit in units(spec):
        assert "tooltip" in unit["encoding"], f"{mark_type(unit)} mark without tooltip"
        assert unit["encoding"]["tooltip"], "empty tooltip"


def all_specs() -> dict[str, dict]:
    daily = engagement(trend_frame(DAILY))
    hourly = engagement(hourly_wrapping(), tz="America/New_York")
    spike = trend_frame(
        {
            d: (100 if i != 10 else 300, 0, 0)
            for i, d in enumerate(
                [x.date().isoformat() for x in pd.date_range("2025-11-01", periods=14)]
            )
        }
    )
    return {
        "trend": c.trend_chart(daily, previous=trend_frame(PREVIOUS)).to_dict(),
        "trend_hourly": c.trend_chart(hourly).to_dict(),
        "composition": c.new_vs_returning_chart(daily).to_dict(),
        "heatmap": c.peak_hours_heatmap(hourly).to_dict(),
        "profile": c.hour_profile_chart(hourly).to_dict(),
        "weekly": c.weekly_history_chart(weeks_frame()).to_dict(),
        "anomaly": c.anomaly_chart(spike, min_periods=5).to_dict(),
    }


@pytest.fixture(scope="module")
def specs() -> dict[str, dict]:
    before = alt.theme.active
    try:
        return all_specs()
    finally:
        alt.theme.enable(before)


# -- theme ------------------------------------------------------------------------------------------


def test_theme_registers_once_and_is_idempotent():
    alt.theme.enable("default")
    assert c.register_theme() == c.THEME_NAME
    assert c.register_theme() == c.THEME_NAME
    assert alt.theme.names().count(c.THEME_NAME) == 1
    assert alt.theme.active == "default"  # registering alone does not switch themes
    assert c.use_theme() == c.THEME_NAME
    assert c.use_theme() == c.THEME_NAME
    assert alt.theme.active == c.THEME_NAME
    assert alt.theme.get() is c.theme_config  # the first registration, not a copy
    config = c.trend_chart(trend_frame(DAILY)).to_dict()["config"]
    assert config["font"] == c.FONT
    assert config["range"]["category"][:3] == [c.METRIC_COLORS[m] for m in METRICS]
    assert config["axis"]["labelFontSize"] >= 12 and config["title"]["fontSize"] >= 14
    assert config["mark"]["tooltip"] == {"content": "encoding"}


def test_building_a_chart_keeps_a_theme_the_user_chose():
    alt.theme.enable("dark")
    spec = c.trend_chart(trend_frame(DAILY)).to_dict()
    assert alt.theme.active == "dark"
    colors = spec["encoding"]["color"]["scale"]
    assert colors["range"] == [c.METRIC_COLORS[m] for m in METRICS]  # fixed in the spec itself
    alt.theme.enable("default")
    c.trend_chart(trend_frame(DAILY))
    assert alt.theme.active == c.THEME_NAME  # default theme: ours takes over


# -- trend ----------------------------------------------------------------------------------------------


def test_trend_chart_spec(specs):
    spec = specs["trend"]
    assert mark_type(spec) == "line"
    enc = spec["encoding"]
    assert enc["x"]["field"] == "time" and enc["x"]["type"] == "temporal"
    assert enc["x"]["scale"] == {"type": "utc"}
    assert enc["y"]["field"] == "users"
    assert enc["color"]["scale"] == {
        "domain": ["unique", "new", "returning"],
        "range": ["#0072B2", "#E69F00", "#009E73"],
    }
    assert enc["strokeDash"]["field"] == "period"
    assert tooltip_fields(spec) == ["when", "label", "users", "period"]
    data = rows(spec)
    assert len(data) == 2 * 3 * 3  # two periods x three metrics x three days
    current = [r for r in data if r["period"] == "current" and r["metric"] == "returning"]
    assert [(r["time"], r["users"]) for r in current] == [
        ("2025-12-01T00:00:00Z", 3),
        ("2025-12-02T00:00:00Z", 0),
        ("2025-12-03T00:00:00Z", 4),
    ]
    assert current[0]["when"] == "Mon 01 Dec 2025"
    # the previous period is aligned by day offset, and keeps its real dates in the tooltip
    prev = [r for r in data if r["period"] == "previous" and r["metric"] == "unique"]
    assert [(r["time"], r["when"], r["users"]) for r in prev] == [
        ("2025-12-01T00:00:00Z", "Fri 28 Nov 2025", 2),
        ("2025-12-02T00:00:00Z", "Sat 29 Nov 2025", 3),
        ("2025-12-03T00:00:00Z", "Sun 30 Nov 2025", 5),
    ]
    assert "UTC" in enc["x"]["title"]


def test_trend_chart_hourly_wall_clock_and_metric_subset(specs):
    spec = specs["trend_hourly"]
    data = rows(spec)
    assert len(data) == 24 * 3
    times = [r["time"] for r in data if r["metric"] == "unique"]
    assert times[0] == "2025-12-01T00:00:00Z" and times[-1] == "2025-12-01T23:00:00Z"
    assert "strokeDash" not in spec["encoding"]
    assert spec["encoding"]["x"]["title"] == "Hour (America/New_York)"
    only_new = c.trend_chart(trend_frame(DAILY), metrics=["new"]).to_dict()
    assert only_new["encoding"]["color"]["scale"] == {"domain": ["new"], "range": ["#E69F00"]}
    assert {r["metric"] for r in rows(only_new)} == {"new"}


# -- composition ---------------------------------------------------------------------------------------


def test_new_vs_returning_chart_spec(specs):
    spec = specs["composition"]
    assert mark_type(spec) == "bar"
    enc = spec["encoding"]
    assert enc["y"]["stack"] == "zero"
    assert enc["color"]["scale"] == {
        "domain": ["new", "returning"],
        "range": ["#E69F00", "#009E73"],
    }
    assert enc["order"]["field"] == "order"
    assert tooltip_fields(spec) == ["when", "label", "users", "share"]
    data = rows(spec)
    first_day = {
        r["metric"]: (r["users"], r["share"]) for r in data if r["time"].startswith("2025-12-01")
    }
    assert first_day == {"new": (1, 0.25), "returning": (3, 0.75)}
    empty_day = [r["share"] for r in data if r["time"].startswith("2025-12-02")]
    assert empty_day == [None, None]  # 0 / 0 is no share, not NaN
    normal = c.new_vs_returning_chart(trend_frame(DAILY), normalize=True).to_dict()
    assert normal["encoding"]["y"]["stack"] == "normalize"


def test_metric_colours_are_the_same_in_every_chart(specs):
    trend = specs["trend"]["encoding"]["color"]["scale"]
    comp = specs["composition"]["encoding"]["color"]["scale"]
    colours = dict(zip(trend["domain"], trend["range"], strict=True))
    assert dict(zip(comp["domain"], comp["range"], strict=True)) == {
        k: colours[k] for k in ("new", "returning")
    }
    assert specs["profile"]["mark"]["color"] == colours["unique"]
    assert specs["weekly"]["mark"]["color"] == colours["unique"]
    line = next(u for u in units(specs["anomaly"]) if mark_type(u) == "line")
    assert line["mark"]["color"] == colours["unique"]
    new_profile = c.hour_profile_chart(hourly_wrapping(), metric="new").to_dict()
    assert new_profile["mark"]["color"] == colours["new"]
    assert (
        c.weekly_history_chart(weeks_frame(), metric="returning_users").to_dict()["mark"]["color"]
        == colours["returning"]
    )


# -- peak hours -----------------------------------------------------------------------------------------


def test_peak_hours_heatmap_marks_the_wrapping_coverage_window(specs):
    spec = specs["heatmap"]
    heat, outline = units(spec)
    assert mark_type(heat) == "rect"
    enc = heat["encoding"]
    assert (enc["x"]["field"], enc["x2"]["field"], enc["y"]["field"]) == (
        "hour",
        "hour_end",
        "weekday",
    )
    assert enc["y"]["sort"] == list(m.WEEKDAYS)
    assert enc["x"]["axis"]["title"] == "Hour of day (America/New_York)"
    assert enc["color"]["field"] == "users"
    assert tooltip_fields(heat) == ["weekday", "hours", "users"]
    cells = rows(spec, heat)
    assert len(cells) == 24  # one Monday in the data; other weekdays have no cells
    assert {(r["hour"], r["users"]) for r in cells if r["users"]} == {
        (22, 30.0),
        (23, 30.0),
        (0, 20.0),
        (1, 10.0),
        (12, 10.0),
    }
    assert mark_type(outline) == "rect"
    assert outline["mark"]["stroke"] == c.HIGHLIGHT_COLOR and outline["mark"]["fillOpacity"] == 0
    assert tooltip_fields(outline) == ["window", "share", "length"]
    segments = [(r["start"], r["end"]) for r in rows(spec, outline)]
    assert segments == [(22, 24), (0, 1)]  # 22:00-01:00 drawn in two pieces
    assert rows(spec, outline)[0]["window"] == "22:00–01:00"
    assert "22:00–01:00" in spec["title"]["subtitle"] and "80%" in spec["title"]["subtitle"]


def test_peak_hours_heatmap_without_users_and_with_daily_data():
    zeros = trend_frame({}, days=["2025-12-01"], hourly=True)
    spec = c.peak_hours_heatmap(zeros).to_dict()
    assert "layer" not in spec and mark_type(spec) == "rect"
    assert spec["title"]["subtitle"] == "No users in this period"
    daily = c.peak_hours_heatmap(trend_frame(DAILY)).to_dict()
    assert mark_type(daily) == "text"
    assert "hourly" in rows(daily)[0]["message"]


def test_hour_profile_chart_spec(specs):
    spec = specs["profile"]
    assert mark_type(spec) == "line"
    enc = spec["encoding"]
    assert enc["strokeDash"]["field"] == "day_type"
    assert enc["strokeDash"]["scale"]["domain"] == ["weekday", "weekend"]
    assert tooltip_fields(spec) == ["day_type", "hours", "users", "share"]
    data = rows(spec)
    assert {r["day_type"] for r in data} == {"weekday"}  # a Monday only: no weekend rows
    assert [r["users"] for r in data if r["hour"] in (22, 12)] == [10.0, 30.0]


# -- weekly history ------------------------------------------------------------------------------------


def test_weekly_history_chart_highlights_the_current_week(specs):
    spec = specs["weekly"]
    assert mark_type(spec) == "bar"
    enc = spec["encoding"]
    data = rows(spec)
    assert len(data) == 12
    assert enc["x"]["field"] == "week" and enc["x"]["sort"] == [r["week"] for r in data]
    assert [r["week"] for r in data] == sorted(r["week"] for r in data)
    assert [r["current"] for r in data] == [False] * 11 + [True]
    assert enc["stroke"]["scale"]["range"] == ["transparent", c.HIGHLIGHT_COLOR]
    assert enc["opacity"]["field"] == "current"
    assert tooltip_fields(spec) == ["week", "from", "to", "value", "change", "pct_change", "days"]
    assert data[0]["change"] is None and data[1]["change"] == 10.0
    assert data[1]["pct_change"] == pytest.approx(0.1)
    assert data[0]["from"] == "Mon 01 Sep 2025"
    picked = c.weekly_history_chart(weeks_frame(), current_week="2025-W40").to_dict()
    assert [r["week"] for r in rows(picked) if r["current"]] == ["2025-W40"]


# -- anomalies ------------------------------------------------------------------------------------------


def test_anomaly_chart_layers(specs):
    spec = specs["anomaly"]
    band, line, points = units(spec)
    assert [mark_type(u) for u in (band, line, points)] == ["area", "line", "point"]
    assert band["encoding"]["y2"]["field"] == "high"
    assert points["mark"]["color"] == c.HIGHLIGHT_COLOR
    assert points["transform"] == [{"filter": "datum.is_anomaly"}]
    flagged = [r for r in rows(spec) if r["is_anomaly"]]
    assert [(r["when"], r["value"], r["direction"]) for r in flagged] == [
        ("Tue 11 Nov 2025", 300.0, "up")
    ]


# -- every chart --------------------------------------------------------------------------------------


def test_every_mark_has_a_tooltip(specs):
    assert len(specs) == 7
    for spec in specs.values():
        assert_tooltips_everywhere(spec)


@pytest.mark.parametrize(
    "build",
    [
        lambda t: c.trend_chart(t),
        lambda t: c.trend_chart(t, previous=t),
        lambda t: c.new_vs_returning_chart(t),
        lambda t: c.peak_hours_heatmap(t),
        lambda t: c.hour_profile_chart(t),
        lambda t: c.anomaly_chart(t),
        lambda t: c.weekly_history_chart(weeks_frame().iloc[0:0]),
    ],
)
def test_empty_data_says_so(build):
    empty = trend_frame(DAILY).iloc[0:0]
    spec = build(empty).to_dict()
    assert mark_type(spec) == "text"
    assert rows(spec) == [{"message": c.NO_DATA_TEXT}]
    assert_tooltips_everywhere(spec)


def test_builders_do_not_mutate_and_are_deterministic(specs):
    first = json.dumps(specs, sort_keys=True)
    assert json.dumps(all_specs(), sort_keys=True) == first  # rebuilt from scratch: same spec
    for pattern in (r"altair-viz", r"param_\d", r"view_\d", r"NaN"):
        assert not re.search(pattern, first), pattern
    trend, hourly, weeks = trend_frame(DAILY), hourly_wrapping(), weeks_frame()
    daily = engagement(trend)
    before = [x.copy(deep=True) for x in (trend, hourly, weeks)]
    c.trend_chart(daily, previous=trend).to_dict()
    c.new_vs_returning_chart(trend)
    c.peak_hours_heatmap(hourly)
    c.hour_profile_chart(hourly)
    c.weekly_history_chart(weeks)
    c.anomaly_chart(trend, min_periods=1)
    for frame, copy in zip((trend, hourly, weeks), before, strict=True):
        pd.testing.assert_frame_equal(frame, copy)
    pd.testing.assert_frame_equal(daily.trend, before[0])
    # the embedded data is already aggregated: the heatmap embeds cells, not raw buckets
    heat = c.peak_hours_heatmap(engagement(hourly)).to_dict()
    assert sum(len(v) for v in heat["datasets"].values()) <= 7 * 24 + 2


# -- KPI table --------------------------------------------------------------------------------------


def test_kpi_table_html_arrows_colours_and_formats():
    current = engagement(trend_frame(DAILY))
    previous = engagement(trend_frame(PREVIOUS))
    table = m.kpis(current, previous)
    table.loc["unique_users", ["value", "previous", "change", "pct_change"]] = [
        1200,
        1000,
        200,
        0.2,
    ]
    table.loc["new_users", ["value", "previous", "change", "pct_change"]] = [90, 100, -10, -0.1]
    table.loc["returning_users", ["value", "previous", "change", "pct_change"]] = [5, 0, 5, NA]
    table.loc["returning_share", ["value", "previous", "change", "pct_change"]] = [
        0.5,
        0.25,
        0.25,
        1.0,
    ]
    table.loc["stickiness", ["value", "previous", "change", "pct_change"]] = [0.3, 0.3, 0, 0]
    out = c.kpi_table_html(table, title="Week 2025-W49")
    row = {
        name: re.search(rf'<tr data-kpi="{name}">(.*?)</tr>', out).group(1)
        for name in (
            "unique_users",
            "new_users",
            "returning_users",
            "returning_share",
            "stickiness",
        )
    }
    assert "1,200" in row["unique_users"] and "▲ +200 (+20.0 %)" in row["unique_users"]
    assert f"color:{c.UP_COLOR}" in row["unique_users"]
    assert "▼ −10 (−10.0 %)" in row["new_users"] and f"color:{c.DOWN_COLOR}" in row["new_users"]
    assert "▲ +5<" in row["returning_users"]  # no percentage from zero
    assert "50.0 %" in row["returning_share"] and "▲ +25.0 pp (+100.0 %)" in row["returning_share"]
    assert "▲" not in row["stickiness"] and "▼" not in row["stickiness"]
    assert ">0.0 pp (0.0 %)<" in row["stickiness"]
    assert out.startswith('<table class="ek-kpis"') and out.endswith("</table>")
    assert "<caption" in out and "Week 2025-W49" in out
    for forbidden in ("<link", "<script", "<style", "http://", "https://", 'class="ek-kpis" href'):
        assert forbidden not in out


def test_kpi_table_html_escapes_text_and_handles_no_previous():
    frame = pd.DataFrame(
        {"value": [1.0], "previous": [NA], "change": [NA], "pct_change": [NA]},
        index=pd.Index(['<script>alert("x")</script>'], name="kpi"),
    ).astype("Float64")
    out = c.kpi_table_html(frame, title="A & B <i>", value_label="Week <1>")
    assert "<script>" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out
    assert "A &amp; B &lt;i&gt;" in out and "Week &lt;1&gt;" in out
    assert "Previous" not in out and "Change" not in out  # no previous period: two columns
    assert len(re.findall(r"<th[ >]", out)) == 2
    nothing = m.kpis(engagement(trend_frame(DAILY)))
    nothing.loc["stickiness", "value"] = NA
    assert '<tr data-kpi="stickiness"><td' in c.kpi_table_html(nothing)
    assert ">n/a</td></tr>" in c.kpi_table_html(nothing)


def test_long_ranges_are_summed_to_keep_the_spec_small():
    days = [d.date().isoformat() for d in pd.date_range("2025-01-01", periods=70)]
    hourly = trend_frame({(d, 9): (2, 1, 1) for d in days}, days=days, hourly=True)
    assert len(hourly) // 3 > c.MAX_POINTS  # 1,680 hourly buckets
    spec = c.trend_chart(hourly).to_dict()
    data = rows(spec)
    assert len(data) == 70 * 3
    assert {r["users"] for r in data if r["metric"] == "unique"} == {2}
    assert spec["encoding"]["x"]["title"] == "Day"
    assert "summed per day" in spec["title"]["subtitle"]
    comp = c.new_vs_returning_chart(hourly).to_dict()
    assert len(rows(comp)) == 70 * 2

    many = [d.date().isoformat() for d in pd.date_range("2020-01-06", periods=1512)]  # 216 weeks
    daily = trend_frame({d: (1, 1, 0) for d in many}, days=many)
    spec = c.trend_chart(daily).to_dict()
    weekly = [r for r in rows(spec) if r["metric"] == "new"]
    assert len(weekly) == 216 and {r["users"] for r in weekly} == {7}
    assert weekly[0]["time"] == "2020-01-06T00:00:00Z"  # a Monday
    assert spec["encoding"]["x"]["title"] == "Week"
    assert "summed per week" in spec["title"]["subtitle"]


def test_setup_notebook_enables_renderer_and_theme():
    import altair as alt

    import engagement_kit as ek
    from engagement_kit import charts

    before = alt.renderers.active
    try:
        assert ek.setup_notebook() == "svg"
        assert alt.renderers.active == "svg"
        assert alt.theme.active == charts.THEME_NAME
        assert charts.setup_notebook(renderer="report") == "report"
        assert alt.renderers.active == renderer.RENDERER_NAME
        with pytest.raises(ValueError, match="not an altair renderer"):
            charts.setup_notebook(renderer="nope")
    finally:
        alt.renderers.enable(before)


def test_skip_slow_optional_imports_in_a_fresh_process():
    import subprocess
    import sys

    code = (
        "import sys; from engagement_kit.charts import skip_slow_optional_imports; "
        "skip_slow_optional_imports(); import altair; "
        "print(sys.modules['rfc3987_syntax'] is None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# -- Tests that close the gaps mutation testing found in the charts (see benchmarks/MUTATION.md):

NOW = dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC).timestamp()


@pytest.fixture(autouse=True)
def _restore_theme_2():
    before = alt.theme.active
    yield
    alt.theme.enable(before)


def engagement_2(trend: pd.DataFrame, tz: str = "UTC") -> Engagement:
    hourly = trend["hour"].notna().any()
    query = EngagementQuery(
        stream_id="st-1",
        start=trend["date"].min().date(),
        end=trend["date"].max().date(),
        aggregation="hourly" if hourly else "daily",
        tz=tz,
    )
    summary = pd.Series(
        [1, 1, 0, 0.5, 0.5, 0], index=list(m.SUMMARY_FIELDS.values()), dtype="Float64"
    )
    return Engagement(
        summary=summary,
        trend=trend,
        filters={},
        query=query,
        stream_id="st-1",
        tz=tz,
        aggregation="hourly" if hourly else "daily",
    )


@functools.cache
def sessions() -> pd.DataFrame:
    with quick_demo_client(NOW) as client:
        return client.fetch_sessions(
            "st-demo-hr-us", "2025-02-03", "2025-03-30", tz="UTC", cache=False, progress=False
        )


def daily_spike() -> pd.DataFrame:
    days = [d.date().isoformat() for d in pd.date_range("2025-11-01", periods=14)]
    return trend_frame({d: (100 if i != 10 else 300, 10, 90) for i, d in enumerate(days)})


def hourly_week() -> pd.DataFrame:
    data = {}
    for day in pd.date_range("2025-12-01", periods=7):
        for hour in range(24):
            n = 5 + (20 if 9 <= hour <= 17 else 0) + (day.weekday() < 5) * 3
            data[(day.date().isoformat(), hour)] = (n, 1, n - 1)
    return trend_frame(data, hourly=True)


def weeks() -> pd.DataFrame:
    labels = [f"2025-W{n:02d}" for n in range(40, 48)]
    starts = pd.date_range("2025-09-29", periods=8, freq="7D")
    values = [100 + 10 * i for i in range(8)]
    return pd.DataFrame(
        {
            "week": labels,
            "start": starts,
            "end": starts + pd.Timedelta(days=6),
            "days": [7] * 8,
            "unique_users": pd.array(values, dtype="Int64"),
            "new_users": pd.array([v // 2 for v in values], dtype="Int64"),
            "returning_users": pd.array([v - v // 2 for v in values], dtype="Int64"),
            "avg_unique_users_per_day": pd.array([v / 7 for v in values], dtype="Float64"),
            "avg_new_users_per_day": pd.array([v / 14 for v in values], dtype="Float64"),
            "avg_returning_users_per_day": pd.array([v / 14 for v in values], dtype="Float64"),
        }
    )


def channel_frame() -> pd.DataFrame:
    rows = []
    for channel in ("rtm", "slack"):
        for day in pd.date_range("2025-12-01", periods=3):
            for metric, users in (("unique", 10), ("new", 3), ("returning", 7)):
                rows.append({"channel": channel, "date": day, "metric": metric, "users": users})
    frame = pd.DataFrame(rows)
    frame["channel"] = pd.Categorical(frame["channel"], categories=["rtm", "slack"])
    frame.attrs["summaries"] = {}
    return frame


def _triangle() -> pd.DataFrame:
    return cohorts.cohort_retention(sessions(), "week", horizon=4)


BUILDERS = {
    "trend": lambda: charts.trend_chart(engagement_2(daily_spike())),
    "composition": lambda: charts.new_vs_returning_chart(engagement_2(daily_spike())),
    "heatmap": lambda: charts.peak_hours_heatmap(engagement_2(hourly_week())),
    "profile": lambda: charts.hour_profile_chart(engagement_2(hourly_week())),
    "weekly": lambda: charts.weekly_history_chart(weeks()),
    "anomaly": lambda: charts.anomaly_chart(daily_spike(), min_periods=5),
    "channels": lambda: charts.channel_mix_chart(channel_frame()),
    "cohort_heatmap": lambda: charts.cohort_heatmap(_triangle()),
    "curves": lambda: charts.retention_curves(_triangle()),
    "lifecycle": lambda: charts.lifecycle_chart(cohorts.lifecycle(sessions(), "week")),
    "stickiness": lambda: charts.stickiness_chart(cohorts.stickiness_histogram(sessions())),
}


@pytest.fixture
def specs_2():
    """Each chart's spec, built inside the test that reads it (so mutation testing knows which
    test reaches which chart builder); the session log behind the cohort charts is cached."""

    class Specs(dict):
        def __missing__(self, name):
            self[name] = BUILDERS[name]().to_dict()
            return self[name]

    return Specs()


def _units(spec: dict, data: str | None = None, extra: frozenset = frozenset()):
    """(unit spec, its dataset name, fields its transforms add), through layers and concats."""
    data = (spec.get("data") or {}).get("name", data)
    added = set(extra)
    for t in spec.get("transform", []):
        for key in ("as", "calculate"):
            if key == "as":
                value = t.get("as")
                added.update(value if isinstance(value, list) else [value] if value else [])
        for agg in t.get("aggregate", []) + t.get("window", []) + t.get("joinaggregate", []):
            added.add(agg.get("as"))
        added.update(t.get("groupby", []))
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for part in spec.get(key, []):
            yield from _units(part, data, frozenset(added))
    if "mark" in spec:
        yield spec, data, added


def _channels(encoding: dict):
    for channel, value in encoding.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                yield channel, item


NAMES = [
    "trend",
    "composition",
    "heatmap",
    "profile",
    "weekly",
    "anomaly",
    "channels",
    "cohort_heatmap",
    "curves",
    "lifecycle",
    "stickiness",
]


@pytest.mark.parametrize("name", NAMES)
def test_each_charts_encoded_fields_are_in_its_data(specs_2, name):
    spec = specs_2[name]
    checked = 0
    for unit, data, added in _units(spec):
        rows = spec["datasets"][data] if data else []
        if not rows:
            continue
        columns = set(rows[0]) | added
        for channel, item in _channels(unit.get("encoding", {})):
            if "field" in item:
                assert item["field"] in columns, f"{name}: {channel} field {item['field']!r}"
                checked += 1
    assert checked, f"{name}: no encoded field checked"


AXIS_TITLES = {  # what the reader sees on each axis (None: the labels speak for themselves)
    "trend": ("Day (UTC)", "Users"),
    "composition": ("Day (UTC)", "Users"),
    "weekly": ("ISO week", "Unique users"),
    "anomaly": ("Day", "Unique users"),
    "channels": ("Day", "Unique users"),
    "cohort_heatmap": ("Weeks since first seen", None),
    "curves": ("Weeks since first seen", "Retained"),
    "lifecycle": ("Week starting", "Users (dormant below zero)"),
    "stickiness": ("Days active in the week", "Share of the week's users"),
    "profile": (None, "Mean unique users per day"),
}


@pytest.mark.parametrize("name", sorted(AXIS_TITLES))
def test_each_charts_axes_say_what_they_show(specs_2, name):
    found = {"x": set(), "y": set()}
    for unit, _, _ in _units(specs_2[name]):
        for channel in found:
            item = unit.get("encoding", {}).get(channel)
            if isinstance(item, dict) and "field" in item and item.get("title") is not None:
                found[channel].add(item["title"])
    want_x, want_y = AXIS_TITLES[name]
    assert found["x"] == ({want_x} if want_x else set())
    assert found["y"] == ({want_y} if want_y else set())


@pytest.mark.parametrize("name", NAMES)
def test_each_charts_tooltips_show_fields_the_point_has(specs_2, name):
    # an encoded tooltip field missing from the data would show an empty line
    shown = 0
    for unit, data, added in _units(specs_2[name]):
        rows = specs_2[name]["datasets"][data] if data else []
        for channel, item in _channels(unit.get("encoding", {})):
            if channel == "tooltip" and rows:
                assert item["field"] in set(rows[0]) | added
                # a title in words, not a raw column name like "day_type" (Vega-Lite shows the
                # field's name when there is no title; a plain word such as "users" reads fine)
                title = item.get("title") or item["field"]
                assert title and "_" not in title, f"{name}: tooltip {item['field']} untitled"
                shown += 1
    assert shown, f"{name}: no tooltip"


def test_stickiness_chart_says_over_how_many_weeks_and_histogram_dtypes():
    histogram = cohorts.stickiness_histogram(sessions())
    assert histogram["active_days"].dtype == "int64"
    weeks = histogram["week"].nunique()
    assert weeks > 1
    spec = charts.stickiness_chart(histogram).to_dict()
    assert spec["title"]["subtitle"] == (
        f"Over {weeks} complete week(s); a user counts once per week"
    )


def test_a_title_given_to_the_anomaly_chart_is_used():
    spec = charts.anomaly_chart(daily_spike(), min_periods=5, title="Spikes").to_dict()
    title = spec["title"]
    assert (title if isinstance(title, str) else title["text"]) == "Spikes"
