"""Weekly reports in a real browser: headless Chromium opens them from disk, offline.

``report.render_all`` writes the demo streams' reports once for this module (real kernels,
seconds). Each page is opened with every request that is not ``file:`` aborted and recorded:
none may be attempted. On each report every chart container gets a drawn SVG or canvas, a
tooltip appears when the mouse is over a data point of each chart, the KPI numbers on the page
equal the sidecar JSON, and the console stays free of errors. The index lists every report with
the sidecar's numbers and its links open the reports. A stream with ``cohorts = true`` also
draws its cohort heatmap and lifecycle bars offline, with the sidecar's percentages in the
cells and its counts in the tooltips. Screenshots of a report and of the index
go to ``test-output/screenshots/`` (kept by CI's logs; ``docs/img`` holds committed copies).

Also the shared browser plumbing for ``test_browser_dashboard.py``: where Chromium is, how it
is launched, and :class:`Watch` (console errors and requests outside what a page may load).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engagement_kit import demo, report
from engagement_kit.store import files as report_files
from tests.builders import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = REPO / "test-output" / "screenshots"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Headless Chromium as root in a container, and nothing that dials out on its own.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
VIEWPORT = {"width": 1200, "height": 900}
WEEK = "2025-W47"  # a complete week, the same for every stream: reproducible pages
STREAMS = demo.demo_streams()


# -- shared browser plumbing -----------------------------------------------------------------


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    """A missing browser fails under CI (the suite must not go green without it), else skips."""
    if _on_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    """``$CHROMIUM`` (a path or a command name) or ``/usr/bin/chromium``."""
    wanted = os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    if found is None:
        _missing(
            f"Chromium not found at {wanted} (install Debian's chromium package, as .ci/run "
            "does, or set $CHROMIUM)"
        )
    return str(found)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Playwright's sync API, Debian's binary)."""
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright's Python package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=list(LAUNCH_ARGS), headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclasses.dataclass
class Watch:
    """What a page did that it must not: console errors, page errors, outside requests."""

    errors: list[str] = dataclasses.field(default_factory=list)
    outside: list[str] = dataclasses.field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors: " + "; ".join(self.errors)
        assert self.outside == [], "requests outside the page's own origin: " + ", ".join(
            self.outside
        )


def watch(page: Any, *, allowed: Callable[[str], bool]) -> Watch:
    """Record console/page errors and abort (and record) every request ``allowed`` refuses."""
    seen = Watch()

    def on_console(message: Any) -> None:
        if message.type == "error":
            seen.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def route(found: Any) -> None:
        url = found.request.url
        if allowed(url):
            found.continue_()
        else:
            seen.outside.append(url)
            found.abort()

    def on_websocket(socket: Any) -> None:
        if not allowed(socket.url):
            seen.outside.append(socket.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(f"page error: {error}"))
    page.on("websocket", on_websocket)
    page.route("**/*", route)
    return seen


def save_screenshot(page: Any, name: str, **options: Any) -> Path:
    """Write ``test-output/screenshots/<name>`` and check it is a real PNG."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), **options)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, path
    return path


def assert_shown(text: str, expected: float | None, *, what: str) -> None:
    """A number as a page shows it (``1,091``, ``77.9``, ``50.2 %``, ``n/a``) equals ``expected``.

    Equal means within half a unit of the last digit shown; a share (``%``) is compared with
    ``expected * 100``.
    """
    text = text.strip()
    if expected is None:
        assert text in {"n/a", "–", ""}, f"{what}: page shows {text!r}, expected no value"
        return
    match = re.fullmatch(r"([+−-]?[\d,]+(?:\.(\d+))?)\s*(%?)", text)
    assert match, f"{what}: {text!r} is not a number"
    shown = float(match.group(1).replace(",", "").replace("−", "-"))
    decimals = len(match.group(2) or "")
    target = expected * 100 if match.group(3) else expected
    assert abs(shown - target) <= 0.5 * 10**-decimals + 1e-9, f"{what}: {text!r} != {target!r}"


# -- the reports -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every demo stream's report of :data:`WEEK`, written once into a temporary folder."""
    home = tmp_path_factory.mktemp("browser-reports")
    out = home / "reports"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("KORE_"):
                mp.delenv(name)
        mp.setenv("ENGAGEMENT_KIT_STORE", str(home / "store.sqlite3"))
        mp.chdir(home)  # no developer .env or streams.toml is read
        results = report.render_all(STREAMS, week=WEEK, out_dir=out, jobs=2, quiet=True)
    assert [r.status for r in results] == ["written"] * len(STREAMS), [r.error for r in results]
    return out


