"""Tests that close the gaps mutation testing found in engagement_kit.report's index page (see
benchmarks/MUTATION.md): what each row of ``reports/index.html`` says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engagement_kit import report


def _write(folder: Path, name: str, data: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


def _row(page: str, slug: str, week: str) -> str:
    match = re.search(rf'data-slug="{slug}" data-week="{week}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {slug} {week}"
    return match.group(1)


def _cells(row: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", c).split())
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_a_report_row_shows_its_numbers_notes_alerts_and_deliveries(tmp_path):
    sidecar = {
        "stream_id": "st-a",
        "stream_name": "Alpha",
        "week": "2025-W48",
        "start": "2025-11-24",
        "end": "2025-11-30",
        "tz": "Europe/Berlin",
        "kpis": {"unique_users": 1200, "new_users": 300, "returning_users": 900},
        "change": {"unique_users": {"pct_change": -0.25}},
        "checks": [{"level": "warning"}, {"level": "info"}, {"level": "warning"}],
        "anomalies": [{"date": "2025-11-25"}],
        "alerts": [{"message": "new users fell"}],
    }
    _write(tmp_path / "alpha", "2025-W48.json", sidecar)
    (tmp_path / "alpha" / "2025-W48.html").write_text("<html></html>")
    _write(
        tmp_path / "alpha",
        "2025-W48.delivery.json",
        {
            "deliveries": [
                {"kind": "email", "destination": "team", "status": "sent", "detail": ""},
                {"kind": "chat", "destination": "ops", "status": "failed", "detail": "HTTP 500"},
            ]
        },
    )
    page = report.write_index(tmp_path).read_text()
    assert "(2025-11-24 to 2025-11-30)" in page
    row = _row(page, "alpha", "2025-W48")
    assert 'class="down"' in row
    cells = _cells(row)
    assert cells[0].split() == ["Alpha", "st-a", "·", "Europe/Berlin"]
    assert cells[1:5] == ["1,200", "−25.0 %", "300", "900"]
    notes = cells[5]
    assert "1 unusual day." in notes and "2 data warnings." in notes
    assert "Alert: new users fell" in notes
    assert "email to team: sent" in notes and "chat to ops: failed (HTTP 500)" in notes
    assert '<a href="alpha/2025-W48.html">report</a>' in row
    assert '<a href="alpha/2025-W48.json">json</a>' in row
    assert "1 stream," in page


def test_a_failed_run_shows_when_it_failed_and_links_its_notebook(tmp_path):
    folder = tmp_path / "gamma"
    _write(
        folder,
        "2025-W48.error.json",
        {
            "week": "2025-W48",
            "error": "NotFoundError: unknown stream",
            "failed_at": "2025-12-01 06:00 UTC",
            "notebook": "2025-W48.failed.ipynb",
        },
    )
    (folder / "2025-W48.failed.ipynb").write_text("{}")
    _write(folder, "2025-W47.error.json", {"week": "2025-W47", "notebook": "../escape.ipynb"})
    page = report.write_index(tmp_path).read_text()
    row = _row(page, "gamma", "2025-W48")
    # no stream_name or stream_id in the file: the folder name, and no id
    assert _cells(row)[0] == "gamma"
    assert "Failed (2025-12-01 06:00 UTC): NotFoundError: unknown stream" in row
    assert '<a href="gamma/2025-W48.failed.ipynb">notebook</a>' in row
    older = _row(page, "gamma", "2025-W47")
    assert "Failed: unknown error" in older and "notebook" not in older


def test_a_report_after_a_failure_keeps_the_failure_note_and_the_first_name(tmp_path):
    folder = tmp_path / "beta"
    _write(folder, "2025-W48.error.json", {"stream_name": "Beta", "error": "boom"})
    _write(
        folder,
        "2025-W48.json",
        {"stream_name": "", "stream_id": "st-b", "kpis": {"unique_users": 5}, "change": {}},
    )
    page = report.write_index(tmp_path).read_text()
    row = _row(page, "beta", "2025-W48")
    assert _cells(row)[0].split()[:2] == ["Beta", "st-b"]
    assert "Last run failed: boom" in row
    assert 'href="beta/2025-W48.json"' in row and "2025-W48.html" not in row


def test_folders_that_are_not_stream_slugs_are_not_listed(tmp_path):
    _write(tmp_path / "Not A Slug", "2025-W48.json", {"stream_name": "Odd"})
    _write(tmp_path / "ok", "2025-W48.json", {"stream_name": "Fine"})
    _write(tmp_path / "ok", "2025-W48.delivery.json", [])  # not an object: ignored
    page = report.write_index(tmp_path).read_text()
    assert "Odd" not in page and "Fine" in page
    assert "1 stream," in page


# -- a report belongs to its stream id (issue 22.7) ------------------------------------------


def _sidecar(stream_id: str, name: str, week: str, users: int) -> dict:
    return {
        "stream_id": stream_id,
        "stream_name": name,
        "week": week,
        "kpis": {"unique_users": users},
    }


def test_a_sidecar_of_another_stream_in_a_streams_folder_is_not_listed(tmp_path):
    from engagement_kit.store.files import stream_slug

    own = stream_slug("Support bot", "st-1")
    _write(tmp_path / own, "2025-W47.json", _sidecar("st-1", "Support bot", "2025-W47", 11))
    # a copy (or a clash) put st-2's numbers into st-1's folder: never shown as st-1's
    _write(tmp_path / own, "2025-W48.json", _sidecar("st-2", "Support Bot", "2025-W48", 22))
    page = report.write_index(tmp_path).read_text()
    assert f'data-slug="{own}" data-week="2025-W48"' not in page
    assert "22" not in " ".join(_cells(_row(page, own, "2025-W47")))


def test_reports_in_the_folder_of_an_earlier_version_are_still_listed_once(tmp_path):
    from engagement_kit.store.files import stream_slug

    legacy, keyed = "support-bot", stream_slug("Support bot", "st-1")
    _write(tmp_path / legacy, "2025-W46.json", _sidecar("st-1", "Support bot", "2025-W46", 5))
    _write(tmp_path / legacy, "2025-W47.json", _sidecar("st-1", "Support bot", "2025-W47", 6))
    _write(tmp_path / keyed, "2025-W47.json", _sidecar("st-1", "Support bot", "2025-W47", 7))
    page = report.write_index(tmp_path).read_text()
    rows = re.findall(r'data-slug="([^"]+)" data-week="([^"]+)"', page)
    assert sorted(rows) == [(legacy, "2025-W46"), (keyed, "2025-W47")]  # the new copy wins
