"""The portfolio page and portfolio.json: rows from the sidecars, totals, sparklines, sorting.

Unit tests on hand-made sidecars, then the demo's reports (two demo platforms) in headless
Chromium: rows, sparklines, sorting by a click, links, numbers equal to the sidecars.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engagement_kit import demo, report
from engagement_kit.report.portfolio import (
    NOT_ADDITIVE_NOTE,
    portfolio_rows,
    sparkline_svg,
    text_bars,
    write_portfolio,
)
from engagement_kit.store import files as report_files
from tests.report.test_browser import assert_shown, browser, save_screenshot, watch  # noqa: F401

WEEK = "2025-W47"


def sidecar(name, unique, *, platform="", share=0.4, before=0.35, weeks=12, alerts=(), checks=0):
    return {
        "stream_id": f"st-{name}",
        "stream_name": name,
        "week": WEEK,
        "start": "2025-11-17",
        "end": "2025-11-23",
        "platform": platform,
        "host": "https://platform.kore.ai" if not platform else f"https://{platform}.kore.ai",
        "kpis": {"unique_users": unique, "new_users": unique // 2, "returning_share": share},
        "previous_kpis": {"unique_users": unique - 10, "returning_share": before},
        "change": {"unique_users": {"change": 10, "pct_change": 10 / (unique - 10)}},
        "history": [
            {"week": f"2025-W{36 + i:02d}", "unique_users": unique - 5 * (weeks - 1 - i)}
            for i in range(weeks)
        ],
        "alerts": [{"name": a, "message": f"{a} fired"} for a in alerts],
        "checks": [{"level": "warning", "check": "c", "message": "odd", "answer": "a"}] * checks,
    }


def put(out: Path, data: dict, week: str = WEEK, html: bool = True) -> None:
    folder = out / report_files.stream_slug(data["stream_name"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{week}.json").write_text(json.dumps(data))
    if html:
        (folder / f"{week}.html").write_text("<html><h1>report</h1></html>")


def test_rows_come_from_each_streams_newest_sidecar_largest_first(tmp_path):
    put(tmp_path, sidecar("Small bot", 40, platform="eu", alerts=["drop"], checks=2))
    put(tmp_path, sidecar("Big bot", 4000))
    old = sidecar("Big bot", 1)
    put(tmp_path, {**old, "week": "2025-W40"}, week="2025-W40")  # an older week: not shown
    (tmp_path / "_assets").mkdir()  # not a stream
    rows = portfolio_rows(tmp_path)
    assert [r["stream_name"] for r in rows] == ["Big bot", "Small bot"]
    big, small = rows
    assert big["week"] == WEEK and big["unique_users"] == 4000
    assert big["platform"] == "platform.kore.ai" and small["platform"] == "eu"
    assert small["returning_share_change"] == pytest.approx(0.05)
    assert small["alerts"] == ["drop fired"] and small["failed_checks"] == ["odd", "odd"]
    assert big["href"] == f"big-bot/{WEEK}.html" and len(big["history"]) == 12


def test_the_json_holds_the_pages_numbers_and_an_honest_total(tmp_path):
    put(tmp_path, sidecar("A", 100))
    put(tmp_path, sidecar("B", 50, platform="eu"))
    page = write_portfolio(tmp_path).read_text()
    data = json.loads((tmp_path / "portfolio.json").read_text())
    assert data["totals"]["unique_users_sum"] == 150
    assert data["totals"]["platforms"] == ["eu", "platform.kore.ai"]
    assert data["totals"]["note"] == NOT_ADDITIVE_NOTE
    assert "do not add up across bots" in page and "<svg" in page
    assert page.index(">A</a>") < page.index(">B</a>")  # by unique users without the script


def test_names_are_escaped_and_missing_numbers_say_so(tmp_path):
    data = sidecar("<b>x</b>", 30)
    data["kpis"]["returning_share"] = None
    put(tmp_path, data)
    page = write_portfolio(tmp_path).read_text()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert ">n/a<" in page


def test_sparklines_as_svg_and_as_text_bars():
    history = [{"week": f"W{i}", "unique_users": v} for i, v in enumerate([1, 5, 3, None, 9])]
    svg = sparkline_svg(history)
    assert svg.startswith("<svg") and 'data-points="4"' in svg and "W4: 9" in svg
    assert text_bars(history) == "▁▅▃ █"
    assert sparkline_svg([]) == "" and text_bars([{"unique_users": None}]) == ""


def test_the_index_links_the_portfolio_first(tmp_path):
    put(tmp_path, sidecar("A", 100))
    index = report.write_index(tmp_path).read_text()
    assert (tmp_path / "portfolio.html").is_file()
    first_link = index.index("<a href=")
    assert index[first_link:].startswith('<a href="portfolio.html">')


# -- in a browser, on the demo's reports ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory) -> Path:
    """The demo streams' reports of WEEK (two demo platforms), one with alerts and a check."""
    home = tmp_path_factory.mktemp("portfolio")
    out = home / "reports"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("KORE_"):
                mp.delenv(name)
        mp.setenv("ENGAGEMENT_KIT_STORE", str(home / "store.sqlite3"))
        mp.chdir(home)
        results = report.render_all(demo.demo_streams(), week=WEEK, out_dir=out, jobs=2, quiet=True)
    assert [r.status for r in results] == ["written"] * 3, [r.error for r in results]
    small = next(out.glob(f"servicedesk-*/{WEEK}.json"))
    data = json.loads(small.read_text())
    data["alerts"] = [{"name": "drop", "message": "Unique users fell"}]
    data["checks"].append({"level": "warning", "check": "x", "message": "odd", "answer": "a"})
    small.write_text(json.dumps(data))
    report.write_index(out)
    return out


