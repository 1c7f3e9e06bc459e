"""Fast tests of the report machinery: no kernel is started here (see test_report_run.py).

Covers the offline HTML (template, renderer, bundle), the guards against an altair or nbconvert
upgrade silently breaking it, slugs, atomic writes, parameters, the index page, errors and the
summary, and argument checks of render_all.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import jinja2
import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from engagement_kit import demo, report
from engagement_kit.charts import renderer
from engagement_kit.config.streams import StreamConfig
from engagement_kit.errors import ConfigError, InvalidQueryError, NotFoundError, ReportError
from engagement_kit.report import batch, execute, export, worker
from engagement_kit.store import files as report_files

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "code.jquery.com")


class _Links(HTMLParser):
    """Collect script src, link href, a href and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.srcs.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")


def parse_links(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def assert_offline(page: str, *, charts: int, path: Path | None = None) -> None:
    """The checks every report page must pass (shared with test_report_run.py).

    With ``path`` (where the page was written in a reports folder) the page loads the folder's
    shared bundle, ``../_assets/<name>``, which must be there; without, it inlines the bundle.
    """
    links = parse_links(page)
    if path is None:
        assert links.srcs == [], f"external resources: {links.srcs}"
        assert page.count("window.vegaEmbed=") == 1, "the Vega bundle must be inlined exactly once"
    else:
        assert links.srcs == [f"../{report.ASSETS_DIR}/{report.export.bundle_file_name()}"]
        shared = (path.parent / links.srcs[0]).read_text(encoding="utf-8")
        assert shared.count("window.vegaEmbed=") == 1 and "window.vegaEmbed=" not in page
        assert len(page.encode()) < 150_000, "a page that shares its bundle stays small"
    assert links.links == [], f"<link> elements: {links.links}"
    for host in CDN_HOSTS:
        assert host not in page
    assert "require.min.js" not in page and "MathJax" not in page and "mermaid" not in page
    assert page.count('id="ek-vega-bundle"') == 1
    # nbconvert re-serialises the page with BeautifulSoup: attribute order is not ours
    ids = re.findall(r'<div[^>]*\bid="(ek-chart-\d+)"', page)
    assert len(ids) == charts
    assert len(set(ids)) == charts
    for chart_id in ids:
        match = re.search(rf'<script[^>]*\bid="{chart_id}-spec"[^>]*>(.*?)</script>', page, re.S)
        assert match, f"{chart_id} has no inline spec"
        spec = json.loads(match.group(1))
        assert spec["$schema"].endswith(f"/vega-lite/{alt.SCHEMA_VERSION}.json")
    assert len(page.encode()) < 2_000_000
    assert "In&nbsp;[" not in page and "Out[" not in page
    assert not re.search(r'class="[^"]*\bjp-(InputPrompt|OutputPrompt|InputArea-editor)', page)


# -- the chart renderer -----------------------------------------------------------------------


def _chart(title: str = "Users") -> alt.Chart:
    data = alt.Data(values=[{"day": "Mon", "users": 3}, {"day": "Tue", "users": 5}])
    return alt.Chart(data, title=title).mark_bar().encode(x="day:N", y="users:Q")


def test_renderer_bundle_has_div_inline_spec_and_note():
    bundle = renderer.chart_mimebundle(_chart().to_dict())
    markup = bundle["text/html"]
    assert bundle["text/plain"] == "<Chart: Users>"
    chart_id = re.search(r'id="(ek-chart-\d+)"', markup).group(1)
    spec_text = re.search(
        r'<script type="application/json" id="[^"]+">(.*?)</script>', markup, re.S
    )
    assert json.loads(spec_text.group(1)) == _chart().to_dict()
    assert 'vegaEmbed(el, spec, {actions: false, renderer: "svg"})' in markup
    assert f'getElementById("{chart_id}")' in markup
    assert "Interactive chart: open the HTML report." in markup
    assert "http://" not in markup.replace(json.dumps(_chart().to_dict()["$schema"]), "")


def test_renderer_ids_are_a_deterministic_counter():
    first = renderer.chart_mimebundle(_chart().to_dict())["text/html"]
    second = renderer.chart_mimebundle(_chart().to_dict())["text/html"]
    n1 = int(re.search(r'id="ek-chart-(\d+)"', first).group(1))
    n2 = int(re.search(r'id="ek-chart-(\d+)"', second).group(1))
    assert n2 == n1 + 1
    assert first.replace(f"ek-chart-{n1}", "X") == second.replace(f"ek-chart-{n2}", "X")


def test_renderer_escapes_script_end_and_markup_in_data():
    hostile = "</script><script>alert(1)</script><!--"
    spec = _chart(hostile).to_dict()
    spec["data"]["values"][0]["day"] = hostile
    markup = renderer.chart_mimebundle(spec)["text/html"]
    assert "alert(1)</script>" not in markup
    assert "<!--" not in markup
    assert markup.count("</script>") == 2  # the spec element and the embed script, nothing else
    inline = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', markup, re.S)
    assert json.loads(inline.group(1))["data"]["values"][0]["day"] == hostile
    assert 'aria-label="&lt;/script&gt;' in markup


def test_renderer_replaces_nan_with_null():
    spec = {"title": "t", "data": {"values": [{"x": float("nan"), "y": float("inf")}]}}
    markup = renderer.chart_mimebundle(spec)["text/html"]
    inline = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', markup, re.S)
    assert json.loads(inline.group(1))["data"]["values"] == [{"x": None, "y": None}]


def test_altair_still_calls_our_renderer():
    """Fails if an altair upgrade changes how renderers are registered or called."""
    if renderer.RENDERER_NAME not in alt.renderers.names():
        alt.renderers.register(renderer.RENDERER_NAME, renderer.chart_mimebundle)
    previous = alt.renderers.active
    alt.renderers.enable(renderer.RENDERER_NAME)
    try:
        bundle = _chart("Through altair")._repr_mimebundle_()
    finally:
        alt.renderers.enable(previous)
    assert isinstance(bundle, dict)
    assert bundle["text/plain"] == "<Chart: Through altair>"
    assert '<div class="ek-chart"' in bundle["text/html"]
    assert "altair-viz" not in bundle["text/html"]


# -- guards against upgrades: the bundle and the lab template ------------------------------------


def test_bundle_matches_altairs_vega_lite_version():
    import vl_convert

    minor = export.vegalite_minor()
    assert minor in vl_convert.get_vegalite_versions()
    bundle = report.vega_bundle()
    assert f'"{alt.SCHEMA_VERSION.lstrip("v")}"' in bundle, "bundle and altair disagree"
    assert "window.vegaEmbed=" in bundle
    assert re.search(r"</script", bundle, re.I) is None
    assert len(bundle) > 300_000


def _block_names(env: jinja2.Environment, name: str) -> set[str]:
    source = env.loader.get_source(env, name)[0]
    return {node.name for node in env.parse(source).find_all(jinja2.nodes.Block)}


def test_lab_template_still_has_the_blocks_we_override():
    import nbconvert.exporters

    exporter = nbconvert.exporters.HTMLExporter(
        template_name=report.TEMPLATE_NAME, extra_template_basedirs=[str(report.TEMPLATES)]
    )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(exporter.template_paths))
    lab_blocks = _block_names(env, "lab/index.html.j2")
    ours_source = (report.TEMPLATES / report.TEMPLATE_NAME / "index.html.j2").read_text()
    ours = {node.name for node in env.parse(ours_source).find_all(jinja2.nodes.Block)}
    assert ours == set(report.OVERRIDDEN_LAB_BLOCKS)
    missing = ours - lab_blocks
    assert not missing, f"nbconvert's lab template no longer has {missing}: fix ek_report"
    conf = json.loads((report.TEMPLATES / report.TEMPLATE_NAME / "conf.json").read_text())
    assert conf["base_template"] == "lab"