def _report_file(out: Path, stream: Any) -> Path:
    return out / report_files.stream_slug(stream.name, stream.id) / f"{WEEK}.html"


def _open_offline(browser: Any, url: str) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    seen = watch(page, allowed=lambda u: u.startswith("file://"))
    page.goto(url)
    return context, page, seen


_CHARTS_DRAWN = """() => {
  const charts = [...document.querySelectorAll('.ek-chart')];
  return charts.length > 0 && charts.every(c => c.querySelector('svg.marks, canvas'));
}"""
#: Data points of a Vega chart (points and bars/cells), not legend symbols or axes.
_DATA_MARKS = "svg.marks g.role-mark.mark-symbol > path, svg.marks g.role-mark.mark-rect > path"


@pytest.mark.parametrize("stream", STREAMS, ids=[s.id for s in STREAMS])
def test_report_draws_every_chart_offline_with_tooltips_and_sidecar_kpis(browser, reports, stream):
    html_file = _report_file(reports, stream)
    sidecar = json.loads(html_file.with_suffix(".json").read_text(encoding="utf-8"))
    context, page, seen = _open_offline(browser, html_file.as_uri())
    try:
        page.wait_for_function(_CHARTS_DRAWN, timeout=30_000)
        if stream is STREAMS[0]:  # the headline, the KPI table and the first chart
            page.evaluate("document.querySelector('.ek-headline').scrollIntoView()")
            save_screenshot(page, "report.png")
        charts = page.eval_on_selector_all(".ek-chart", "els => els.map(e => e.id)")
        # trend, new vs returning, peak hours, history, channels (+ cohorts, lifecycle and
        # back after the first conversation)
        assert len(charts) == 5 + 3 * stream.cohorts
        assert ("cohorts" in sidecar) == stream.cohorts

        tooltips = {}
        for chart_id in charts:
            page.mouse.move(0, 0)
            page.locator(f"#{chart_id}").locator(_DATA_MARKS).first.hover(force=True)
            page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
            tooltips[chart_id] = page.inner_text("#vg-tooltip-element")
        for chart_id, text in tooltips.items():
            assert re.search(r"\d", text), f"{chart_id}: empty tooltip {text!r}"

        assert page.title() == f"Weekly report: {stream.name}, {WEEK}"
        rows = page.eval_on_selector_all(
            "table.ek-kpis tr[data-kpi]",
            """rows => rows.map(r => [r.dataset.kpi, ...[...r.cells].map(c => c.innerText)])""",
        )
        assert [row[0] for row in rows] == list(sidecar["kpis"])
        for kpi, _label, value, previous, _change in rows:
            assert_shown(value, sidecar["kpis"][kpi], what=f"{stream.id} {kpi}")
            assert_shown(previous, sidecar["previous_kpis"][kpi], what=f"{stream.id} prev {kpi}")
        headline = page.inner_text(".ek-headline b")
        assert_shown(headline, sidecar["kpis"]["unique_users"], what="headline")
        assert page.evaluate("typeof window.vegaEmbed") == "function"
    finally:
        context.close()
    seen.assert_clean()


_COHORT_STREAMS = [s for s in STREAMS if s.cohorts]
#: The ids of the two charts after the *Cohorts* heading: the heatmap and the lifecycle bars.
_COHORT_CHARTS = """() => {
  const h = [...document.querySelectorAll('h2')].find(e => e.textContent.startsWith('Cohorts'));
  return [...document.querySelectorAll('.ek-chart')]
    .filter(c => h.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING)
    .slice(0, 2).map(c => c.id);
}"""


