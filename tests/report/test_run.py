"""End-to-end report runs: real kernels through papermill, nbconvert, worker processes.

One module-scoped batch serves most assertions (a report run costs seconds): two streams on the
demo platform served over loopback HTTP (``source="platform"``, so credentials travel through
the kernel's environment exactly as in production), with a non-default stream and week, and a
stream the platform does not know (it must fail alone).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from engagement_kit import metrics, report
from engagement_kit.client.auth import Credentials
from engagement_kit.config.streams import StreamConfig
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, demo_client, running_server
from engagement_kit.store import files as report_files
from tests.report.test_report import assert_offline, parse_links

pytestmark = pytest.mark.slow

WEEK = "2025-W47"  # not the notebook's default week
GOOD = StreamConfig(
    id="st-demo-hr-us", name="PeopleFirst HR <Helpdesk>", tz="America/New_York"
)  # not the notebook's default stream; a name that needs escaping
BAD = StreamConfig(id="st-no-such-stream", name="Ghost bot", tz="UTC")
PREVIOUS = b"<html>the previous report of this week</html>"
CANARY_SECRET = "canary-client-secret-0xC0FFEE"
CANARY_JWT = Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ttl=3600).token()
JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Run the batch once; yield (results, out_dir, console text, server url)."""
    from rich.console import Console

    home = tmp_path_factory.mktemp("report-run")
    out = home / "reports"
    ghost = out / report_files.stream_slug(BAD.name, BAD.id)
    ghost.mkdir(parents=True)
    (ghost / f"{WEEK}.html").write_bytes(PREVIOUS)
    (ghost / f"{WEEK}.json").write_bytes(b'{"previous": true}')
    console_out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, running_server() as server:
        for name in list(os.environ):
            if name.startswith("KORE_"):
                mp.delenv(name)
        mp.setenv("ENGAGEMENT_KIT_STORE", str(home / "store.sqlite3"))
        # canaries: the kernel authenticates with KORE_JWT (it wins over id + secret); neither
        # the token nor the client secret may appear in any file or log
        mp.setenv("KORE_JWT", CANARY_JWT)
        mp.setenv("KORE_CLIENT_ID", DEMO_CLIENT_ID)
        mp.setenv("KORE_CLIENT_SECRET", CANARY_SECRET)
        mp.chdir(home)  # no developer .env is read
        results = report.render_all(
            [GOOD, BAD],
            week=WEEK,
            out_dir=out,
            jobs=2,
            keep_notebook=True,
            source="platform",
            host=server.url,
            console=Console(file=console_out, width=160, color_system=None),
        )
        url = server.url
    yield results, out, console_out.getvalue(), url


def _files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def test_good_stream_written_bad_stream_failed(batch):
    results, out, console, _ = batch
    good, bad = results
    assert good.ok, good.error
    assert (
        good.html
        == out / report_files.stream_slug(good.stream_name, good.stream_id) / f"{WEEK}.html"
    )
    assert good.json.is_file() and good.notebook.is_file()
    assert bad.status == "failed"
    assert bad.error.startswith("HTTP 404") and "General Settings" in bad.error
    assert "\n" not in bad.error
    assert report.exit_code(results) == 1
    assert "failed" in console and "written" in console and "HTTP 404: Bot not found" in console


