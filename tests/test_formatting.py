"""One vocabulary for numbers (engagement_kit.formatting), and one week's numbers through every
surface that shows them: the report's blocks, the index, the command line's summary, the email,
chat and webhook messages, the alert messages and the Explorer write the same texts."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest

from engagement_kit import formatting as f

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("kpi", "value", "text"),
    [
        ("unique_users", 12345, "12,345"),
        ("unique_users", 446.142857, "446"),
        ("avg_unique_users_per_day", 87.66, "87.7"),
        ("avg_unique_users_per_day", 1234.5, "1,234.5"),
        ("returning_share", 0.829, "82.9 %"),
        ("stickiness", 0.162, "16.2 %"),  # a share, not "0.162"
        ("new_users", None, "n/a"),
        ("new_users", math.nan, "n/a"),
        ("new_users", pd.NA, "n/a"),
        ("new_users", "12", "n/a"),
        ("new_users", True, "n/a"),
    ],
)
def test_kpi_text_writes_counts_averages_and_shares(kpi, value, text):
    assert f.kpi_text(kpi, value) == text


def test_na_carries_its_reason():
    assert f.na_text() == "n/a"
    assert f.count_text(None, reason="no users the week before") == "n/a (no users the week before)"


@pytest.mark.parametrize(
    ("kpi", "change", "pct", "text"),
    [
        ("unique_users", 37, 0.08, "+37 (+8.0 %)"),
        ("unique_users", -37, -0.069, f"{MINUS}37 ({MINUS}6.9 %)"),
        ("unique_users", 5, None, "+5"),  # no relative change from zero
        ("returning_share", 0.139, 0.201, "+13.9 pp (+20.1 %)"),
        ("returning_share", 0.0001, 0.0002, "0.0 pp (0.0 %)"),  # no sign on zero digits
        ("avg_unique_users_per_day", -1.25, -0.03, f"{MINUS}1.2 ({MINUS}3.0 %)"),
        ("unique_users", None, None, "n/a"),
    ],
)
def test_change_text_is_points_for_shares_and_signed_with_one_minus(kpi, change, pct, text):
    assert f.change_text(kpi, change, pct) == text
    assert "-" not in f.change_text(kpi, change, pct)  # never the hyphen-minus


def test_relative_change_can_be_left_out():
    assert f.change_text("returning_share", 0.139, 0.201, relative=False) == "+13.9 pp"


@pytest.mark.parametrize(
    ("value", "previous", "pct", "text"),
    [
        (534, 497, 0.0744, "up 7.4 %"),
        (443, 500, -0.114, "down 11.4 %"),  # not "down −11.4 %"
        (10, 10, 0.0, "unchanged"),
        (5, 0, None, "up"),
        (None, 10, None, ""),
    ],
)
def test_change_phrase_has_no_double_negative(value, previous, pct, text):
    assert f.change_phrase(value, previous, pct) == text


def test_signed_percent():
    assert f.signed_percent(0.125) == "+12.5 %"
    assert f.signed_percent(-0.05) == f"{MINUS}5.0 %"
    assert f.signed_percent(0.0001) == "0.0 %"
    assert f.signed_percent(None) == "n/a"


def test_kpi_sentence_uses_points_for_a_share():
    text = f.kpi_sentence("returning_share", "Returning share", 0.829, 0.69, 0.139, 0.2014)
    assert text == "Returning share 82.9 %, +13.9 pp (+20.1 %) from 69.0 %"
    assert f.kpi_sentence("unique_users", "Unique users", 497) == "Unique users 497"


def test_timestamps_to_the_second():
    moment = dt.datetime(2025, 12, 1, 9, 30, 12, 123456, tzinfo=dt.UTC)
    assert f.timestamp_text(moment) == "2025-12-01 09:30:12 UTC"
    assert f.timestamp_text("2025-12-01T10:30:12.5+01:00") == "2025-12-01 09:30:12 UTC"
    assert f.timestamp_text(pd.Timestamp("2025-12-01 09:30:12.9")) == "2025-12-01 09:30:12"


def test_people_frame_and_table_format_by_column():
    frame = pd.DataFrame(
        {
            "week": ["2025-W47", "2025-W48"],
            "unique_users": [1234, 56],
            "avg_unique_users_per_day": [446.142857, 8.0],
            "returning_share": [0.502321, math.nan],
        }
    )
    shown = f.people_frame(frame)
    assert shown["unique_users"].tolist() == ["1,234", "56"]
    assert shown["avg_unique_users_per_day"].tolist() == ["446.1", "8.0"]
    assert shown["returning_share"].tolist() == ["50.2 %", "n/a"]
    assert shown["week"].tolist() == ["2025-W47", "2025-W48"]
    html = f.people_table(frame).to_html()
    assert "446.1" in html and "50.2 %" in html and "446.14" not in html and "0.502" not in html


# -- one week through every surface ------------------------------------------------------------

HR = ("st-demo-hr-us", "PeopleFirst HR", "America/New_York")
WEEK = "2025-W47"


@pytest.fixture(scope="module")
def demo_week():
    from engagement_kit.demo import DemoPlatform, demo_client
    from engagement_kit.report import load_weekly

    now = dt.datetime(2025, 12, 3, 12, tzinfo=dt.UTC).timestamp()
    platform = DemoPlatform(lambda: now, rate_limit=False)
    client = demo_client(
        store=False,
        platform=platform,
        clock=lambda: now,
        requests_per_minute=None,
        requests_per_hour=None,
    )
    with client:
        weekly = load_weekly(
            HR[0],
            WEEK,
            stream_name=HR[1],
            tz=HR[2],
            weeks_of_history=1,
            client=client,
            conversation_type="interactive",
            conversation_status="closed",
        )
        yield weekly, client


def _expected(sidecar, kpi):
    value = sidecar["kpis"][kpi]
    previous = sidecar["previous_kpis"][kpi]
    change = sidecar["change"][kpi]
    return (
        f.kpi_text(kpi, value),
        f.kpi_text(kpi, previous),
        f.change_text(kpi, change["change"], change["pct_change"]),
    )


def test_one_week_reads_the_same_on_every_surface(demo_week, tmp_path):
    from engagement_kit.config.streams import StreamConfig
    from engagement_kit.delivery.messages import WeekReport, chat_text, email_message
    from engagement_kit.delivery.rules import parse_rules, rule_fires
    from engagement_kit.explorer import Explorer
    from engagement_kit.report import ReportResult, blocks
    from engagement_kit.report.index import write_index
    from engagement_kit.report.summary import summary_lines

    weekly, client = demo_week
    sidecar = weekly.sidecar()
    users = f.count_text(sidecar["kpis"]["unique_users"])
    pct = sidecar["change"]["unique_users"]["pct_change"]
    phrase = f.change_phrase(
        sidecar["kpis"]["unique_users"], sidecar["previous_kpis"]["unique_users"], pct
    )
    assert phrase.startswith(("up ", "down ")), "pick a week whose users changed"
    share = _expected(sidecar, "returning_share")
    assert share[2].split()[1] == "pp"

    # the report page: headline and KPI table
    headline = blocks.headline(weekly).data
    assert f"<b>{users}</b>" in headline and phrase.split()[1] in headline
    table = blocks.kpi_table(weekly).data
    for kpi in ("unique_users", "new_users", "returning_share", "stickiness"):
        value, previous, change = _expected(sidecar, kpi)
        assert f">{value}<" in table and f">{previous}<" in table and change in table, kpi

    # the index
    out = tmp_path / "reports"
    (out / "hr").mkdir(parents=True)
    (out / "hr" / f"{WEEK}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    (out / "hr" / f"{WEEK}.html").write_text("<html></html>", encoding="utf-8")
    index = write_index(out).read_text(encoding="utf-8")
    assert f"<td>{users}</td>" in index and f.signed_percent(pct) in index

    # the command line's summary
    result = ReportResult(
        stream_id=HR[0],
        stream_name=HR[1],
        slug="hr",
        week=WEEK,
        status="written",
        html=out / "hr" / f"{WEEK}.html",
        unique_users=sidecar["kpis"]["unique_users"],
        change=pct,
    )
    line = summary_lines([result])[1]
    assert f"{users} users  {f.signed_percent(pct)}" in line

    # email, chat and webhook
    week_report = WeekReport(
        HR[0], HR[1], "hr", WEEK, sidecar, out / "hr" / f"{WEEK}.html", "https://x/hr"
    )
    mail = email_message([week_report])
    assert f"{users} unique users this week, {phrase} from" in mail.html
    for kpi in ("unique_users", "returning_share", "stickiness"):
        value, previous, change = _expected(sidecar, kpi)
        assert f">{value}<" in mail.html and f">{change}<" in mail.html, kpi
    chat = chat_text([week_report])[1]
    value, previous, change = _expected(sidecar, "unique_users")
    assert f"- Unique users: {value}, {change} from {previous}" in chat
    assert f"{users} users ({f.signed_percent(pct)})" in mail.subject

    # the alert messages
    (rule,) = parse_rules(
        [{"name": "share", "kpi": "returning_share", "rule": "above", "value": 0}], where="t"
    )
    message = rule_fires(rule, sidecar)["message"]
    assert f"Returning share {share[0]}, {share[2]} from {share[1]}" in message

    # the Explorer, loading the same stream, week and filters itself
    stream = StreamConfig(
        id=HR[0],
        name=HR[1],
        tz=HR[2],
        conversation_type="interactive",
        conversation_status="closed",
    )
    explorer = Explorer(client, streams=[stream], today=dt.date(2025, 12, 3), background=False)
    explorer.start.value, explorer.end.value = weekly.start, weekly.end
    assert explorer.load()
    panel = explorer.panels["kpis"].value
    for kpi in ("unique_users", "new_users", "returning_share", "stickiness"):
        value, previous, change = _expected(sidecar, kpi)
        assert f">{value}<" in panel and f">{previous}<" in panel and change in panel, kpi
    for surface in (headline, table, index, line, mail.html, chat, message, panel):
        assert f"{MINUS} " not in surface.replace(f"{MINUS} …", "")  # "down −x" never written
        assert "up +" not in surface and f"down {MINUS}" not in surface


def test_print_table_is_plain_lines_in_a_pipe_and_a_table_in_a_terminal():
    import io

    from rich.console import Console
    from rich.table import Table

    table = Table("stream", "rule", title="Alert rules")
    table.add_row("A very long stream name that a narrow terminal would fold", "few\nusers")
    piped = io.StringIO()
    f.print_table(Console(file=piped, width=40), table)
    assert piped.getvalue().splitlines() == [
        "Alert rules",
        "stream  rule",
        "A very long stream name that a narrow terminal would fold  few users",
    ]
    terminal = io.StringIO()
    f.print_table(Console(file=terminal, width=40, force_terminal=True), table)
    assert "┃" in terminal.getvalue() or "│" in terminal.getvalue()


def test_people_frame_signs_changes_and_shows_dates_as_dates():
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-11-24", "2025-11-25"]),
            "at": pd.to_datetime(["2025-11-24 08:03:00.250", "2025-11-25 09:00:01.000"]),
            "change": [37, -40],
            "pct_change": [0.0091, -0.0195],
            "new_diff": [0, 2],
        }
    )
    shown = f.people_frame(frame)
    assert shown["date"].tolist() == ["2025-11-24", "2025-11-25"]
    assert shown["at"].tolist() == ["2025-11-24 08:03:00", "2025-11-25 09:00:01"]
    assert shown["change"].tolist() == ["+37", f"{MINUS}40"]
    assert shown["pct_change"].tolist() == ["+0.9 %", f"{MINUS}1.9 %"]
    assert shown["new_diff"].tolist() == ["0", "+2"]
    triangle = pd.DataFrame({0: [1.0, 1.0], 1: [0.5, math.nan]})
    corner = f.people_frame(triangle, {0: "share", 1: "share"}, na_rep="")
    assert corner[1].tolist() == ["50.0 %", ""]


def test_people_kpis_writes_each_kpi_its_own_way():
    frame = pd.DataFrame(
        {
            "value": [1200.0, 0.6],
            "previous": [1000.0, 0.3],
            "change": [200.0, 0.3],
            "pct_change": [0.2, 1.0],
        },
        index=pd.Index(["unique_users", "returning_share"], name="kpi"),
    )
    shown = f.people_kpis(frame, {"unique_users": "Unique users"})
    assert shown.loc["Unique users"].tolist() == ["1,200", "1,000", "+200 (+20.0 %)"]
    assert shown.loc["returning_share"].tolist() == ["60.0 %", "30.0 %", "+30.0 pp (+100.0 %)"]
