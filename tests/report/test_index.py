"""Tests that close the gaps mutation testing found in engagement_kit.report's index page (see
benchmarks/MUTATION.md): what each row of ``reports/index.html`` says."""

from __future__ import annotations

import json
import os
import re
import shutil
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


def _owned(stream_id: str, name: str, week: str, users: int) -> dict:
    return {
        "stream_id": stream_id,
        "stream_name": name,
        "week": week,
        "kpis": {"unique_users": users},
    }


def test_a_sidecar_of_another_stream_in_a_streams_folder_is_not_listed(tmp_path):
    from engagement_kit.store.files import stream_slug

    own = stream_slug("Support bot", "st-1")
    _write(tmp_path / own, "2025-W47.json", _owned("st-1", "Support bot", "2025-W47", 11))
    # a copy (or a clash) put st-2's numbers into st-1's folder: never shown as st-1's
    _write(tmp_path / own, "2025-W48.json", _owned("st-2", "Support Bot", "2025-W48", 22))
    page = report.write_index(tmp_path).read_text()
    assert f'data-slug="{own}" data-week="2025-W48"' not in page
    assert "22" not in " ".join(_cells(_row(page, own, "2025-W47")))


def test_reports_in_the_folder_of_an_earlier_version_are_still_listed_once(tmp_path):
    from engagement_kit.store.files import stream_slug

    legacy, keyed = "support-bot", stream_slug("Support bot", "st-1")
    _write(tmp_path / legacy, "2025-W46.json", _owned("st-1", "Support bot", "2025-W46", 5))
    _write(tmp_path / legacy, "2025-W47.json", _owned("st-1", "Support bot", "2025-W47", 6))
    _write(tmp_path / keyed, "2025-W47.json", _owned("st-1", "Support bot", "2025-W47", 7))
    page = report.write_index(tmp_path).read_text()
    rows = re.findall(r'data-slug="([^"]+)" data-week="([^"]+)"', page)
    assert sorted(rows) == [(legacy, "2025-W46"), (keyed, "2025-W47")]  # the new copy wins


# -- the catalogue: a build reads what changed, the index stays short, every week has a page ----

PAST_NS = 1_700_000_000 * 10**9  # 2023-11-14: timestamps too old to be "racy"


def _sidecar(slug: str, week: str, users: int) -> dict:
    return {
        "stream_id": f"st-{slug}",
        "stream_name": slug.title(),
        "week": week,
        "start": "s",
        "end": "e",
        "tz": "UTC",
        "kpis": {"unique_users": users, "new_users": 1, "returning_users": 2},
        "change": {"unique_users": {"pct_change": 0.1}},
    }


def _weeks(first_year: int, n: int) -> list[str]:
    return [f"{first_year + i // 52}-W{i % 52 + 1:02d}" for i in range(n)]


def _age(out: Path) -> None:
    """Every file and folder under ``out`` as if written long ago (distinct, old timestamps)."""
    for i, path in enumerate(sorted(out.rglob("*"), reverse=True)):
        os.utime(path, ns=(PAST_NS + i * 10**9, PAST_NS + i * 10**9))


def _links_resolve(page_path: Path) -> list[str]:
    hrefs = re.findall(r'href="([^"]+)"', page_path.read_text(encoding="utf-8"))
    for href in hrefs:
        assert (page_path.parent / href).is_file(), f"{page_path.name}: {href}"
    return hrefs


def test_a_build_reads_only_the_new_report_and_lists_only_its_stream(tmp_path, monkeypatch):
    from engagement_kit.report import index

    for slug in ("alpha", "beta"):
        for i, week in enumerate(_weeks(2024, 30)):
            _write(tmp_path / slug, f"{week}.json", _sidecar(slug, week, 100 + i))
    report.write_index(tmp_path)
    _age(tmp_path)
    report.write_index(tmp_path)  # settles what the first build saw as too recent
    reads, listed = [], []
    real_read, real_scan = Path.read_text, index.os.scandir
    monkeypatch.setattr(
        Path, "read_text", lambda p, *a, **k: reads.append(p.name) or real_read(p, *a, **k)
    )
    monkeypatch.setattr(index.os, "scandir", lambda p: listed.append(Path(p).name) or real_scan(p))
    _write(tmp_path / "beta", "2024-W31.json", _sidecar("beta", "2024-W31", 999))
    index_page = report.write_index(tmp_path)
    assert reads == ["_index.json", "beta.json", "2024-W31.json"]  # the catalogue, then the new
    page = index_page.read_text()
    assert sorted(listed) == sorted([tmp_path.name, "beta"])  # alpha's folder: not even listed
    assert _row(page, "beta", "2024-W31")
    latest = re.search(r'data-stream="beta">(.*?)</tr>', page, re.S).group(1)
    assert "2024-W31" in latest and "999" in latest


