"""The weekly report's *Cohorts* section (``cohorts = true``): its numbers against a plain
:func:`cohorts.cohort_retention` / :func:`cohorts.lifecycle` of the demo's sessions, the
incremental first-seen table (only the new week is fetched), the sidecar, the "no backfill"
message, left-censoring, and the ``cohorts`` setting of ``streams.toml``."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from engagement_kit import charts, demo, report
from engagement_kit.client.sessions import fetch_sessions
from engagement_kit.config.streams import StreamConfig, load_streams
from engagement_kit.config.weeks import week_bounds, week_labels
from engagement_kit.demo import DemoPlatform
from engagement_kit.demo.sessions_api import SessionsSwitches
from engagement_kit.errors import ConfigError, ReportError
from engagement_kit.metrics import cohorts
from engagement_kit.metrics.first_seen import backfill
from engagement_kit.report import blocks
from engagement_kit.report import params as report_params
from engagement_kit.report.cohorts import COHORT_WEEKS, DEMO_SEED_WEEKS, load_cohorts
from engagement_kit.store import ResponseStore
from tests.builders import quick_demo_client

STREAM, TZ, WEEK = "st-demo-hr-us", "America/New_York", "2025-W47"
NOW = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()
KEYS = ["cohort", "offset", "users", "retained", "rate"]


class Counting:
    """The demo platform (pages of 1,000, no rate limit, a fixed clock), counting getSessions."""

    def __init__(self) -> None:
        self.platform = DemoPlatform(
            lambda: NOW, rate_limit=False, sessions=SessionsSwitches(max_limit=1000)
        )
        self.sessions_requests: list[dict] = []
        handle = self.platform.handle

        def counting(request):
            if request.url.path.endswith("/getSessions"):
                self.sessions_requests.append(json.loads(request.content))
            return handle(request)

        self.platform.handle = counting


def client_for(tmp_path, platform: Counting | None = None, *, store: bool = True):
    platform = platform or Counting()
    return quick_demo_client(
        NOW,
        store=ResponseStore(tmp_path / "store.sqlite3") if store else False,
        platform=platform.platform,
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The section of :data:`WEEK` on a cold demo store (the report seeds the table)."""
    tmp = tmp_path_factory.mktemp("cohorts")
    platform = Counting()
    with client_for(tmp, platform) as client:
        section = load_cohorts(client, STREAM, WEEK, tz=TZ, demo=True)
    return tmp, platform, section


def plain_recomputation() -> tuple[pd.DataFrame, pd.DataFrame]:
    """cohort_retention and lifecycle of one download from the table's horizon, no store."""
    horizon = week_bounds(week_labels(WEEK, DEMO_SEED_WEEKS)[0])[0]
    first_shown = pd.Timestamp(week_bounds(week_labels(WEEK, COHORT_WEEKS)[0])[0])
    with client_for(None, store=False) as client:
        sessions = fetch_sessions(
            client, STREAM, horizon, week_bounds(WEEK)[1], tz=TZ, progress=False
        )
    triangle = cohorts.cohort_retention(sessions, period="week", kind="on")
    cycle = cohorts.lifecycle(sessions, period="week")
    return (
        triangle[triangle["cohort"] >= first_shown].reset_index(drop=True),
        cycle[cycle["period"] >= first_shown].reset_index(drop=True),
    )


def test_section_numbers_equal_a_plain_cohort_retention_of_the_demo(seeded):
    _tmp, _platform, section = seeded
    assert section.status == "ok" and section.seeded
    assert section.horizon == week_bounds(week_labels(WEEK, DEMO_SEED_WEEKS)[0])[0]
    assert section.through == week_bounds(WEEK)[1]
    triangle, cycle = plain_recomputation()
    assert triangle["cohort"].nunique() == COHORT_WEEKS
    pd.testing.assert_frame_equal(section.triangle[KEYS], triangle[KEYS])
    pd.testing.assert_frame_equal(section.lifecycle, cycle, check_like=True)
    # offset 0 is the cohort itself; the newest cohort has only offset 0
    assert (section.triangle.loc[section.triangle["offset"] == 0, "rate"] == 1).all()
    newest = section.triangle[section.triangle["cohort"] == section.triangle["cohort"].max()]
    assert newest["offset"].tolist() == [0]
    assert not section.triangle["possibly_censored"].any()  # the seed leaves a 4-week margin
    assert section.censored_cohorts == []
    assert "built the first-seen table itself" in section.message