def _synthetic_notebook() -> nbformat.NotebookNode:
    chart = renderer.chart_mimebundle(_chart("First").to_dict())
    chart2 = renderer.chart_mimebundle(_chart("Second").to_dict())
    cells = [
        new_markdown_cell("# Title\n\nSome *text* a reader sees."),
        new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        new_code_cell(
            "print('stray'); chart",
            outputs=[
                new_output("stream", name="stdout", text="STRAY PRINTED TEXT\n"),
                new_output("execute_result", data=chart, execution_count=3),
            ],
            execution_count=3,
        ),
        new_code_cell(
            "chart2",
            outputs=[new_output("display_data", data=chart2)],
            execution_count=4,
        ),
        new_code_cell(
            "hidden",
            outputs=[new_output("display_data", data={"text/plain": "REMOVED CELL OUTPUT"})],
            metadata={"tags": ["remove_cell"]},
        ),
        new_code_cell(
            "only the output goes",
            outputs=[new_output("display_data", data={"text/plain": "REMOVED OUTPUT"})],
            metadata={"tags": ["remove_output"]},
        ),
        new_code_cell(
            "warn()",
            outputs=[new_output("stream", name="stderr", text="STDERR NOISE\n")],
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture(scope="module")
def synthetic_page() -> str:
    return report.notebook_to_html(_synthetic_notebook(), title="Weekly report: <Bot & co>")


def test_html_is_offline_with_one_bundle_and_every_chart(synthetic_page):
    assert_offline(synthetic_page, charts=2)


def test_a_shared_bundle_is_written_once_and_inlining_it_gives_the_self_contained_page(
    tmp_path,
):
    nb = _synthetic_notebook()
    synthetic_page = report.notebook_to_html(nb, title="Weekly report: <Bot & co>")
    name = report.export.bundle_file_name()
    assert re.fullmatch(
        r"vega-[0-9.]+-vega-lite-[0-9.]+-vega-embed-[0-9.]+-[0-9a-f]{12}\.js", name
    ), name
    assert alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0] in name  # altair's Vega-Lite
    src = f"../{report.ASSETS_DIR}/{name}"
    page = report.notebook_to_html(nb, title="Weekly report: <Bot & co>", assets_src=src)
    (tmp_path / "bot").mkdir()
    assert report.inline_assets(page, tmp_path / "bot" / "p.html") == synthetic_page  # built
    asset = report.write_assets(tmp_path)
    assert asset == tmp_path / "_assets" / name and asset.stat().st_size > 300_000
    # written once: a second call leaves the file (its name holds its content's hash) alone
    before = asset.stat().st_mtime_ns, asset.stat().st_ino
    assert report.write_assets(tmp_path) == asset
    assert (asset.stat().st_mtime_ns, asset.stat().st_ino) == before
    page_path = tmp_path / "bot" / "2025-W48.html"
    page_path.write_text(page, encoding="utf-8")
    assert_offline(page, charts=2, path=page_path)
    assert len(synthetic_page) / len(page) > 10  # the bundle is nearly all of a page
    # the folder's copy is the one inlined (an older page keeps its own version's bundle)
    old = page.replace(name, "vega-5.0.0-vega-lite-5.0-vega-embed-6.0.0-0123456789ab.js")
    (tmp_path / "_assets" / "vega-5.0.0-vega-lite-5.0-vega-embed-6.0.0-0123456789ab.js").write_text(
        "/* an older bundle */ window.vegaEmbed=1;\n"
    )
    inlined = report.inline_assets(old, page_path)
    assert "/* an older bundle */" in inlined and parse_links(inlined).srcs == []
    assert report.inline_assets(synthetic_page, page_path) == synthetic_page  # already one file
    gone = old.replace("0123456789ab", "ba9876543210")
    with pytest.raises(ReportError, match=r"copy the reports folder's _assets/ along with it"):
        report.inline_assets(gone, page_path)


def test_html_drops_code_prompts_prints_and_tagged_cells(synthetic_page):
    page = synthetic_page
    assert "Some <em>text</em> a reader sees." in page
    for gone in (
        "STRAY PRINTED TEXT",
        "STDERR NOISE",
        "REMOVED CELL OUTPUT",
        "REMOVED OUTPUT",
        "print(",
        "x = 1",
        "only the output goes",
    ):
        assert gone not in page, gone
    assert "<title>Weekly report: &lt;Bot &amp; co&gt;</title>" in page


def test_html_drops_papermill_injected_parameters():
    nb = _synthetic_notebook()
    nb.cells.insert(
        2, new_code_cell("stream_id = 'INJECTED'", metadata={"tags": ["injected-parameters"]})
    )
    nb.cells[2].outputs = [new_output("display_data", data={"text/plain": "INJECTED OUT"})]
    page = report.notebook_to_html(nb, title="t")
    assert "INJECTED" not in page


# -- slugs and paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stream_id", "expected"),
    [
        ("ShopEasy Retail Assistant (India)", "st-1", "shopeasy-retail-assistant-india"),
        ("../", "st-abc", "st-abc"),
        ("/", "st-abc", "st-abc"),
        ("..", "..", "stream"),
        ("%2e%2e%2f", "x", "2e-2e-2f"),
        ("a\x00b", "x", "a-b"),
        ("<script>alert(1)</script>", "x", "script-alert-1-script"),
        ("Zürich Bot", "x", "zurich-bot"),
        ("", "", "stream"),
        (None, "ST_ONE", "st-one"),
    ],
)
def test_slugs_are_safe(name, stream_id, expected, tmp_path):
    slug = report_files.stream_slug(name, stream_id)
    assert slug == (f"{expected}-{report_files.stream_key(stream_id)}" if stream_id else expected)
    assert report_files.legacy_slug(name, stream_id) == expected
    assert SLUG.fullmatch(slug)
    assert report_files.inside(tmp_path, slug).parent == tmp_path.resolve()


