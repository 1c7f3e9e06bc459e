"""The Voilà dashboard in a real browser: the Explorer served on loopback, driven by Chromium.

One dashboard (``engagement_kit.explorer.dashboard.running_dashboard``: Voilà, a preheated kernel, the
demo platform) and one page serve the module; the tests run in order on that page, each
checking what it changes. The numbers on the page are compared with the demo client's own
answer for the same query (:func:`engagement_kit.metrics.kpis` over ``fetch``), the chart with
the client's daily counts. Every request the page makes must go to the dashboard itself
(anything else is aborted and recorded), and the console must stay free of errors.
A screenshot goes to ``test-output/screenshots/dashboard.png``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pytest

from engagement_kit import metrics
from engagement_kit.demo import DEMO_STREAMS, demo_client
from engagement_kit.explorer import previous_period
from engagement_kit.explorer.dashboard import Dashboard, running_dashboard
from tests.report.test_browser import VIEWPORT, Watch, assert_shown, browser, save_screenshot, watch

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the reports' tests

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OTHER = next(s for s in DEMO_STREAMS if s.id == "st-demo-hr-us")
START, END = dt.date(2025, 10, 6), dt.date(2025, 10, 19)  # two ISO weeks, not a preset
FIRST_PAGE_TIMEOUT = 90_000  # ms: Voilà's kernel renders the notebook (slow on a busy machine)
LOAD_TIMEOUT = 30_000


@pytest.fixture(scope="module")
def dashboard(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The dashboard on a free loopback port; its kernel sees a private store, no KORE_* vars."""
    store = tmp_path_factory.mktemp("dashboard-store") / "responses.sqlite3"
    env: dict[str, str | None] = {"ENGAGEMENT_KIT_STORE": str(store)}
    env.update({name: None for name in os.environ if name.startswith("KORE_")})
    with running_dashboard(env=env, demo=True) as running:
        yield running


@contextlib.contextmanager
def open_app(browser: Any, dashboard: Dashboard) -> Iterator[tuple[Any, Watch]]:
    """The dashboard page in a new browser context: (page, watch), after the first KPI table.

    Every request must go to the dashboard itself (or be a ``data:`` URL).
    """
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    origin = dashboard.url.rstrip("/")
    loopback = (origin, origin.replace("http://", "ws://", 1))
    seen = watch(page, allowed=lambda url: url.startswith(loopback) or url.startswith("data:"))
    try:
        page.goto(dashboard.url, timeout=FIRST_PAGE_TIMEOUT)
        page.wait_for_selector("table.ek-kpis", timeout=FIRST_PAGE_TIMEOUT)
        yield page, seen
    finally:
        context.close()
    if dashboard.process.poll() is not None:  # pragma: no cover - diagnostics only
        pytest.fail(f"Voilà stopped during the tests:\n{dashboard.log_tail()}")


@pytest.fixture(scope="module")
def app(browser, dashboard: Dashboard) -> Iterator[tuple[Any, Watch]]:
    """The dashboard page, loaded once: (page, watch). Waits for the first KPI table."""
    with open_app(browser, dashboard) as loaded:
        yield loaded


# -- reading and driving the panel by its visible labels ----------------------------------------


def control(page: Any, kind: str, label: str) -> Any:
    """The ipywidgets control of ``kind`` (``dropdown``, ``datepicker``...) labelled ``label``."""
    labelled = page.locator("label.widget-label", has_text=re.compile(rf"^{re.escape(label)}$"))
    return page.locator(f".widget-{kind}").filter(has=labelled)


def status(page: Any) -> Any:
    return page.locator(".widget-hbox", has=page.get_by_role("button", name="Load")).locator(
        ".widget-html"
    )


def controls(page: Any) -> dict[str, Any]:
    """What the controls say: stream id, start and end dates, time zone."""
    label = control(page, "dropdown", "Stream").locator("select option:checked").inner_text()
    found = re.search(r"\(([\w-]+)\)\s*$", label)
    assert found, f"cannot read the stream id from {label!r}"

    def day(name: str) -> dt.date:
        return dt.date.fromisoformat(
            control(page, "datepicker", name).locator("input").input_value()
        )

    return {
        "stream_id": found.group(1),
        "start": day("Start"),
        "end": day("End"),
        "tz": control(page, "text", "Time zone").locator("input").input_value(),
    }