@pytest.mark.parametrize("stream", _COHORT_STREAMS, ids=[s.id for s in _COHORT_STREAMS])
def test_cohort_section_draws_offline_and_its_numbers_are_the_sidecars(browser, reports, stream):
    html_file = _report_file(reports, stream)
    cohorts = json.loads(html_file.with_suffix(".json").read_text(encoding="utf-8"))["cohorts"]
    assert cohorts["status"] == "ok" and len(cohorts["triangle"]) > 8
    context, page, seen = _open_offline(browser, html_file.as_uri())
    try:
        page.wait_for_function(_CHARTS_DRAWN, timeout=30_000)
        heatmap, lifecycle = (f"#{i}" for i in page.evaluate(_COHORT_CHARTS))
        page.locator(heatmap).scroll_into_view_if_needed()
        save_screenshot(page, "report-cohorts.png")
        assert page.inner_text(".ek-reading") == cohorts["reading"]
        # one drawn cell and one percentage per (cohort, offset) of the sidecar, row by row
        cells = page.locator(heatmap).locator("svg.marks g.role-mark.mark-rect > path")
        assert cells.count() == len(cohorts["triangle"])
        shown = page.eval_on_selector_all(
            f"{heatmap} svg.marks g.role-mark.mark-text text", "els => els.map(e => e.textContent)"
        )
        expected = sorted(cohorts["triangle"], key=lambda r: (r["cohort"], r["offset"]))
        assert len(shown) == len(expected)
        for text, row in zip(shown, expected, strict=True):
            assert_shown(text, row["rate"], what=f"{row['week']} +{row['offset']}")
        # a cell's tooltip: its cohort, users and retained users, as in the sidecar
        by_key = {(r["cohort"], r["offset"]): r for r in cohorts["triangle"]}
        for index in (0, cells.count() - 1):
            page.mouse.move(0, 0)
            cells.nth(index).hover(force=True)
            page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
            tip = page.inner_text("#vg-tooltip-element")
            cohort = re.search(r"(\d{4}-\d{2}-\d{2})", tip).group(1)
            offset = int(re.search(r"Week offset\s+(\d+)", tip).group(1))
            row = by_key[(cohort, offset)]
            users = re.search(r"Users in cohort\s+([\d,]+)", tip).group(1)
            retained = re.search(r"Retained users\s+([\d,]+)", tip).group(1)
            assert_shown(users, row["users"], what="tooltip users")
            assert_shown(retained, row["retained"], what="tooltip retained")
        # the lifecycle bars: one per week and status with users (dormant below zero)
        bars = page.locator(f"{lifecycle} svg.marks g.mark-rect > path")
        assert len(cohorts["lifecycle"]) == 8
        assert bars.count() == 4 * len(cohorts["lifecycle"])
    finally:
        context.close()
    seen.assert_clean()


#: The id of the first chart after the *After the first conversation* heading.
_OUTCOME_CHART = """() => {
  const h = [...document.querySelectorAll('h2')]
    .find(e => e.textContent.startsWith('After the first conversation'));
  return [...document.querySelectorAll('.ek-chart')]
    .find(c => h.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING).id;
}"""
_LABELS = {
    "selfService": "self-service",
    "dropOff": "drop-off",
    "agent": "handed to an agent",
    "unknown": "unknown",
}