@given(st.text(max_size=200), st.text(max_size=50))
def test_any_name_gives_a_folder_inside_the_reports(name, stream_id):
    slug = report_files.stream_slug(name, stream_id)
    assert SLUG.fullmatch(slug)
    assert len(slug) <= 60
    base = Path("/tmp/reports-base")
    assert report_files.inside(base, slug).parent == base.resolve()


def test_inside_refuses_to_escape(tmp_path):
    with pytest.raises(ReportError):
        report_files.inside(tmp_path, "..", "elsewhere")


# -- atomic writes ------------------------------------------------------------------------------


def test_atomic_write_replaces_content(tmp_path):
    target = tmp_path / "sub" / "a.html"
    report_files.atomic_write(target, "old")
    report_files.atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.html"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_atomic_write_failure_mid_write_keeps_previous_bytes(tmp_path):
    target = tmp_path / "2025-W48.html"
    target.write_bytes(b"previous report")

    def chunks():
        yield b"<html>half a new report"
        raise OSError("disk full (simulated)")

    with pytest.raises(OSError, match="simulated"):
        report_files.atomic_write(target, chunks())
    assert target.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["2025-W48.html"]


# -- parameters ---------------------------------------------------------------------------------


def _config(**kw) -> StreamConfig:
    return StreamConfig(**{"id": "st-demo-hr-us", "name": "HR", "tz": "America/New_York", **kw})


