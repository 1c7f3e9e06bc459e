"""Tests that close the gaps mutation testing found in engagement_kit.report's HTML blocks (see
benchmarks/MUTATION.md): the sentences and tables of a weekly report, without running the
notebook (the report runs that show them are slow)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types

import pandas as pd
import pytest

from engagement_kit.report import blocks, load_weekly
from tests.builders import quick_demo_client

HR = ("st-demo-hr-us", "PeopleFirst HR <Helpdesk>", "America/New_York")


@pytest.fixture(scope="module")
def weekly():

    now = dt.datetime(2025, 12, 3, 12, tzinfo=dt.UTC).timestamp()
    with quick_demo_client(now) as client:  # no waiting for the rate limits
        return load_weekly(
            HR[0], "2025-W47", stream_name=HR[1], tz=HR[2], weeks_of_history=1, client=client
        )


def test_header_names_stream_week_zone_filters_and_source(weekly):
    html = blocks.header(weekly).data
    assert "<h1>Weekly report: PeopleFirst HR &lt;Helpdesk&gt;</h1>" in html
    assert "(st-demo-hr-us)" in html
    assert "2025-W47: Monday 17 November 2025 to Sunday 23 November 2025" in html
    assert "America/New_York (days and hours" in html
    assert "all conversation types, any status, every channel" in html
    assert "the built-in demo platform" in html
    remote = dataclasses.replace(weekly, source="platform", host="https://bots.example.com")
    assert ">https://bots.example.com</td>" in blocks.header(remote).data
    nohost = dataclasses.replace(weekly, source="platform", host="")
    assert ">KORE_HOST</td>" in blocks.header(nohost).data


@pytest.mark.parametrize(
    ("filters", "text"),
    [
        ({}, "all conversation types, any status, every channel"),
        (
            {"conversation_type": "interactive", "conversation_status": "closed"},
            "interactive conversations, closed conversations, every channel",
        ),
        (
            {"conversation_type": "non_interactive", "conversation_status": "active"},
            "non-interactive conversations, active conversations, every channel",
        ),
        (
            {
                "conversation_type": "odd",
                "conversation_status": "strange",
                "channels": ["rtm", "web"],
            },
            "odd, strange, channels rtm, web",
        ),
    ],
)
def test_filters_in_words(filters, text):
    assert blocks.filters_text(filters) == text


def test_generated_note_and_footer(weekly):
    from engagement_kit import __version__

    note = blocks.generated_note(weekly).data
    assert f"Generated {weekly.generated_at} by engagement-kit {__version__}." in note
    footer = blocks.footer(weekly).data
    assert "These numbers were not kept in a response store." in footer
    assert (
        "<td>stream_id</td>" in footer
        and "<code>st-demo-hr-us</code>" in footer
        and "&#x27;" not in footer
    )


def _kpis(value, previous, pct):
    return types.SimpleNamespace(
        status="ok",
        kpis=pd.DataFrame(
            {"value": [value], "previous": [previous], "pct_change": [pct]},
            index=["unique_users"],
        ),
    )


@pytest.mark.parametrize(
    ("value", "previous", "pct", "text"),
    [
        (
            1200,
            1000,
            0.2,
            "<b>1,200</b> unique users this week, <span class='ek-up'>up 20.0 %</span> from 1,000 the week before.",
        ),
        (
            800,
            1000,
            -0.2,
            "<b>800</b> unique users this week, <span class='ek-down'>down 20.0 %</span> from 1,000 the week before.",
        ),
        (
            1000,
            1000,
            0.0,
            "<b>1,000</b> unique users this week, <span class='ek-muted'>unchanged</span> from 1,000 the week before.",
        ),
        (
            1200,
            1000,
            None,
            "<b>1,200</b> unique users this week, <span class='ek-up'>up</span> from 1,000 the week before.",
        ),
        (1200, None, None, "<b>1,200</b> unique users this week."),
        (None, None, None, "The platform gave no user count for this week."),
    ],
)
def test_headline_words_the_change(value, previous, pct, text):
    assert blocks.headline(_kpis(value, previous, pct)).data == f"<p class='ek-headline'>{text}</p>"


def test_headline_and_kpi_table_of_a_real_week(weekly):
    row = weekly.kpis.loc["unique_users"]
    html = blocks.headline(weekly).data
    assert f"<b>{int(row['value']):,}</b> unique users this week" in html
    assert f"from {int(row['previous']):,} the week before" in html
    table = blocks.kpi_table(weekly).data
    assert ">This week</th>" in table and ">Week before</th>" in table


def test_coverage_note_of_a_week_with_and_without_users(weekly):
    html = blocks.coverage_note(weekly).data
    window = weekly.coverage_window
    assert f"<p>{window.share * 100:.0f} % of this week's user-hours fall between" in html
    assert f"<b>{window.label}</b> ({window.hours} hours, America/New_York)" in html
    top = ", ".join(weekly.top_hours["label"])
    assert html.endswith(f"Busiest hours: {top}.</p>")
    empty = types.SimpleNamespace(
        coverage_window=dataclasses.replace(
            window, start_hour=None, end_hour=None, hours=0, share=float("nan")
        ),
        tz="UTC",
        top_hours=pd.DataFrame({"label": []}),
    )
    assert blocks.coverage_note(empty).data == (
        "<p>No users this week, so there is no busy period to staff.</p>"
    )


def test_anomalies_table_lists_each_unusual_day(weekly):
    quiet = blocks.anomalies_table(weekly, weeks=8).data
    assert "same weekday over the previous 8 weeks" in quiet
    found = types.SimpleNamespace(
        anomalies=pd.DataFrame(
            {
                "date": [pd.Timestamp("2025-11-18"), pd.Timestamp("2025-11-20")],
                "metric": ["new", "returning"],
                "value": [1234, 5],
                "low": [100.4, 10.0],
                "high": [1200.6, 20.0],
                "direction": ["up", "down"],
            }
        )
    )
    html = blocks.anomalies_table(found, weeks=8).data
    assert "<tr><td>Tuesday 18 November</td><td>new</td><td>1,234</td><td>100–1,201</td>" in html
    assert "<td class='ek-up'>higher than usual</td>" in html
    assert "<tr><td>Thursday 20 November</td><td>returning</td><td>5</td><td>10–20</td>" in html
    assert "<td class='ek-down'>lower than usual</td>" in html


def test_checks_table_and_no_channels_section(weekly):
    html = blocks.checks_table(weekly).data
    assert "<tr><td>daily</td><td>info</td>" in html and "<tr><td>hourly</td><td>info</td>" in html
    assert blocks.channels_section(weekly).data == ""
    assert blocks.nothing().data == ""
    assert isinstance(weekly.start, dt.date) and weekly.start.isoweekday() == 1


def test_sidecar_carries_the_top_hours_and_the_history_by_week(weekly):
    data = weekly.sidecar()
    top = data["peak_hours"]["top_hours"]
    assert [t["rank"] for t in top] == [1, 2, 3]
    assert [t["label"] for t in top] == list(weekly.top_hours["label"])
    assert [t["share"] for t in top] == pytest.approx(list(weekly.top_hours["share"]))
    assert [h["week"] for h in data["history"]] == list(weekly.history["week"])
    assert data["history"][-1]["week"] == "2025-W47"


# -- a week with no data at all is not a quiet week ----------------------------------------------


@pytest.fixture(scope="module")
def empty_week():
    from engagement_kit.demo import DemoPlatform, demo_client

    now = dt.datetime(2025, 12, 3, 12, tzinfo=dt.UTC).timestamp()
    platform = DemoPlatform(lambda: now, rate_limit=False)
    with demo_client(
        store=False,
        platform=platform,
        clock=lambda: now,
        requests_per_minute=None,
        requests_per_hour=None,
    ) as client:  # 2024-W01: before the demo stream had users
        return load_weekly(
            HR[0], "2024-W01", stream_name=HR[1], tz=HR[2], weeks_of_history=1, client=client
        )


def test_a_week_without_users_says_no_data_on_the_page_and_in_the_sidecar(empty_week, weekly):
    assert weekly.status == "ok" and weekly.sidecar()["status"] == "ok"
    assert empty_week.status == "no_data" and empty_week.sidecar()["status"] == "no_data"
    page = blocks.headline(empty_week).data
    assert "data-status='no_data'" in page and "No data." in page
    assert "reports no users at all in 2024-W01" in page and "not a quiet week" in page
    assert "0 unique users" not in page and "unchanged" not in page


def test_no_alert_rule_fires_on_a_week_without_data(empty_week):
    from engagement_kit.delivery.rules import parse_rules, rule_fires

    rules = parse_rules(
        [
            {"name": "few", "kpi": "unique_users", "rule": "below", "value": 10},
            {"name": "drop", "kpi": "unique_users", "rule": "change_below", "value": "-20%"},
        ],
        where="t",
    )
    sidecar = empty_week.sidecar()
    assert [rule_fires(r, sidecar) for r in rules] == [None, None]
    assert rule_fires(rules[0], {**sidecar, "status": "ok"}) is not None  # it would, on zeros


def test_the_summary_warns_about_a_week_without_data(tmp_path):
    from engagement_kit.report import ReportResult
    from engagement_kit.report.summary import exit_code, summary_lines

    result = ReportResult(
        stream_id=HR[0],
        stream_name="HR",
        slug="hr",
        week="2024-W01",
        status="written",
        html=tmp_path / "a.html",
        unique_users=0,
        data_status="no_data",
    )
    lines = summary_lines([result])
    assert lines[1].startswith("no data  HR  2024-W01  0 users")
    assert lines[2].startswith("warning: HR (st-demo-hr-us) 2024-W01: no data")
    assert exit_code([result]) == 0  # written, with the warning (documented in docs/reports.md)


def test_the_cohorts_section_says_it_counts_every_session_unlike_filtered_kpis():
    """The HR template's KPIs count interactive, closed conversations; its cohorts every
    session (131 new vs 58, with no word why). The section now says so in one line."""
    scope = blocks.cohorts_scope(
        {"conversation_type": "interactive", "conversation_status": "closed"}
    )
    assert scope == (
        "Counted from every session of the stream (all conversation types, any status, every "
        "channel), while the KPIs above count interactive conversations, closed conversations, "
        "every channel: so this section's new users are more than the KPI table's."
    )
    assert "like the KPIs above" in blocks.cohorts_scope({})
