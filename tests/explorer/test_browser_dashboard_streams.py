"""The dashboard on your own streams: a project's ``.env`` and ``streams.toml``, real HTTP.

The project points ``KORE_HOST`` at the demo platform served over loopback HTTP
(:func:`engagement_kit.demo.running_server`) with the demo app's credentials, and its
``streams.toml`` lists two of the platform's streams under names of its own. The dashboard is
started the way ``engagement-kit dashboard`` does (no ``--demo``), from a folder outside the
project with only ``ENGAGEMENT_KIT_HOME`` set: the picker must list exactly those streams,
Load must show the numbers a real client gets for them over HTTP, and the page must read like
an app (its title, where the data comes from, no stray ``'svg'``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from engagement_kit import metrics
from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, running_server
from engagement_kit.explorer import previous_period
from engagement_kit.explorer.dashboard import Dashboard, running_dashboard
from tests.builders import demo_dotenv
from tests.explorer.test_browser_dashboard import (
    LOAD_TIMEOUT,
    control,
    open_app,
    shown_kpis,
    status,
)
from tests.report.test_browser import assert_shown, browser

__all__ = ["browser"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STREAMS = {"st-demo-it-de": "Servicedesk (from streams.toml)", "st-demo-hr-us": "HR (mine)"}
ZONES = {"st-demo-it-de": "Europe/Berlin", "st-demo-hr-us": "America/New_York"}


@pytest.fixture(scope="module")
def served(browser, tmp_path_factory) -> Iterator[tuple[Dashboard, Any]]:
    project = tmp_path_factory.mktemp("my-project")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with running_server() as server:
        (project / ".env").write_text(demo_dotenv(server.url, "ENGAGEMENT_KIT_STORE=store.sqlite3"))
        (project / "streams.toml").write_text(
            "".join(
                f'[[stream]]\nid = "{sid}"\nname = "{name}"\ntz = "{ZONES[sid]}"\n\n'
                for sid, name in STREAMS.items()
            )
        )
        env: dict[str, str | None] = {
            name: None for name in os.environ if name.startswith(("KORE_", "ENGAGEMENT_KIT_"))
        }
        env["ENGAGEMENT_KIT_HOME"] = str(project)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(elsewhere)
            mp.delenv("ENGAGEMENT_KIT_STORE", raising=False)
            with running_dashboard(env=env) as running:
                yield running, server


@pytest.fixture(scope="module")
def app(browser, served) -> Iterator[Any]:
    with open_app(browser, served[0]) as (page, seen):
        yield page
        seen.assert_clean()


def _http_kpis(url: str, stream_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """What a real client gets over HTTP for the panel's query and the period before it."""
    credentials = Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    with EngagementClient(url, credentials=credentials, store=False) as client:
        tz = ZONES[stream_id]
        daily = client.fetch(stream_id, start, end, tz=tz)
        prev_start, prev_end = previous_period(start, end)
        return metrics.kpis(daily, client.fetch(stream_id, prev_start, prev_end, tz=tz))


def _assert_numbers(page: Any, url: str, stream_id: str) -> None:
    def day(name: str) -> dt.date:
        return dt.date.fromisoformat(
            control(page, "datepicker", name).locator("input").input_value()
        )

    start, end = day("Start"), day("End")
    expected = _http_kpis(url, stream_id, start, end)
    shown = shown_kpis(page)
    assert list(shown) == list(expected.index)
    for kpi, (value, previous) in shown.items():
        row = expected.loc[kpi]
        for text, number in ((value, row["value"]), (previous, row["previous"])):
            assert_shown(text, None if pd.isna(number) else float(number), what=kpi)


def test_the_page_reads_like_an_app_about_your_platform(app, served):
    _, server = served
    text = app.inner_text("body")
    assert "Engagement explorer" in text
    assert f"Data: {server.url}" in text and "streams.toml" in text
    assert "'svg'" not in text and "demo platform" not in text
    for instruction in ("Run All", "make lab", "Run ▸", "import engagement_kit"):
        assert instruction not in text


def test_the_picker_lists_the_streams_of_streams_toml(app):
    options = control(app, "dropdown", "Stream").locator("select option").all_inner_texts()
    options = [o.replace("\xa0", " ") for o in options]  # ipywidgets shows non-breaking spaces
    assert options == [f"{name} ({sid})" for sid, name in STREAMS.items()]


def test_today_is_the_real_today_in_the_streams_zone(app):
    from engagement_kit.config.weeks import today_in

    end = dt.date.fromisoformat(control(app, "datepicker", "End").locator("input").input_value())
    sid = next(iter(STREAMS))
    assert end + dt.timedelta(days=1) in {today_in(ZONES[sid]), dt.date.today()}


def test_load_shows_the_numbers_of_the_platform_over_http(app, served):
    _, server = served
    first = next(iter(STREAMS))
    _assert_numbers(app, server.url, first)
    before = server.stats.requests
    other = list(STREAMS)[1]
    control(app, "dropdown", "Stream").locator("select").select_option(
        label=f"{STREAMS[other]} ({other})"
    )
    app.get_by_role("button", name="Load").click()
    from playwright.sync_api import expect

    expect(status(app)).to_contain_text(re.compile(rf"Showing\b.*{other}"), timeout=LOAD_TIMEOUT)
    _assert_numbers(app, server.url, other)
    assert server.stats.requests > before  # the kernel asked the platform over HTTP