def test_parameters_are_literals_and_never_a_secret(monkeypatch):
    monkeypatch.setenv("KORE_CLIENT_SECRET", "canary-secret-4711")
    monkeypatch.setenv("KORE_JWT", "canary.jwt.4711")
    params = report.report_parameters(
        _config(
            channels=["rtm"], conversation_type="Interactive", channels_breakdown="rtm,msteams"
        ),
        "2025-W47",
        source="platform",
        host="https://platform.kore.ai",
    )
    assert tuple(params) == report.PARAMETER_NAMES
    assert params["channels"] == "rtm"
    assert params["channels_breakdown"] == "rtm,msteams"
    assert params["conversation_type"] == "interactive"
    assert all(isinstance(v, str | int) for v in params.values())
    text = json.dumps(params)
    assert "canary" not in text
    assert not any(w in k for k in params for w in ("secret", "token", "jwt", "password"))


def test_a_credential_in_a_parameter_is_refused(monkeypatch):
    monkeypatch.setenv("KORE_CLIENT_SECRET", "canary-secret-4711")
    with pytest.raises(ReportError, match="credential") as info:
        report.report_parameters(_config(name="bot canary-secret-4711"), "2025-W47")
    assert "canary" not in str(info.value)


def test_report_notebook_parameters_cell_matches_the_runner():
    nb = nbformat.read(report.default_notebook(), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    names = [line.split("=")[0].strip() for line in cells[0].source.splitlines() if "=" in line]
    assert tuple(names) == report.PARAMETER_NAMES
    assert 'source = "demo"' in cells[0].source
    for line in cells[0].source.splitlines():
        assert "  # " in line, f"parameter without a comment: {line}"
    assert not re.search(r"secret|token|jwt|password", cells[0].source.split("#")[0], re.I)


def test_report_notebook_follows_the_conventions():
    nb = nbformat.read(report.default_notebook(), as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    assert "How to run" in nb.cells[0].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class) ", cell.source, re.M), cell.source
            assert not re.search(r"^\s*(for|while|if|with|try) ", cell.source, re.M), cell.source


# -- the index page ------------------------------------------------------------------------------


def _sidecar(stream_id: str, name: str, week: str, users: int, pct: float | None) -> dict:
    return {
        "stream_id": stream_id,
        "stream_name": name,
        "week": week,
        "start": "2025-11-24",
        "end": "2025-11-30",
        "tz": "UTC",
        "kpis": {"unique_users": users, "new_users": 3, "returning_users": 4},
        "change": {"unique_users": {"change": 1, "pct_change": pct}},
        "checks": [{"level": "warning"}],
        "anomalies": [],
    }


def _write_report(out: Path, slug: str, data: dict, *, html: bool = True) -> None:
    folder = out / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{data['week']}.json").write_text(json.dumps(data))
    if html:
        (folder / f"{data['week']}.html").write_text("<html></html>")


def test_index_lists_newest_first_escapes_names_and_links_resolve(tmp_path):
    hostile = "<script>alert('x')</script> & Co"
    _write_report(tmp_path, "alpha", _sidecar("st-a", "Alpha bot", "2025-W47", 10, 0.25))
    _write_report(tmp_path, "alpha", _sidecar("st-a", "Alpha bot", "2025-W48", 12, 0.2))
    _write_report(tmp_path, "script-x", _sidecar("st-x", hostile, "2025-W48", 7, -0.125))
    _write_report(tmp_path, "beta", _sidecar("st-b", "Beta", "2024-W52", 1234567, None))
    _write_report(tmp_path, "nohtml", _sidecar("st-n", "No page", "2025-W40", 1, None), html=False)
    failed = tmp_path / "gamma"
    failed.mkdir()
    (failed / "2025-W48.error.json").write_text(
        json.dumps(
            {
                "stream_id": "st-g",
                "stream_name": "Gamma <b>",
                "week": "2025-W48",
                "error": "NotFoundError: HTTP 404: unknown stream",
                "notebook": "2025-W48.failed.ipynb",
            }
        )
    )
    (failed / "2025-W48.failed.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("not a stream")
    (tmp_path / ".hidden").mkdir()

    index = report.write_index(tmp_path)
    page = index.read_text()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in page
    assert "Gamma &lt;b&gt;" in page
    assert "NotFoundError: HTTP 404: unknown stream" in page
    order = [m.group(1) for m in re.finditer(r'data-week="([^"]+)"', page)]
    assert order == ["2025-W48"] * 3 + ["2025-W47", "2025-W40", "2024-W52"]
    names = re.findall(r'data-slug="([^"]+)" data-week="2025-W48"', page)
    assert names == ["script-x", "alpha", "gamma"]  # by display name ("<" sorts first)
    assert "1,234,567" in page and "+20.0 %" in page and "−12.5 %" in page
    links = parse_links(page)
    assert links.srcs == []
    assert links.hrefs, "no links"
    for href in links.hrefs:
        assert not href.startswith(("http:", "https:", "/")), href
        assert (tmp_path / href).is_file(), href
    assert "nohtml/2025-W40.html" not in page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.is_file()] == []


def test_index_of_an_empty_folder_says_how_to_start(tmp_path):
    page = report.write_index(tmp_path / "reports").read_text()
    assert "engagement-kit report --demo" in page


# -- errors, summary, exit codes ------------------------------------------------------------------


def test_errors_become_one_secret_free_sentence(monkeypatch):
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("KORE_CLIENT_SECRET", "canary-secret-4711")
    exc = PapermillExecutionError(
        cell_index=3,
        exec_count=3,
        source="x",
        ename="NotFoundError",
        evalue="HTTP 404: no stream canary-secret-4711\nhint on a second line",
        traceback=["..."],
    )
    text = worker.describe_error(exc)
    assert text == "HTTP 404: no stream ***. hint on a second line"  # the words and the fix
    api = NotFoundError("unknown stream", status=404, url="https://h/x", hint="check the id")
    # one sentence: no exception class, no request URL (it overflowed the index page)
    assert worker.describe_error(api) == "HTTP 404: unknown stream. check the id"
    assert worker.describe_error(ValueError("boom")) == "ValueError: boom"  # a bug says what


def test_kernel_start_failures_are_told_apart_from_cell_errors():
    import zmq
    from papermill.exceptions import PapermillExecutionError

    assert execute.kernel_start_failed(zmq.ZMQError(98, "Address already in use"))
    assert execute.kernel_start_failed(RuntimeError("Kernel died before replying to kernel_info"))
    assert not execute.kernel_start_failed(ValueError("bad value"))
    cell = PapermillExecutionError(0, 1, "x", "RuntimeError", "Kernel died before replying", [])
    assert not execute.kernel_start_failed(cell)


def _result(status: str, **kw) -> report.ReportResult:
    base = {"stream_id": "st-a", "stream_name": "A", "slug": "a", "week": "2025-W48"}
    return report.ReportResult(**{**base, "status": status, **kw})


def test_exit_code_and_summary_table():
    ok = _result("written", html=Path("reports/a/2025-W48.html"), unique_users=4111, change=0.009)
    bad = _result(
        "failed",
        stream_name="B [bold]",
        error="NotFoundError: HTTP 404: unknown stream",
        notebook=Path("reports/b/2025-W48.failed.ipynb"),
    )
    assert report.exit_code([ok]) == 0
    assert report.exit_code([ok, bad]) == 1
    assert report.exit_code([]) == 1
    from rich.console import Console

    out = io.StringIO()
    report.print_summary([ok, bad], console=Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    for piece in (
        "4,111",
        "+0.9 %",
        "written",
        "failed",
        "B [bold]",
        "NotFoundError: HTTP 404",
        "2025-W48.failed.ipynb",
        "Index: reports/index.html",
    ):
        assert piece in text, piece


# -- argument checks before anything runs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"week": "2025-W99"}, InvalidQueryError, "ISO week"),
        ({"week": "2999-W01"}, InvalidQueryError, "has not ended"),
        ({"source": "prod"}, InvalidQueryError, "source"),
        ({"jobs": 0}, InvalidQueryError, "jobs"),
        ({"host": "http://example.com"}, ConfigError, "http"),
    ],
)
def test_render_all_checks_arguments_first(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        report.render_all([_config()], out_dir=tmp_path / "r", quiet=True, **kwargs)
    assert not (tmp_path / "r" / report_files.stream_slug(_config().name, _config().id)).exists()


def test_streams_whose_names_slug_alike_never_share_a_folder(tmp_path):
    """Issue 22.7: "Support bot" and "Support Bot" (two configs, one reports/) used to share
    support-bot/; the folder now carries a short form of the id."""
    a, b = _config(id="st-1", name="Support bot"), _config(id="st-2", name="Support Bot")
    folders = {report_files.stream_slug(c.name, c.id) for c in (a, b)}
    assert len(folders) == 2 and all(f.startswith("support-bot-") for f in folders)
    assert report_files.stream_slug(a.name, a.id) == report_files.stream_slug("SUPPORT BOT", "st-1")
    with pytest.raises(ConfigError, match="no streams"):
        report.render_all([], out_dir=tmp_path, quiet=True)


def test_default_week_is_the_last_complete_one_in_the_streams_zone():
    monday = dt.date(2025, 12, 1)
    assert batch.resolve_week(_config(), None, monday) == "2025-W48"
    assert batch.resolve_week(_config(), None, dt.date(2025, 11, 30)) == "2025-W47"
    assert batch.resolve_week(_config(), "2025-W10", monday) == "2025-W10"


def test_default_jobs_is_bounded():
    assert 1 <= report.default_jobs() <= report.MAX_DEFAULT_JOBS


def test_module_import_stays_light():
    """``engagement_kit.report`` must not import papermill, nbconvert or altair at import time."""
    import subprocess

    code = (
        "import sys, engagement_kit.report; "
        "print(sorted(m for m in ('papermill', 'nbconvert', 'altair', 'IPython') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_platform_source_needs_host_and_credentials_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(ConfigError, match="KORE_HOST"):
        report.render_all([_config()], source="platform", out_dir=tmp_path / "r", quiet=True)
    with pytest.raises(ConfigError, match="KORE_CLIENT_ID"):
        report.render_all(
            [_config()],
            source="platform",
            host="https://platform.kore.ai",
            out_dir=tmp_path / "r",
            quiet=True,
        )
    assert not (tmp_path / "r" / report_files.stream_slug(_config().name, _config().id)).exists()


def test_demo_streams_have_distinct_folders():
    configs = demo.demo_streams()
    assert len(configs) >= 3
    slugs = {report_files.stream_slug(c.name, c.id) for c in configs}
    assert len(slugs) == len(configs)


def test_stale_temporary_files_of_a_killed_run_are_swept(tmp_path):
    import os
    import time

    old = tmp_path / ".2025-W48.tmp-abc123.ipynb"
    half = tmp_path / ".2025-W48.html.k2j3.tmp"
    fresh = tmp_path / ".2025-W48.tmp-running.ipynb"
    keep = tmp_path / "2025-W48.html"
    for path in (old, half, fresh, keep):
        path.write_text("x")
    long_ago = time.time() - report_files.STALE_TEMP_SECONDS - 60
    for path in (old, half, keep):
        os.utime(path, (long_ago, long_ago))
    removed = report_files.sweep_stale_temp_files(tmp_path)
    assert sorted(removed) == sorted([old, half])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, keep.name])