def test_the_reading_line_gives_the_weighted_week_1_rate_and_this_weeks_lifecycle(seeded):
    section = seeded[2]
    week1 = section.triangle[section.triangle["offset"] == 1]
    rate = week1["retained"].sum() / week1["users"].sum()
    assert section.mean_rate(1) == pytest.approx(rate)
    this_week = section.lifecycle[section.lifecycle["period"] == section.lifecycle["period"].max()]
    counts = dict(zip(this_week["status"], this_week["users"], strict=True))
    text = section.reading()
    assert f"{rate:.0%} came back the week after" in text
    assert f"This week: {counts['new']:,} new, {counts['returning']:,} returning" in text
    assert f"{-counts['dormant']:,} of last week's users did not come" in text


def test_the_next_week_fetches_only_that_weeks_sessions(seeded):
    tmp, platform, _section = seeded
    asked_before = len(platform.sessions_requests)
    nxt = "2025-W48"
    with client_for(tmp, platform) as client:
        section = load_cohorts(client, STREAM, nxt, tz=TZ, demo=True)
    assert section.status == "ok" and not section.seeded
    assert section.through == week_bounds(nxt)[1]
    monday, sunday = week_bounds(nxt)
    with client_for(None, store=False) as fresh:
        week_only = fetch_sessions(fresh, STREAM, monday, sunday, tz=TZ, progress=False)
    assert section.fetched_sessions == len(week_only) > 0
    # every window asked now reaches into the new week: nothing older is fetched again
    asked = platform.sessions_requests[asked_before:]
    assert asked
    for body in asked:
        ends = pd.Timestamp(body["dateTo"])
        assert ends >= pd.Timestamp(monday, tz=TZ), body
    assert section.triangle["cohort"].max() == pd.Timestamp(monday)


def test_sidecar_carries_the_triangle_and_lifecycle(tmp_path):
    with client_for(tmp_path) as client:
        weekly = report.load_weekly(
            STREAM, WEEK, tz=TZ, client=client, cohorts=True, weeks_of_history=2
        )
        plain = report.load_weekly(STREAM, WEEK, tz=TZ, client=client, weeks_of_history=2)
    data = json.loads(json.dumps(weekly.sidecar()))  # JSON all the way
    assert "cohorts" not in plain.sidecar() and plain.parameters["cohorts"] is False
    assert weekly.parameters["cohorts"] is True
    side = data["cohorts"]
    section = weekly.cohort_section
    assert side["status"] == "ok" and side["period"] == "week" and side["kind"] == "on"
    assert side["horizon"] == section.horizon.isoformat()
    rows = pd.DataFrame(side["triangle"])
    assert rows["cohort"].tolist() == section.triangle["cohort"].dt.strftime("%Y-%m-%d").tolist()
    assert rows["users"].tolist() == section.triangle["users"].tolist()
    assert rows["retained"].tolist() == section.triangle["retained"].tolist()
    assert rows["rate"].tolist() == pytest.approx(section.triangle["rate"].tolist())
    assert rows["week"].iloc[-1] == WEEK
    life = {row["week"]: row for row in side["lifecycle"]}
    assert len(life) == COHORT_WEEKS
    for _, r in section.lifecycle.iterrows():
        iso = r["period"].isocalendar()
        assert life[f"{iso.year}-W{iso.week:02d}"][r["status"]] == r["users"]
    assert side["mean_rate"]["1"] == pytest.approx(section.mean_rate(1))
    assert side["reading"] == section.reading() != ""
    html = blocks.cohorts_section(weekly).data
    assert "Cohorts" in html and section.reading().split(" (")[0] in html
    assert "Counted from the session history: every session of the stream" in html
    assert blocks.cohorts_section(plain).data == ""
    assert plain.cohorts_heatmap().data == "" and plain.lifecycle_chart().data == ""


def test_without_a_backfill_the_section_says_how_to_build_one(tmp_path):
    platform = Counting()
    with client_for(tmp_path, platform) as client:
        weekly = report.load_weekly(
            STREAM,
            WEEK,
            tz=TZ,
            client=client,
            source="platform",
            host=client.host,
            cohorts=True,
            weeks_of_history=2,
        )
    section = weekly.cohort_section
    assert section.status == "no_backfill"
    assert platform.sessions_requests == []  # nothing was fetched
    since = week_bounds(week_labels(WEEK, DEMO_SEED_WEEKS)[0])[0]
    command = f"engagement-kit backfill --stream {STREAM} --since {since} --tz {TZ}"
    assert command in section.message
    assert weekly.sidecar()["cohorts"]["status"] == "no_backfill"
    assert weekly.sidecar()["cohorts"]["triangle"] == []
    html = weekly.cohorts_section().data
    assert command in html and 'data-status="no_backfill"' in html
    assert weekly.cohorts_heatmap().data == "" and weekly.lifecycle_chart().data == ""