def test_changed_and_removed_sidecars_and_a_lost_catalogue_are_noticed(tmp_path):
    from engagement_kit.store.files import atomic_write

    for week in _weeks(2025, 3):
        _write(tmp_path / "alpha", f"{week}.json", _sidecar("alpha", week, 10))
    first = report.write_index(tmp_path).read_text()
    assert _cells(_row(first, "alpha", "2025-W03"))[1] == "10"
    # rewritten at once, same size: caught because it is too recent to trust its timestamp
    atomic_write(
        tmp_path / "alpha" / "2025-W03.json", json.dumps(_sidecar("alpha", "2025-W03", 20))
    )
    assert _cells(_row(report.write_index(tmp_path).read_text(), "alpha", "2025-W03"))[1] == "20"
    _age(tmp_path)
    report.write_index(tmp_path)
    (tmp_path / "alpha" / "2025-W03.json").unlink()
    page = report.write_index(tmp_path).read_text()
    assert 'data-week="2025-W03"' not in page and _row(page, "alpha", "2025-W02")
    shutil.rmtree(tmp_path / "_catalogue")
    rebuilt = report.write_index(tmp_path).read_text()
    assert re.sub(r"Updated [^<]* by", "", rebuilt) == re.sub(r"Updated [^<]* by", "", page)
    (tmp_path / "_catalogue" / "_index.json").write_text('{"format": 0, "streams": {}}')
    assert _row(report.write_index(tmp_path).read_text(), "alpha", "2025-W02")
    shutil.rmtree(tmp_path / "alpha")
    assert "No reports yet" in report.write_index(tmp_path).read_text()
    assert not (tmp_path / "_catalogue" / "alpha.json").exists()


def test_the_index_shows_every_streams_latest_and_recent_weeks_history_pages_the_rest(tmp_path):
    weeks = _weeks(2024, 60)  # 2024-W01 .. 2025-W08
    for i, week in enumerate(weeks):
        _write(tmp_path / "alpha", f"{week}.json", _sidecar("alpha", week, i))
        (tmp_path / "alpha" / f"{week}.html").write_text("<html></html>")
    _write(tmp_path / "old", "2020-W10.json", _sidecar("old", "2020-W10", 5))  # stopped long ago
    index_path = report.write_index(tmp_path)
    page = index_path.read_text()
    shown = re.findall(r'class="stream-row" data-slug="([^"]+)" data-week="([^"]+)"', page)
    assert shown == [("alpha", w) for w in weeks[::-1][: report.index.RECENT_WEEKS]]
    latest = re.findall(r'data-stream="([^"]+)">(.*?)</tr>', page, re.S)
    assert [slug for slug, _ in latest] == ["alpha", "old"]  # by name
    assert (
        '<a href="alpha/2025-W08.html">2025-W08</a>' in latest[0][1] and "60 weeks" in latest[0][1]
    )
    assert "2020-W10" in latest[1][1] and "1 week<" in latest[1][1]
    hrefs = _links_resolve(index_path)
    assert "alpha/history/index.html" in hrefs and "old/history/index.html" in hrefs
    history = tmp_path / "alpha" / "history"
    newest = history / "index.html"
    rows = re.findall(r'data-week="([^"]+)"', newest.read_text())
    assert rows == weeks[::-1][: report.index.HISTORY_WEEKS]
    assert set(_links_resolve(newest)) >= {"2024.html", "2025.html", "../../alpha/2025-W08.html"}
    for year, count in (("2024", 52), ("2025", 8)):
        text = (history / f"{year}.html").read_text()
        assert re.findall(r'data-week="([^"]+)"', text) == [w for w in weeks[::-1] if w[:4] == year]
        assert len(re.findall(r'class="stream-row"', text)) == count
        _links_resolve(history / f"{year}.html")
