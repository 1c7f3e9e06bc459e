"""Cohorts, lifecycle, stickiness and the UET cross-check: property tests over random ranges,
zones and filters against a plain recomputation (sets and loops) from the demo's session log,
and the sessions-based daily counts against the demo trend API for every day."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections import defaultdict

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement_kit import metrics
from engagement_kit.demo import session_log
from engagement_kit.demo.sessions import get_stream
from engagement_kit.demo.sessions_api import user_ids
from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics import cohorts
from tests.builders import quick_demo_client

NOW = dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC).timestamp()
STREAM = "st-demo-hr-us"
FIRST, LAST = dt.date(2024, 12, 31), dt.date(2025, 4, 15)
ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Europe/Berlin", "Pacific/Auckland"]


def client():
    return quick_demo_client(NOW)


@functools.cache
def all_sessions() -> pd.DataFrame:
    """One download (UTC) from before the log's first day; every test cuts from it."""
    with client() as c:
        # a day more at both ends: every zone's local days FIRST..LAST are then whole
        return c.fetch_sessions(
            STREAM,
            FIRST - dt.timedelta(days=1),
            LAST + dt.timedelta(days=1),
            tz="UTC",
            cache=False,
            progress=False,
        )


@functools.cache
def the_log() -> pd.DataFrame:
    log = session_log(STREAM, LAST + dt.timedelta(days=2), now=NOW)
    log = log.assign(user=user_ids(get_stream(STREAM), log["user_id"].to_numpy()))
    return log


