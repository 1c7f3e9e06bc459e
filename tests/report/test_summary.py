"""Logs that fit where they are read: the batch summary in an 80-column terminal and in a log.

The summary used to print whole absolute paths in a table wrapped to 80 columns: seven lines per
row in a cron log. Now a terminal gets a table fitted to its width (a row takes one line, or two
when the path does not fit beside the numbers) and anything else gets one plain line per stream.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from engagement_kit import report
from engagement_kit.demo import DEMO_STREAMS
from engagement_kit.formatting import display_path, plain_output
from engagement_kit.store import files as report_files

WEEK = "2025-W48"
ERROR = (
    "NotFoundError: HTTP 404: Bot not found: no app with streamId 'st-x' on this host. Check the "
    "App ID on the app's General Settings page."
)


@pytest.fixture
def results(tmp_path, monkeypatch):
    """Two written reports and a failed one, with absolute paths inside the current folder."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports"
    made = []
    for number, stream in enumerate(DEMO_STREAMS):
        slug = report_files.stream_slug(stream.name, stream.id)
        base = {"stream_id": stream.id, "stream_name": stream.name, "slug": slug, "week": WEEK}
        if number < 2:
            made.append(
                report.ReportResult(
                    **base,
                    status="written",
                    html=out / slug / f"{WEEK}.html",
                    unique_users=4111 * (number + 1),
                    change=0.009 - number * 0.2,
                )
            )
        else:
            made.append(
                report.ReportResult(
                    **base,
                    status="failed",
                    notebook=out / slug / f"{WEEK}.failed.ipynb",
                    error=ERROR,
                )
            )
    return made


def _print(results, **console_options) -> tuple[str, Console]:
    buffer = io.StringIO()
    console = Console(file=buffer, color_system=None, **console_options)
    report.print_summary(results, console=console)
    return buffer.getvalue(), console


def test_paths_are_shown_relative_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "reports" / "a" / f"{WEEK}.html"
    assert display_path(inside) == f"reports/a/{WEEK}.html"
    assert display_path(tmp_path) == "."
    elsewhere = Path("/opt/engagement/reports/a.html")
    assert display_path(elsewhere, cwd=tmp_path) == "/opt/engagement/reports/a.html"
    if not tmp_path.is_relative_to(Path.home()):
        assert display_path(Path.home() / "x" / "r.html", cwd=tmp_path) == "~/x/r.html"
    assert display_path(None) == ""


def test_in_an_80_column_terminal_every_row_takes_at_most_two_lines(results, tmp_path):
    text, console = _print(results, width=80, force_terminal=True)
    assert not plain_output(console)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert str(tmp_path) not in text  # relative paths only
    for r in results:
        rows = [n for n, line in enumerate(lines) if line.startswith(r.stream_name + "  ")]
        assert len(rows) == 1, r.stream_name
        below = lines[rows[0] + 1]
        path = r.html if r.ok else r.notebook
        assert below.strip() == display_path(path)  # the path, whole, on the next line
    assert f"reports/{results[0].slug}/{WEEK}.html" in text
    assert any(
        line.startswith(f"{results[2].stream_name} ({WEEK}): NotFoundError") for line in lines
    )
    assert lines[-1] == "Index: reports/index.html"


def test_in_a_wide_terminal_every_row_is_one_line(results):
    text, _ = _print(results, width=140, force_terminal=True)
    lines = text.splitlines()
    for r in results:
        (row,) = [line for line in lines if line.startswith(r.stream_name + "  ")]
        assert display_path(r.html if r.ok else r.notebook) in row
    assert "written" in text and "4,111" in text and "+0.9 %" in text and "−19.1 %" in text


def test_columns_from_the_environment_are_honoured(results, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text, console = _print(results, force_terminal=True)
    assert console.width == 80
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80


def test_not_a_terminal_prints_one_plain_line_per_stream(results):
    text, console = _print(results, width=80)  # a file: what cron or a pipe gets
    assert plain_output(console)
    lines = text.splitlines()
    assert lines[0] == "Weekly reports: 2 written, 1 failed"
    assert lines[1] == (
        f"written  {results[0].stream_name}  {WEEK}  4,111 users  +0.9 %  "
        f"reports/{results[0].slug}/{WEEK}.html"
    )
    assert lines[3].startswith(f"failed   {results[2].stream_name}  {WEEK}  {ERROR}")
    assert lines[3].endswith(f"(notebook kept: reports/{results[2].slug}/{WEEK}.failed.ipynb)")
    assert lines[4] == "Index: reports/index.html"
    assert len(lines) == 5  # nothing wrapped, although lines are longer than 80
    assert not any(ch in text for ch in "│─━┃")  # no table drawing in a log


def test_a_week_that_differs_between_streams_gets_its_own_column(results):
    mixed = [results[0], report.ReportResult(**{**results[1].__dict__, "week": "2025-W47"})]
    table = report.summary_table(mixed)
    assert [c.header for c in table.columns][:2] == ["stream", "week"]
    assert table.title == "Weekly reports"
    assert report.summary_table(results).title == f"Weekly reports, {WEEK}"


def test_reports_and_deliveries_share_one_status_vocabulary_and_exit_rule():
    from engagement_kit.delivery import Outcome
    from engagement_kit.report.summary import STATUS_STYLES, exit_code, status_text

    outcomes = [
        Outcome(("st-a",), WEEK, "json://x", "report", status)
        for status in ("sent", "skipped", "dry-run")
    ]
    assert {o.status for o in outcomes} | {"written", "failed", "no data"} == set(STATUS_STYLES)
    assert status_text("failed").style == "bold red" and status_text("written").style == "green"
    assert exit_code(outcomes) == 0
    failed = Outcome(("st-a",), WEEK, "json://x", "report", "failed")
    assert not failed.ok and exit_code([*outcomes, failed]) == 1
    assert exit_code([]) == 1 and exit_code([], nothing_done=0) == 0