def shown_kpis(page: Any) -> dict[str, list[str]]:
    """The KPI table: kpi -> [this period, previous] as shown."""
    rows = page.eval_on_selector_all(
        "table.ek-kpis tr[data-kpi]",
        "rows => rows.map(r => [r.dataset.kpi, ...[...r.cells].map(c => c.innerText)])",
    )
    return {row[0]: [row[2], row[3]] for row in rows}


def client_kpis(stream_id: str, start: dt.date, end: dt.date, tz: str) -> Any:
    """The demo client's KPIs for the query (and the period before it), as the panel shows."""
    client = demo_client(store=False)
    daily = client.fetch(stream_id, start, end, tz=tz)
    prev_start, prev_end = previous_period(start, end)
    return metrics.kpis(daily, client.fetch(stream_id, prev_start, prev_end, tz=tz))


def assert_kpis_match(page: Any, query: dict[str, Any]) -> None:
    expected = client_kpis(**query)
    shown = shown_kpis(page)
    assert list(shown) == list(expected.index)
    for kpi, (value, previous) in shown.items():
        row = expected.loc[kpi]
        for text, number in ((value, row["value"]), (previous, row["previous"])):
            number = None if pd.isna(number) else float(number)
            assert_shown(text, number, what=f"{query['stream_id']} {kpi}")


def chart_svg(page: Any) -> str:
    """The SVG text of the chart on screen (JupyterLab shows SVG output as a data: image)."""
    image = page.locator(".widget-tab .jp-RenderedSVG img:visible")
    image.wait_for(timeout=LOAD_TIMEOUT)
    assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "chart not drawn"
    src = image.get_attribute("src") or ""
    head, _, data = src.partition(",")
    assert head.startswith("data:image/svg+xml"), head
    return base64.b64decode(data).decode() if head.endswith(";base64") else unquote(data)


def unique_users_per_day(svg: str) -> dict[str, int]:
    """``{'Mon 06 Oct 2025': users}`` from the chart's accessible labels of unique users."""
    points: dict[str, int] = {}
    for label in re.findall(r'aria-label="([^"]*)"', svg):
        label = html.unescape(label)
        if "metric: unique" not in label:
            continue
        day = re.search(r"\b(\w{3} \d{2} \w{3} \d{4})\b", label)
        users = re.search(r"\bUsers: ([\d,]+)", label)
        if day and users:
            points[day.group(1)] = int(users.group(1).replace(",", ""))
    return points


def _panel_clip(page: Any) -> dict[str, float]:
    """Scroll the panel to the top of the window; the clip from there to the tabs' bottom."""
    control(page, "dropdown", "Stream").evaluate(
        """e => {
          e.scrollIntoView({block: 'start'});
          let box = e.parentElement;  // Voilà scrolls an element, not the window
          while (box && box.scrollTop === 0) box = box.parentElement;
          if (box) box.scrollTop -= 16;
        }"""
    )
    top = control(page, "dropdown", "Stream").bounding_box()
    tabs = page.locator(".widget-tab").bounding_box()
    assert top and tabs
    y = max(0.0, top["y"] - 16)
    bottom = min(VIEWPORT["height"], tabs["y"] + tabs["height"] + 16)
    return {"x": 0, "y": y, "width": VIEWPORT["width"], "height": bottom - y}


# -- the tests, in page order ---------------------------------------------------------------------


def test_first_page_shows_the_panel_with_the_clients_numbers(app):
    page, seen = app
    assert page.locator(".jp-CodeCell .jp-InputArea-editor, .cm-editor").count() == 0
    text = page.inner_text("body")
    for code in ("import engagement_kit", "explorer.load()", "setup_notebook", "app_explorer"):
        assert code not in text, f"code is shown: {code}"
    assert "'svg'" not in text  # no stray output (the value of ek.setup_notebook())
    assert "Engagement explorer" in text and "built-in demo platform" in text
    for instruction in ("Run All", "make lab", "Run ▸"):
        assert instruction not in text, f"notebook instructions on the app page: {instruction}"
    assert page.get_by_role("button", name="Load").is_enabled()
    query = controls(page)
    assert query["stream_id"] == DEMO_STREAMS[0].id
    assert_kpis_match(page, query)
    seen.assert_clean()


