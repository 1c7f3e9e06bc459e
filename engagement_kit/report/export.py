"""The executed notebook as one offline HTML page: nbconvert's ``HTMLExporter`` with our
``ek_report`` template and the Vega bundle inlined once (cached on disk).
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path
from typing import Any

import altair as alt
import nbformat
import vl_convert
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from engagement_kit import __version__
from engagement_kit.charts.html import TEMPLATES
from engagement_kit.store.files import atomic_write

__all__ = [
    "OVERRIDDEN_LAB_BLOCKS",
    "TEMPLATES",
    "TEMPLATE_NAME",
    "notebook_to_html",
    "vega_bundle",
]

TEMPLATE_NAME = "ek_report"
#: The lab-template blocks ``ek_report/index.html.j2`` overrides (checked by the tests).
OVERRIDDEN_LAB_BLOCKS: tuple[str, ...] = (
    "html_head_js_requirejs",
    "jupyter_widgets",
    "notebook_css",
    "html_head_js_mathjax",
    "html_head_js_mermaidjs",
    "html_head_css",
)


def vegalite_minor() -> str:
    """altair's Vega-Lite version as ``"major.minor"`` (the bundle must match it)."""
    major, minor, *_ = alt.SCHEMA_VERSION.lstrip("v").split(".")
    return f"{major}.{minor}"


def _bundle_cache_file(vl_version: str) -> Path | None:
    try:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("engagement-kit"))
    except Exception:  # pragma: no cover - no usable cache folder
        return None
    version = re.sub(r"[^0-9A-Za-z.]+", "_", str(getattr(vl_convert, "__version__", "0")))
    return folder / f"vega-bundle-vlc{version}-vl{vl_version}.js"


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite (altair's version) and Vega-Embed as one script, safe to inline.

    From ``vl_convert.javascript_bundle`` (it defines ``window.vegaEmbed``). Building it takes
    seconds, so it is cached per process and on disk (the user cache folder, keyed by the
    vl-convert and Vega-Lite versions).
    """
    vl_version = vegalite_minor()
    cache = _bundle_cache_file(vl_version)
    bundle = None
    if cache is not None and cache.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = cache.read_text(encoding="utf-8")
            if "window.vegaEmbed" in text and len(text) > 100_000:
                bundle = text
    if bundle is None:
        bundle = vl_convert.javascript_bundle(vl_version=vl_version)
        if cache is not None:
            with contextlib.suppress(OSError):
                atomic_write(cache, bundle)
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def _template_resources(title: str) -> dict[str, Any]:
    return {
        "metadata": {"name": title},
        "ek_vega_bundle": vega_bundle(),
        "ek_vega_version": vl_convert.get_vega_version(),
        "ek_vegalite_version": vegalite_minor(),
        "ek_vega_embed_version": vl_convert.get_vega_embed_version(),
        "ek_toolkit_version": __version__,
    }


class DropStrayOutputs(Preprocessor):
    """Drop printed text (stdout/stderr streams) and tracebacks from every cell."""

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        if cell.get("cell_type") == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if o.get("output_type") not in ("stream", "error")
            ]
        return cell, resources


@functools.cache
def html_exporter() -> HTMLExporter:
    """The configured ``HTMLExporter``, built once per process (its templates compile once)."""
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        # validate the notebook once, after the last preprocessor, instead of after each of
        # them: 14 passes over every output cost about 40 ms per report page
        optimistic_validation=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags={"remove_cell", "parameters", "injected-parameters"},
            remove_all_outputs_tags={"remove_output"},
            remove_input_tags={"remove_input"},
        ),
        enabled=True,
    )
    exporter.register_preprocessor(DropStrayOutputs(), enabled=True)
    return exporter


def notebook_to_html(nb: nbformat.NotebookNode, *, title: str) -> str:
    """Render an executed notebook as one self-contained HTML page.

    nbconvert's ``HTMLExporter`` with the ``ek_report`` template (package data), without code
    cells, prompts, printed output or cells tagged ``remove_cell`` (outputs of ``remove_output``
    cells are dropped too). The result references no URL: no CDN script, stylesheet or font.

    Returns
    -------
    str
        The page.
    """
    body, _ = html_exporter().from_notebook_node(nb, resources=_template_resources(title))
    return body