def cut(tz: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """What fetch_sessions(tz=tz) returns for start..end (same rows, same attrs)."""
    frame = all_sessions().copy()
    frame["start"] = frame["start"].dt.tz_convert(tz)
    frame["end"] = frame["end"].dt.tz_convert(tz)
    day = frame["start"].dt.date
    frame = frame[(day >= start) & (day <= end)].reset_index(drop=True)
    frame.attrs = {"tz": tz, "start": start.isoformat(), "end": end.isoformat()}
    return frame


# -- the plain recomputation -------------------------------------------------------------------
def period_of(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(p: dt.date, period: str) -> dt.date:
    if period == "day":
        return p + dt.timedelta(days=1)
    if period == "week":
        return p + dt.timedelta(days=7)
    return (p + dt.timedelta(days=32)).replace(day=1)


def plain(tz, start, end, channels=None, session_type=None):
    """(first-seen day per user, set of (user, local day) after the filters), from the log."""
    log = the_log()
    local = log["instant"].dt.tz_convert(tz).dt.date
    inside = log[(local >= start) & (local <= end)]
    days = local[(local >= start) & (local <= end)]
    first: dict[str, dt.date] = {}
    active: set[tuple[str, dt.date]] = set()
    for user, day, channel, kind in zip(
        inside["user"], days, inside["channel"], inside["conversation_type"], strict=True
    ):
        first[user] = min(first.get(user, day), day)
        if channels and channel not in channels:
            continue
        if session_type and kind.replace("_", "-") != session_type:
            continue
        active.add((user, day))
    return first, active


def complete_periods(start, end, period):
    p = period_of(start, period)
    if p < start:
        p = next_period(p, period)
    out = []
    while next_period(p, period) - dt.timedelta(days=1) <= end:
        out.append(p)
        p = next_period(p, period)
    return out


def plain_triangle(tz, start, end, period, kind, horizon, **filters):
    first, active = plain(tz, start, end, **filters)
    # the last period that has ended by the data's last day (the first may start before it)
    ended = [period_of(start + dt.timedelta(days=i), period) for i in range((end - start).days + 1)]
    ended = [q for q in ended if next_period(q, period) - dt.timedelta(days=1) <= end]
    last = max(ended) if ended else None
    by_user = defaultdict(set)
    for user, day in active:
        by_user[user].add(period_of(day, period))
    cohorts_: dict[dt.date, list[str]] = defaultdict(list)
    for user, day in first.items():
        cohorts_[period_of(day, period)].append(user)
    rows = []
    for c in sorted(cohorts_):
        if last is None or c > last:
            continue
        p, k = c, 0
        while p <= last and (horizon is None or k <= horizon):
            users = cohorts_[c]
            if kind == "on":
                n = sum(p in by_user[u] for u in users)
            else:
                n = sum(any(q >= p for q in by_user[u]) for u in users)
            rows.append((pd.Timestamp(c), k, len(users), n))
            p, k = next_period(p, period), k + 1
    return rows


days_strategy = st.tuples(
    st.integers(0, (LAST - FIRST).days - 2), st.integers(1, (LAST - FIRST).days)
).map(lambda t: (FIRST + dt.timedelta(days=t[0]), min(LAST, FIRST + dt.timedelta(sum(t)))))
filters_strategy = st.fixed_dictionaries(
    {},
    optional={
        "channels": st.sampled_from([("msteams",), ("rtm", "email")]),
        "session_type": st.sampled_from(["interactive", "non-interactive"]),
    },
)


@given(
    days=days_strategy,
    tz=st.sampled_from(ZONES),
    period=st.sampled_from(["day", "week", "month"]),
    kind=st.sampled_from(["on", "on_or_after"]),
    horizon=st.none() | st.integers(0, 6),
    filters=filters_strategy,
)
def test_cohort_retention_equals_a_plain_recomputation(days, tz, period, kind, horizon, filters):
    start, end = days
    frame = cohorts.cohort_retention(cut(tz, start, end), period, kind, horizon, **filters)
    got = list(
        zip(frame["cohort"], frame["offset"], frame["users"], frame["retained"], strict=True)
    )
    assert got == plain_triangle(tz, start, end, period, kind, horizon, **filters)
    if len(frame):
        assert ((frame["rate"] >= 0) & (frame["rate"] <= 1)).all()
        assert (frame["retained"] <= frame["users"]).all()


@given(
    days=days_strategy,
    tz=st.sampled_from(ZONES),
    period=st.sampled_from(["day", "week", "month"]),
    filters=filters_strategy,
)
def test_lifecycle_equals_a_plain_recomputation(days, tz, period, filters):
    start, end = days
    frame = cohorts.lifecycle(cut(tz, start, end), period, **filters)
    first, active = plain(tz, start, end, **filters)
    in_period = defaultdict(set)
    for user, day in active:
        in_period[period_of(day, period)].add(user)
    expected = []
    periods = complete_periods(start, end, period)
    for before, p in itertools.pairwise(periods):
        now = in_period[p]
        new = {u for u in now if period_of(first[u], period) == p}
        expected += [
            (pd.Timestamp(p), "new", len(new)),
            (pd.Timestamp(p), "returning", len((now - new) & in_period[before])),
            (pd.Timestamp(p), "resurrecting", len(now - new - in_period[before])),
            (pd.Timestamp(p), "dormant", -len(in_period[before] - now)),
        ]
    assert list(zip(frame["period"], frame["status"], frame["users"], strict=True)) == expected


@given(days=days_strategy, tz=st.sampled_from(ZONES), filters=filters_strategy)
def test_stickiness_histogram_counts_users_by_active_days(days, tz, filters):
    start, end = days
    frame = cohorts.stickiness_histogram(cut(tz, start, end), **filters)
    _, active = plain(tz, start, end, **filters)
    per_user = defaultdict(int)
    for user, day in active:
        per_user[(period_of(day, "week"), user)] += 1
    weeks = set(complete_periods(start, end, "week"))
    expected = defaultdict(int)
    for (week, _), n in per_user.items():
        if week in weeks:
            expected[(pd.Timestamp(week), n)] += 1
    got = {
        (w, d): u
        for w, d, u in zip(frame["week"], frame["active_days"], frame["users"], strict=True)
        if u
    }
    assert got == dict(expected)


# -- the cross-check with the trend API --------------------------------------------------------
@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    "filters",
    [{}, {"channels": ["msteams"]}, {"conversation_type": "interactive"}],
    ids=["all", "msteams", "interactive"],
)
def test_sessions_daily_counts_equal_the_trend_api_for_every_day(tz, filters):
    start, end = dt.date(2025, 1, 1), dt.date(2025, 4, 14)
    sessions = cut(tz, start, end)
    session_filters = {
        "channels": filters.get("channels"),
        "session_type": filters.get("conversation_type"),
    }
    counts = cohorts.daily_user_counts(sessions, **session_filters)
    with client() as c:
        api = c.fetch(STREAM, start, end, tz=tz, aggregation="daily", **filters)
    check = cohorts.cross_check(counts, api)
    assert len(check) == (end - start).days + 1
    assert check.attrs["ok"], check[check.filter(like="_diff").ne(0).any(axis=1)]
    assert check["unique"].sum() > 0


def test_the_cross_check_reports_a_difference():
    sessions = cut("UTC", dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    counts = cohorts.daily_user_counts(sessions, include_developer=True)  # developers counted
    with client() as c:
        api = c.fetch(STREAM, "2025-01-01", "2025-01-31", tz="UTC", aggregation="daily")
    check = cohorts.cross_check(counts, api)
    assert not check.attrs["ok"]
    assert (check["unique_diff"] >= 0).all() and check["unique_diff"].sum() > 0


# -- the API surface ---------------------------------------------------------------------------
def test_metrics_re_exports_the_cohort_functions():
    assert metrics.cohort_retention is cohorts.cohort_retention
    assert metrics.lifecycle is cohorts.lifecycle
    assert metrics.stickiness_histogram is cohorts.stickiness_histogram


def test_bad_arguments_get_clear_errors():
    sessions = cut("UTC", dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    with pytest.raises(InvalidQueryError, match="period"):
        cohorts.cohort_retention(sessions, "year")
    with pytest.raises(InvalidQueryError, match="kind"):
        cohorts.cohort_retention(sessions, "week", "after")
    with pytest.raises(InvalidQueryError, match="horizon"):
        cohorts.cohort_retention(sessions, "week", horizon=-1)
    with pytest.raises(InvalidQueryError, match="missing column"):
        cohorts.cohort_retention(sessions.drop(columns="user_id"))
    with pytest.raises(TypeError, match="fetch_sessions"):
        cohorts.lifecycle([1, 2])
    with pytest.raises(InvalidQueryError, match="session_type"):
        cohorts.filter_sessions(sessions, session_type="chatty")


def test_cohorts_near_the_start_of_the_data_are_flagged_possibly_censored():
    sessions = cut("UTC", dt.date(2025, 2, 3), dt.date(2025, 4, 13))
    frame = cohorts.cohort_retention(sessions, "week")
    flagged = frame.groupby("cohort")["possibly_censored"].first()
    assert flagged.loc["2025-02-03"] and flagged.loc["2025-02-24"]
    assert not flagged.loc["2025-03-03"]


# -- charts ------------------------------------------------------------------------------------
def test_cohort_charts_draw_the_triangle_curves_lifecycle_and_stickiness():
    from engagement_kit import charts

    sessions = cut("Asia/Kolkata", dt.date(2025, 1, 6), dt.date(2025, 3, 30))
    triangle = cohorts.cohort_retention(sessions, "week", horizon=6)
    spec = charts.cohort_heatmap(triangle).to_dict()
    heat, text = spec["layer"]
    assert heat["mark"]["type"] == "rect" and heat["encoding"]["color"]["field"] == "rate"
    titles = {t["title"] for t in heat["encoding"]["tooltip"]}
    assert {"Users in cohort", "Retained users", "Retention"} <= titles
    assert text["encoding"]["text"]["field"] == "percent"
    # the percentage over a cell's centre shows the cell's tooltip, not the label's fields
    assert text["encoding"]["tooltip"] == heat["encoding"]["tooltip"]
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == len(triangle) and rows[0]["percent"] == "100%"
    assert any(r["label"].endswith("*") for r in rows)  # censored cohorts marked
    # offset 0 (100 % by definition) is grey, outside the scale, whose top is the best later
    # rate rounded up to a tenth, so that 12 % and 18 % do not look alike next to 100 %
    colour = heat["encoding"]["color"]
    assert colour["condition"] == {"test": "datum.offset == 0", "value": "#e3e3e3"}
    best = triangle.loc[triangle["offset"] > 0, "rate"].max()
    top = colour["scale"]["domain"][1]
    assert colour["scale"]["domain"][0] == 0 and best <= top < best + 0.1 + 1e-9 and top < 1
    assert "possibly left-censored" in spec["title"]["subtitle"]

    curves = charts.retention_curves(triangle).to_dict()
    average = next(d for d in curves["datasets"].values() if "cohorts" in d[0])
    expected = triangle[triangle["offset"] == 1]
    assert average[0]["rate"] == round(expected["retained"].sum() / expected["users"].sum(), 4)

    life = cohorts.lifecycle(sessions, "week")
    spec = charts.lifecycle_chart(life).to_dict()
    data = next(iter(spec["datasets"].values()))
    assert {r["status"] for r in data} == set(cohorts.LIFECYCLE_STATUSES)
    assert all(r["users"] <= 0 for r in data if r["status"] == "dormant")
    assert spec["encoding"]["y"]["stack"] == "zero"

    spec = charts.stickiness_chart(cohorts.stickiness_histogram(sessions)).to_dict()
    data = next(iter(spec["datasets"].values()))
    assert abs(sum(r["share"] for r in data) - 1) < 1e-3


def test_cohort_charts_say_when_there_is_no_data():
    from engagement_kit import charts

    empty = cohorts.cohort_retention(cut("UTC", dt.date(2025, 1, 6), dt.date(2025, 1, 7)), "month")
    assert empty.empty
    for chart in (charts.cohort_heatmap(empty), charts.retention_curves(empty)):
        assert "No data" in str(chart.to_dict())


# -- the Explorer's Cohorts tab ----------------------------------------------------------------
def test_the_explorer_cohorts_tab_fetches_sessions_only_when_shown():
    from engagement_kit.explorer import PANELS, Explorer

    calls = []

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def fetch_sessions(self, *args, **kwargs):
            calls.append((args, kwargs))
            return self.inner.fetch_sessions(*args, **kwargs)

    with client() as inner:
        explorer = Explorer(Counting(inner), today=dt.date(2025, 4, 14), background=False)
        explorer.select_preset("last_90")
        assert explorer.load() and explorer.error == ""
        assert "Cohorts" in explorer.tabs.titles and calls == []  # not on screen: not fetched
        explorer.tabs.selected_index = list(PANELS).index("cohorts")
        assert explorer.error == "", explorer.error
        assert len(calls) == 1 and calls[0][1]["tz"] == explorer.query().tz
        svg = explorer.panels["cohorts"].outputs[0]["data"]["image/svg+xml"]
        assert "Weekly cohort retention" in svg and "User lifecycle" in svg
        assert "counts as new here, so every cohort may be censored" in svg  # and why
        explorer.tabs.selected_index = 0
        explorer.tabs.selected_index = list(PANELS).index("cohorts")
        assert len(calls) == 1  # shown again: no new download