def test_another_stream_and_range_redraw_kpis_and_chart_with_that_streams_numbers(app):
    page, seen = app
    before = shown_kpis(page)
    control(page, "dropdown", "Stream").locator("select").select_option(
        label=f"{OTHER.name} ({OTHER.id})"
    )
    control(page, "datepicker", "Start").locator("input").fill(START.isoformat())
    control(page, "datepicker", "End").locator("input").fill(END.isoformat())
    page.get_by_role("button", name="Load").click()
    from playwright.sync_api import expect

    shown = re.compile(rf"Showing\b.*{OTHER.id}.*{START.isoformat()} to {END.isoformat()}")
    expect(status(page)).to_contain_text(shown, timeout=LOAD_TIMEOUT)  # not "Loading …"
    expect(page.get_by_role("button", name="Load")).to_be_enabled()
    query = controls(page)
    assert query == {"stream_id": OTHER.id, "start": START, "end": END, "tz": OTHER.tz}
    assert shown_kpis(page) != before
    assert_kpis_match(page, query)

    page.locator(".lm-TabBar-tab", has_text=re.compile(r"^Trend$")).click()
    svg = chart_svg(page)
    daily = demo_client(store=False).fetch(OTHER.id, START, END, tz=OTHER.tz).wide()
    expected = {
        f"{day:%a %d %b %Y}": int(n) for day, n in zip(daily["date"], daily["unique"], strict=True)
    }
    assert len(expected) == 14
    assert unique_users_per_day(svg) == expected
    assert OTHER.tz in svg  # the axis names the stream's own zone
    save_screenshot(page, "dashboard.png", clip=_panel_clip(page))  # controls, status, chart
    seen.assert_clean()


def test_the_cohorts_tab_draws_the_triangle_of_the_loaded_stream_and_range(app):
    page, seen = app
    page.locator(".lm-TabBar-tab", has_text=re.compile(r"^Cohorts$")).click()
    svg = chart_svg(page)
    assert "Daily cohort retention" in svg and "User lifecycle" in svg  # 14 days: day cohorts
    from engagement_kit.metrics import cohorts

    sessions = demo_client(store=False).fetch_sessions(
        OTHER.id, START, END, tz=OTHER.tz, progress=False
    )
    triangle = cohorts.cohort_retention(sessions, "day")
    first = triangle[triangle["offset"] == 0].iloc[0]
    labels = [html.unescape(label) for label in re.findall(r'aria-label="([^"]*)"', svg)]
    cell = next(
        label for label in labels if f"Cohort (day starting): {first['cohort']:%Y-%m-%d}" in label
    )
    assert f"Users in cohort: {int(first['users']):,}" in cell
    # below: back after the first conversation, by the outcome of the first session
    from engagement_kit.explorer.cohorts_tab import OUTCOME_HORIZON
    from engagement_kit.metrics import outcomes

    assert "Back after the first conversation" in svg and "First vs next conversation" in svg
    result = outcomes.retention_by_outcome(sessions, "day", horizon=OUTCOME_HORIZON["day"])
    row = result.at(1).loc["selfService"]
    point = next(
        label
        for label in labels
        if "First conversation: self-service" in label and "Day offset: 1;" in label
    )
    assert f"New users: {int(row['users']):,}" in point
    assert f"Active again: {int(row['retained']):,}" in point
    seen.assert_clean()


def test_a_start_after_the_end_shows_a_readable_error_and_keeps_the_numbers(app):
    page, seen = app
    page.locator(".lm-TabBar-tab", has_text=re.compile(r"^KPIs$")).click()
    before = shown_kpis(page)
    bad_start = END + dt.timedelta(days=6)
    control(page, "datepicker", "Start").locator("input").fill(bad_start.isoformat())
    page.get_by_role("button", name="Load").click()
    from playwright.sync_api import expect

    error = page.get_by_text("Check the controls")
    expect(error).to_be_visible(timeout=LOAD_TIMEOUT)
    text = error.inner_text()
    assert bad_start.isoformat() in text and "after" in text and END.isoformat() in text
    assert "Traceback" not in page.inner_text("body")
    expect(status(page)).to_contain_text("Load failed")
    assert shown_kpis(page) == before
    assert page.get_by_role("button", name="Load").is_enabled()
    seen.assert_clean()