def test_cohorts_near_the_horizon_are_flagged_possibly_left_censored(tmp_path):
    first_shown = week_bounds(week_labels(WEEK, COHORT_WEEKS)[0])[0]
    horizon = first_shown + dt.timedelta(days=7)  # inside the shown weeks
    with client_for(tmp_path) as client:
        backfill(client, STREAM, horizon, week_bounds(WEEK)[1] - dt.timedelta(days=7), tz=TZ)
        section = load_cohorts(client, STREAM, WEEK, tz=TZ)
    assert section.status == "ok" and not section.seeded
    edge = pd.Timestamp(horizon + dt.timedelta(days=28))
    flagged = section.triangle[section.triangle["possibly_censored"]]
    assert not flagged.empty and (flagged["cohort"] < edge).all()
    assert not section.triangle.loc[section.triangle["cohort"] >= edge, "possibly_censored"].any()
    assert "possibly left-censored" in section.message
    for week in section.censored_cohorts:
        assert week in section.message
    # the shown weeks reach before the horizon: those cohorts are flagged too
    assert section.triangle["cohort"].min() < pd.Timestamp(horizon)
    assert section.triangle.loc[section.triangle["cohort"] < edge, "possibly_censored"].all()
    spec = charts.cohort_heatmap(section.triangle).to_dict()
    labels = {row["label"] for rows in spec["datasets"].values() for row in rows}
    assert sum(label.endswith(" *") for label in labels) == len(section.censored_cohorts) > 0


def test_a_table_built_in_another_zone_is_named_not_a_failure(tmp_path):
    with client_for(tmp_path) as client:
        backfill(client, STREAM, "2025-11-03", "2025-11-16", tz="UTC")
        section = load_cohorts(client, STREAM, WEEK, tz=TZ)
    assert section.status == "unavailable"
    assert "--tz UTC" in section.message


# -- the setting --------------------------------------------------------------------------------


def test_cohorts_is_a_strict_boolean_in_streams_toml(tmp_path):
    path = tmp_path / "streams.toml"
    path.write_text('[[stream]]\nid = "st-a"\nname = "A"\ntz = "UTC"\ncohorts = true\n')
    assert load_streams(path)[0].cohorts is True
    path.write_text('[[stream]]\nid = "st-a"\nname = "A"\ntz = "UTC"\n')
    assert load_streams(path)[0].cohorts is False
    path.write_text('[[stream]]\nid = "st-a"\nname = "A"\ntz = "UTC"\ncohorts = "yes"\n')
    with pytest.raises(ConfigError, match=r"stream #1 \(st-a\): field cohorts: 'yes' is not true"):
        load_streams(path)
    with pytest.raises(ConfigError, match="cohorts = true"):
        StreamConfig(id="st-a", name="A", tz="UTC", cohorts=1)


def test_the_parameter_travels_as_a_boolean_and_only_as_one():
    config = StreamConfig(id=STREAM, name="HR", tz=TZ, cohorts=True)
    params = report.report_parameters(config, WEEK)
    assert params["cohorts"] is True
    with pytest.raises(ReportError, match="'cohorts' must be True or False"):
        report_params.check_no_secret({**params, "cohorts": "true"})
    with pytest.raises(ReportError, match="'weeks_of_history' must be a literal"):
        report_params.check_no_secret({**params, "weeks_of_history": True})


def test_a_demo_stream_has_the_cohorts_section_on():
    on = [s.id for s in demo.demo_streams() if s.cohorts]
    assert on == [STREAM]


# -- After the first conversation (retention by the outcome of the first session) -------------


def test_after_the_first_conversation_equals_a_plain_retention_by_outcome(seeded):
    from engagement_kit.metrics import outcomes

    section = seeded[2]
    assert section.outcomes is not None
    horizon = week_bounds(week_labels(WEEK, DEMO_SEED_WEEKS)[0])[0]
    first_shown = week_bounds(week_labels(WEEK, COHORT_WEEKS)[0])[0]
    with client_for(None, store=False) as client:
        sessions = fetch_sessions(
            client, STREAM, horizon, week_bounds(WEEK)[1], tz=TZ, progress=False
        )
    plain = outcomes.retention_by_outcome(sessions, "week", cohorts_since=first_shown)
    pd.testing.assert_frame_equal(section.outcomes.retention, plain.retention)
    pd.testing.assert_frame_equal(section.outcomes.within, plain.within)
    # new users by first outcome add up to each shown cohort's size
    sizes = section.outcomes.cohorts.groupby("cohort")["users"].sum()
    week0 = section.triangle[section.triangle["offset"] == 0].set_index("cohort")["users"]
    assert sizes.to_dict() == week0.to_dict()
    assert section.outcomes.retention["offset"].max() == COHORT_WEEKS - 1
    moves = outcomes.outcome_transitions(sessions, cohorts_since=first_shown)
    pd.testing.assert_frame_equal(section.transitions, moves)