def test_failed_stream_keeps_previous_report_and_its_notebook(batch):
    _, out, _, _ = batch
    ghost = out / report_files.stream_slug(BAD.name, BAD.id)
    assert (ghost / f"{WEEK}.html").read_bytes() == PREVIOUS
    assert (ghost / f"{WEEK}.json").read_bytes() == b'{"previous": true}'
    failed = nbformat.read(ghost / f"{WEEK}.failed.ipynb", as_version=4)
    errors = [o for c in failed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "NotFoundError"
    info = json.loads((ghost / f"{WEEK}.error.json").read_text())
    assert info["error"].startswith("HTTP 404") and info["notebook"] == f"{WEEK}.failed.ipynb"


def test_no_temporary_files_left(batch):
    _, out, _, _ = batch
    leftovers = [p for p in _files(out) if p.name.startswith(".") or ".tmp" in p.name]
    assert leftovers == []


def test_report_page_is_offline_and_clean(batch):
    results, _, _, _ = batch
    page = results[0].html.read_text()
    assert_offline(page, charts=4, path=results[0].html)  # the folder's shared bundle
    assert "PeopleFirst HR &lt;Helpdesk&gt;" in page
    assert "<Helpdesk>" not in page
    for code in ("import engagement_kit", "load_weekly(", "setup_notebook", "weekly.header()"):
        assert code not in page
    assert "<report data:" not in page  # the sidecar cell is removed
    assert "st-demo-hr-us" in page and "2025-W47" in page and "America/New_York" in page


def test_executed_notebook_has_the_non_default_parameters_and_no_secret(batch):
    results, _, _, url = batch
    nb = nbformat.read(results[0].notebook, as_version=4)
    params = nb.metadata.papermill.parameters
    assert params == report.report_parameters(GOOD, WEEK, source="platform", host=url)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'week = "2025-W47"' in injected[0].source


def test_sidecar_keys_and_numbers_equal_a_direct_computation(batch):
    results, _, _, _ = batch
    data = json.loads(results[0].json.read_text())
    for key in (
        "stream_id",
        "stream_name",
        "week",
        "start",
        "end",
        "tz",
        "filters",
        "kpis",
        "previous_kpis",
        "peak_hours",
        "coverage_window",
        "anomalies",
        "checks",
        "generated_at",
        "toolkit_version",
    ):
        assert key in data, key
    assert (data["stream_id"], data["week"], data["start"], data["end"]) == (
        "st-demo-hr-us",
        WEEK,
        "2025-11-17",
        "2025-11-23",
    )
    for kpis in (data["kpis"], data["previous_kpis"]):
        for name in (
            "unique_users",
            "new_users",
            "returning_users",
            "avg_unique_users_per_day",
            "avg_new_users_per_day",
            "avg_returning_users_per_day",
        ):
            assert isinstance(kpis[name], int | float), name

    client = demo_client(store=False)
    current = client.fetch(GOOD.id, "2025-11-17", "2025-11-23", tz=GOOD.tz)
    previous = client.fetch(GOOD.id, "2025-11-10", "2025-11-16", tz=GOOD.tz)
    hourly = client.fetch(GOOD.id, "2025-11-17", "2025-11-23", tz=GOOD.tz, aggregation="hourly")
    expected = metrics.kpis(current, previous)
    for name, row in expected.iterrows():
        assert data["kpis"][name] == pytest.approx(float(row["value"]))
        assert data["previous_kpis"][name] == pytest.approx(float(row["previous"]))
    assert data["kpis"]["unique_users"] == int(current.summary["unique_users"])
    matrix = metrics.peak_hours(hourly).to_numpy(dtype=float)
    np.testing.assert_allclose(np.array(data["peak_hours"]["matrix"], dtype=float), matrix)
    assert data["coverage_window"] == metrics.coverage_window(hourly, 0.8).to_dict()
    assert results[0].unique_users == data["kpis"]["unique_users"]


def test_index_lists_both_streams_with_the_error(batch):
    _, out, _, _ = batch
    page = (out / "index.html").read_text()
    assert "PeopleFirst HR &lt;Helpdesk&gt;" in page
    assert "Ghost bot" in page and "Last run failed: HTTP 404" in page
    for href in parse_links(page).hrefs:
        assert (out / href).is_file(), href


def test_no_secret_anywhere(batch):
    _, out, console, _ = batch
    texts = [console] + [p.read_text(errors="replace") for p in _files(out)]
    assert len(texts) > 8
    for text in texts:
        for secret in (CANARY_SECRET, CANARY_JWT, DEMO_CLIENT_SECRET):
            assert secret not in text
        assert not JWT_LIKE.search(text), "a JWT leaked"


def test_progress_bars_and_summary_were_shown(batch):
    _, _, console, _ = batch
    assert "PeopleFirst HR <Helpdesk> 2025-W47" in console  # a bar per stream, raw text
    assert "Ghost bot 2025-W47" in console
    assert re.search(r"(\d+)/\1 done", console), "the good stream's bar did not complete"
    assert "Weekly reports" in console and "Index:" in console


@pytest.mark.browser
def test_report_draws_every_chart_with_the_network_blocked(batch):
    """Headless Chromium, every non-file: request aborted: 4 charts drawn, tooltips, no errors."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    results, _, _, _ = batch
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith("file:"):
                    r.continue_()
                else:
                    requests.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(results[0].html.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.ek-chart svg.marks').length === 4", timeout=20_000
            )
            embed = page.evaluate("typeof window.vegaEmbed")
            page.locator("#ek-chart-2 svg.marks path").first.hover(force=True)
            page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
            tooltip = page.inner_text("#vg-tooltip-element")
        finally:
            browser.close()
    assert embed == "function"
    assert "users" in tooltip.lower()
    assert errors == [] and requests == []


def test_a_kernel_that_dies_at_start_is_retried_once(tmp_path, monkeypatch):
    """A kernelspec whose first start exits at once: the second attempt must succeed."""
    kernel_dir = tmp_path / "kernels" / "flaky"
    kernel_dir.mkdir(parents=True)
    marker = tmp_path / "started-once"
    launcher = tmp_path / "flaky_kernel.py"
    launcher.write_text(
        textwrap.dedent(
            f"""
            import pathlib, sys
            marker = pathlib.Path({str(marker)!r})
            if not marker.exists():
                marker.write_text("x")
                sys.exit(1)
            from ipykernel.kernelapp import launch_new_instance
            launch_new_instance()
            """
        )
    )
    (kernel_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(launcher), "-f", "{connection_file}"],
                "display_name": "flaky",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("x * 2"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "flaky", "display_name": "flaky", "language": "python"}
    source = tmp_path / "in.ipynb"
    nbformat.write(nb, source)
    seen: list[tuple[int, int]] = []
    done = report.execute_notebook(
        source,
        tmp_path / "out.ipynb",
        {"x": 21},
        kernel_name="flaky",
        on_cell=lambda d, t: seen.append((d, t)),
    )
    assert marker.exists()
    assert done.cells[-1].outputs[0]["data"]["text/plain"] == "42"
    assert seen[-1] == (3, 3)  # parameters, injected parameters, x * 2