@pytest.mark.browser
@pytest.mark.slow
def test_portfolio_in_a_browser(browser, demo_reports):  # noqa: F811
    out = demo_reports
    sidecars = {p.parent.name: json.loads(p.read_text()) for p in out.glob(f"*/{WEEK}.json")}
    context = browser.new_context(viewport={"width": 1300, "height": 700})
    page = context.new_page()
    seen = watch(page, allowed=lambda u: u.startswith("file://"))
    try:
        page.goto((out / "index.html").as_uri())
        page.click("p.portfolio-link a")
        page.wait_for_selector("tr.stream-row")
        assert page.url == (out / "portfolio.html").as_uri()
        save_screenshot(page, "portfolio.png", full_page=True)
        rows = page.eval_on_selector_all(
            "tr.stream-row",
            """rows => rows.map(r => ({slug: r.dataset.slug,
                cells: [...r.cells].map(c => c.innerText.trim()),
                spark: r.querySelectorAll('svg.spark polyline').length,
                points: (r.querySelector('svg.spark') || {dataset: {}}).dataset.points}))""",
        )
        assert [r["slug"] for r in rows] == sorted(
            sidecars, key=lambda s: -sidecars[s]["kpis"]["unique_users"]
        )
        assert {r["cells"][1] for r in rows} == {"us", "eu"}  # two demo platforms
        for row in rows:
            data = sidecars[row["slug"]]
            _name, _platform, week, unique, _pct, new, share = row["cells"][:7]
            assert week == data["week"] == WEEK
            assert_shown(unique, data["kpis"]["unique_users"], what=f"{row['slug']} unique")
            assert_shown(new, data["kpis"]["new_users"], what=f"{row['slug']} new")
            assert_shown(share, data["kpis"]["returning_share"], what=f"{row['slug']} share")
            assert row["spark"] == 1 and int(row["points"]) == len(data["history"]) == 12
            assert row["cells"][9] == str(len(data.get("alerts") or []))
            failed = [c for c in data["checks"] if c["level"] in ("warning", "error")]
            assert row["cells"][10] == str(len(failed))
        assert "Unique users fell" in page.get_attribute(
            "tr[data-slug^='servicedesk'] td.alerts", "title"
        )

        # sorting: by platform (text), then by alerts descending (number)
        page.click("thead th:nth-child(2) button")
        platforms = page.eval_on_selector_all("td.platform", "c => c.map(x => x.innerText)")
        assert platforms == sorted(platforms, reverse=True)
        page.click("thead th:nth-child(10) button")
        first = page.eval_on_selector("tbody tr", "r => r.dataset.slug")
        assert first.startswith("servicedesk")
        unique = "td.unique"
        page.click("thead th:nth-child(4) button")  # unique users, largest first
        uniques = page.eval_on_selector_all(unique, "c => c.map(x => +x.dataset.value)")
        assert uniques == sorted(uniques, reverse=True)
        page.click("thead th:nth-child(4) button")  # again: smallest first
        uniques = page.eval_on_selector_all(unique, "c => c.map(x => +x.dataset.value)")
        assert uniques == sorted(uniques)

        # links open each stream's report
        for slug in sidecars:
            page.click(f"tr[data-slug='{slug}'] td:first-child a")
            page.wait_for_selector("h1")
            assert page.url == (out / slug / f"{WEEK}.html").as_uri()
            page.go_back()
            page.wait_for_selector("tr.stream-row")
        page.set_content("")
    finally:
        context.close()
    seen.assert_clean()
    data = json.loads((out / "portfolio.json").read_text())
    assert {r["slug"]: r["unique_users"] for r in data["rows"]} == {
        s: d["kpis"]["unique_users"] for s, d in sidecars.items()
    }
