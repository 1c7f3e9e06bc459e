"""The explore notebooks keep the house conventions; nbval (``make test``) re-runs them strictly.

These checks read the committed files only (no kernel), so they are fast: the first cell says
the question and how to run it, code cells stay thin (no ``def``/``class``), every code cell was
executed and stored its outputs, nothing loads from the network, no output is excused from the
strict comparison, and the dates are pinned.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.builders import REPO

EXPLORE = REPO / "notebooks" / "explore"
NOTEBOOKS = ("01_explore.ipynb", "02_retention.ipynb", "03_peak_hours.ipynb", "04_cohorts.ipynb")


def load(name: str) -> dict:
    return json.loads((EXPLORE / name).read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def outputs_text(cell: dict) -> str:
    return json.dumps(cell.get("outputs", []))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_cell_states_the_question_and_how_to_run_it(name):
    first = load(name)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = source(first)
    assert text.startswith("# ")
    assert "**The question it answers:**" in text
    assert "`make lab`" in text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_code_cells_are_thin_executed_and_stored(name):
    cells = [c for c in load(name)["cells"] if c["cell_type"] == "code"]
    assert "import engagement_kit as ek" in source(cells[0])
    for number, cell in enumerate(cells, start=1):
        text = source(cell)
        assert not re.search(r"^\s*(def|class) ", text, re.M), f"code cell {number} defines"
        assert len(text.splitlines()) <= 12, f"code cell {number} is not thin"
        assert cell["execution_count"] == number, "re-execute with `make notebooks`"
        assert "NBVAL_IGNORE_OUTPUT" not in text and "NBVAL_SKIP" not in text
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"code cell {number} failed"
            assert output["output_type"] != "stream", f"code cell {number} printed: {output}"
    shown = [c for c in cells[1:] if c.get("outputs")]
    assert len(shown) == len(cells) - 1, "every cell after the imports ends in one displayed object"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_outputs_are_offline_and_free_of_volatile_text(name):
    text = "".join(outputs_text(c) for c in load(name)["cells"])
    urls = set(re.findall(r"https?://[^\"'\\ )]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "altair-viz-" not in text and "vega-embed" not in text  # static SVG, no CDN loader
    assert not re.search(r"at 0x[0-9a-f]+|/tmp/|/home/|/root/", text)


def test_notebooks_are_pinned_to_past_dates_on_the_demo_platform():
    explore = "".join(source(c) for c in load("01_explore.ipynb")["cells"])
    assert "today=dt.date(2025, 12, 1)" in explore
    for name in NOTEBOOKS[1:]:
        code = "".join(source(c) for c in load(name)["cells"] if c["cell_type"] == "code")
        assert "ek.demo_client()" in code
        assert re.findall(r'"2025-\d\d-\d\d"', code)
        assert "today" not in code and "now(" not in code


def test_the_kpi_numbers_are_stored_for_comparison():
    cells = load("02_retention.ipynb")["cells"]
    html = "".join(
        "".join(o.get("data", {}).get("text/html", "")) for c in cells for o in c.get("outputs", [])
    )
    assert 'class="ek-kpis"' in html and 'data-kpi="returning_share"' in html
    assert re.search(r">\d{1,3}(,\d{3})+<", html)  # real counts, not placeholders
    explore = load("01_explore.ipynb")["cells"]
    kpis = next(c for c in explore if source(c).startswith("people_kpis(explorer.kpis"))
    shown = "".join(kpis["outputs"][0]["data"]["text/plain"])
    assert "Returning share" in shown and re.search(r"\d+\.\d %", shown)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_tables_show_no_float_with_more_than_two_decimals_and_no_reprs(name):
    """The notebooks used to show 446.142857, 0.502321, CoverageWindow(... share=0.848...),
    Counter({...}) and NaN cells: tables are now formatted (counts, one decimal, percent)."""
    tables, texts = [], []
    for cell in load(name)["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts = {
                kind: "".join(v) if isinstance(v, list) else v
                for kind, v in data.items()
                if kind in ("text/plain", "text/html")
            }
            texts.extend(parts.values())
            if "<table" in parts.get("text/html", ""):  # a table: its html and its text
                tables.extend(parts.values())
    assert tables, "no stored tables"
    for text in tables:
        assert not re.findall(r"(?<![\d:.])\d+\.\d{3,}(?![\d:])", text), text[:400]
    for text in texts:
        if "<svg" in text:
            continue
        for repr_ in ("CoverageWindow(", "Counter(", "NaN", "<NA>", "all_passed"):
            assert repr_ not in text, (repr_, text[:400])