@pytest.mark.parametrize("stream", _COHORT_STREAMS, ids=[s.id for s in _COHORT_STREAMS])
def test_after_the_first_conversation_draws_the_sidecars_numbers(browser, reports, stream):
    html_file = _report_file(reports, stream)
    cohorts = json.loads(html_file.with_suffix(".json").read_text(encoding="utf-8"))["cohorts"]
    after = cohorts["after_first_conversation"]
    rows = [r for r in after["retention"] if r["users"] > 0]
    assert len(rows) >= 3 * 7  # three known outcomes, weeks 1..7
    context, page, seen = _open_offline(browser, html_file.as_uri())
    try:
        page.wait_for_function(_CHARTS_DRAWN, timeout=30_000)
        chart = f"#{page.evaluate(_OUTCOME_CHART)}"
        page.locator(chart).scroll_into_view_if_needed()
        save_screenshot(page, "report-after-first-conversation.png")
        assert page.inner_text(".ek-outcome-reading") == after["reading"]
        # one point and one interval bar per (outcome, week) with users, as in the sidecar
        points = page.locator(chart).locator("svg.marks g.role-mark.mark-symbol > path")
        assert points.count() == len(rows)
        bars = page.locator(chart).locator("svg.marks g.role-mark.mark-rule > line")
        assert bars.count() == len(rows)
        by_key = {(_LABELS[r["outcome"]], r["offset"]): r for r in rows}
        for index in (0, len(rows) // 2, len(rows) - 1):
            page.mouse.move(0, 0)
            points.nth(index).hover(force=True)
            page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
            tip = page.inner_text("#vg-tooltip-element")
            label = re.search(r"First conversation\s+(.+)", tip).group(1).strip()
            offset = int(re.search(r"Week offset\s+(\d+)", tip).group(1))
            row = by_key[(label, offset)]
            for title, key in (("New users", "users"), ("Active again", "retained")):
                shown = re.search(title + r"\s+([\d,]+)", tip).group(1)
                assert_shown(shown, row[key], what=f"{label} +{offset} {key}")
            for title, key in (
                ("Share", "rate"),
                ("interval from", "low"),
                ("interval to", "high"),
            ):
                shown = re.search(title + r"\s+([\d.]+%)", tip).group(1)
                assert_shown(shown, row[key], what=f"{label} +{offset} {key}")
    finally:
        context.close()
    seen.assert_clean()


def test_index_lists_every_report_with_its_numbers_and_links_open_them(browser, reports):
    context, page, seen = _open_offline(browser, (reports / "index.html").as_uri())
    try:
        page.wait_for_selector("tr.stream-row")
        page.set_viewport_size({"width": VIEWPORT["width"], "height": 300})
        save_screenshot(page, "index.png", full_page=True)  # as tall as the table, no more
        page.set_viewport_size(VIEWPORT)
        rows = page.eval_on_selector_all(
            "tr.stream-row",
            """rows => rows.map(r => ({slug: r.dataset.slug, week: r.dataset.week,
                cells: [...r.cells].map(c => c.innerText)}))""",
        )
        by_slug = {row["slug"]: row for row in rows}
        assert sorted(by_slug) == sorted(report_files.stream_slug(s.name, s.id) for s in STREAMS)
        for stream in STREAMS:
            row = by_slug[report_files.stream_slug(stream.name, stream.id)]
            sidecar = json.loads(_report_file(reports, stream).with_suffix(".json").read_text())
            assert row["week"] == WEEK
            _stream, unique, _change, new, returning = row["cells"][:5]
            assert_shown(unique, sidecar["kpis"]["unique_users"], what=f"index {stream.id}")
            assert_shown(new, sidecar["kpis"]["new_users"], what=f"index {stream.id} new")
            assert_shown(returning, sidecar["kpis"]["returning_users"], what="index returning")

        for stream in STREAMS:
            slug = report_files.stream_slug(stream.name, stream.id)
            page.locator(f'tr.stream-row[data-slug="{slug}"] a', has_text="report").click()
            page.wait_for_function(_CHARTS_DRAWN, timeout=30_000)
            assert page.url == _report_file(reports, stream).as_uri()
            assert page.inner_text("h1").startswith(f"Weekly report: {stream.name}")
            page.go_back()
            page.wait_for_selector("tr.stream-row")
    finally:
        context.close()
    seen.assert_clean()


# -- a published folder: copied, zipped and unzipped elsewhere, served over HTTP -----------------


@contextlib.contextmanager
def _served(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on a free loopback port (the standard library's file server)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _publish(reports: Path, tmp_path: Path, how: str) -> Path:
    """The reports folder as a reader gets it: copied elsewhere, or zipped then unzipped."""
    if how == "zip":
        archive = shutil.make_archive(str(tmp_path / "reports"), "zip", root_dir=reports)
        target = tmp_path / "elsewhere" / "unzipped"
        shutil.unpack_archive(archive, target)
        return target
    target = tmp_path / "published" / "reports"
    shutil.copytree(reports, target)
    return target


@pytest.mark.parametrize("how", ["folder", "zip", "http"])
def test_a_published_folder_draws_its_charts_from_its_own_assets(browser, reports, tmp_path, how):
    """Pages share reports/_assets/: a copy of the folder, an unzipped archive of it and a web
    server of it all draw every chart with tooltips, and nothing is fetched from anywhere else
    (not even from the folder the reports were written to)."""
    published = _publish(reports, tmp_path, "zip" if how == "zip" else "folder")
    stream = STREAMS[0]
    relative = _report_file(reports, stream).relative_to(reports).as_posix()
    assert not (published / relative).read_text(encoding="utf-8").count("window.vegaEmbed=")
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(_served(published)) if how == "http" else published.as_uri()
        root = root.rstrip("/") + "/"
        context = browser.new_context(viewport=VIEWPORT)
        stack.callback(context.close)
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        seen = watch(page, allowed=lambda u: u.startswith(root))
        page.goto(root + relative)
        page.wait_for_function(_CHARTS_DRAWN, timeout=30_000)
        charts = page.eval_on_selector_all(".ek-chart", "els => els.map(e => e.id)")
        assert len(charts) == 5 + 3 * stream.cohorts
        for chart_id in charts:
            page.mouse.move(0, 0)
            page.locator(f"#{chart_id}").locator(_DATA_MARKS).first.hover(force=True)
            page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
            assert re.search(r"\d", page.inner_text("#vg-tooltip-element")), chart_id
        assert page.evaluate("typeof window.vegaEmbed") == "function"
        assets = [u for u in requested if f"/{report.ASSETS_DIR}/" in u]
        assert assets == [root + f"{report.ASSETS_DIR}/{report.export.bundle_file_name()}"]
        # the index links the stream's history page, whose row opens the same report
        slug = relative.split("/")[0]
        page.goto(root + "index.html")
        page.locator(f'tr.stream-latest[data-stream="{slug}"] a', has_text="week").click()
        assert page.url == root + f"{slug}/history/index.html"
        page.locator(f'tr.stream-row[data-slug="{slug}"] a', has_text="report").click()
        page.wait_for_function(_CHARTS_DRAWN, timeout=30_000)
        assert page.url == root + relative
    seen.assert_clean()