def test_the_outcome_sentence_names_the_ratio_and_the_verdict(seeded):
    section = seeded[2]
    found = section.outcome_comparison()
    week1 = section.outcomes.at(1)
    hi, lo = found["higher"], found["lower"]
    assert found["users"] == [int(week1.loc[hi, "users"]), int(week1.loc[lo, "users"])]
    ratio = (week1.loc[hi, "retained"] / week1.loc[hi, "users"]) / (
        week1.loc[lo, "retained"] / week1.loc[lo, "users"]
    )
    assert found["ratio"] == pytest.approx(ratio)
    text = section.outcome_reading()
    assert f"{ratio:.1f}× as often as" in text
    assert ("is beyond chance" in text) == found["significant"]
    assert ("is not beyond chance" in text) == (not found["significant"])
    assert found["method"] in text
    assert text.count(".") >= 1 and text.endswith(".")
    # the demo's HR helpdesk: drop-offs come back least, clearly so
    assert lo == "dropOff" and found["significant"]


def test_the_outcome_sentence_for_small_and_equal_groups():
    from engagement_kit.metrics.outcomes import OUTCOMES, OutcomeRetention
    from engagement_kit.report.cohorts import CohortSection

    def section(rows):
        frame = pd.DataFrame(
            [(o, 1, 1, n, x) for o, (n, x) in zip(OUTCOMES, rows, strict=True)],
            columns=["outcome", "offset", "cohorts", "users", "retained"],
        )
        frame["rate"] = frame["retained"] / frame["users"].where(frame["users"] > 0)
        frame["low"] = frame["high"] = frame["rate"]
        result = OutcomeRetention(frame.iloc[:0], frame, frame.iloc[:0], "week", "UTC", 0.95)
        return CohortSection("ok", outcomes=result)

    few = section([(3, 2), (4, 1), (0, 0), (2, 2)]).outcome_reading()
    assert few.startswith("Users whose first conversation the bot handled itself came back")
    assert "(66.7 % of 3 vs 25.0 % of 4)" in few
    assert "is not beyond chance at this size (Fisher's exact test, p = " in few
    none_back = section([(40, 10), (50, 0), (0, 0), (0, 0)]).outcome_reading()
    assert "while none of those who dropped off did" in none_back
    same = section([(40, 10), (40, 10), (0, 0), (0, 0)]).outcome_reading()
    assert "as often as those who dropped off" in same and "is not beyond chance" in same
    alone = section([(40, 10), (0, 0), (0, 0), (9, 3)]).outcome_reading()
    assert alone.startswith("Too few new users with a known outcome")


def test_sidecar_and_page_carry_after_the_first_conversation(tmp_path):
    with client_for(tmp_path) as client:
        weekly = report.load_weekly(
            STREAM, WEEK, tz=TZ, client=client, cohorts=True, weeks_of_history=2
        )
        plain = report.load_weekly(STREAM, WEEK, tz=TZ, client=client, weeks_of_history=2)
    side = json.loads(json.dumps(weekly.sidecar()))["cohorts"]["after_first_conversation"]
    section = weekly.cohort_section
    assert side["definition"] == "first session" and side["offset_compared"] == 1
    assert list(side["users"]) == ["selfService", "dropOff", "agent", "unknown"]
    assert sum(side["users"].values()) == sum(
        r["users"]
        for r in json.loads(json.dumps(weekly.sidecar()))["cohorts"]["triangle"]
        if r["offset"] == 0
    )
    rows = pd.DataFrame(side["retention"])
    expected = section.outcomes.retention
    assert rows["users"].tolist() == expected["users"].tolist()
    assert rows["retained"].tolist() == expected["retained"].tolist()
    assert rows["low"].tolist() == pytest.approx(expected["low"].tolist(), nan_ok=True)
    assert {(r["outcome"], r["days"]) for r in side["within"]} == {
        (o, d) for o in side["users"] for d in (7, 28)
    }
    assert side["reading"] == section.outcome_reading() != ""
    assert side["comparison"]["higher"] == section.outcome_comparison()["higher"]
    assert len(side["transitions"]) == 16
    html = blocks.outcomes_section(weekly).data
    assert "<h2>After the first conversation</h2>" in html and side["reading"] in html
    assert blocks.outcomes_section(plain).data == "" and plain.outcomes_chart().data == ""
    spec = weekly.outcomes_chart().to_dict()
    shown = next(iter(spec["datasets"].values()))
    assert len(shown) == int((expected["users"] > 0).sum())
