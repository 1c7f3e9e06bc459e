"""The executed notebook as one offline HTML page: nbconvert's ``HTMLExporter`` with our
``ek_report`` template and the Vega bundle (cached on disk), either inlined once (a
self-contained page) or shared by every page of a reports folder as ``_assets/<versions>.js``.

The shared file's name carries the Vega, Vega-Lite and Vega-Embed versions and a hash of its
content, so a page written before an upgrade keeps loading the bundle it was made with.
:func:`inline_assets` turns a page that loads the shared file back into a self-contained one
(email attachments, ``.eml`` dry runs).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
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
from engagement_kit.errors import ReportError
from engagement_kit.store.files import atomic_write

__all__ = [
    "ASSETS_DIR",
    "OVERRIDDEN_LAB_BLOCKS",
    "TEMPLATES",
    "TEMPLATE_NAME",
    "bundle_file_name",
    "inline_assets",
    "notebook_to_html",
    "vega_bundle",
    "write_assets",
]

#: The folder of a reports folder that holds the chart libraries every page there shares.
ASSETS_DIR = "_assets"

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
        bundle = vl_convert.javascript_bundle(None, vl_version=vl_version)  # type: ignore[arg-type]  # no snippet: the stub says str, None is the documented default
        if cache is not None:
            with contextlib.suppress(OSError):
                atomic_write(cache, bundle)
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


@functools.cache
def _bundle_script() -> str:
    """The text of the bundle's ``<script>``: a comment naming the versions, then the bundle.

    The same text is inlined into a self-contained page and written as the shared file, so a
    page whose shared file is inlined later (:func:`inline_assets`) is the self-contained page.
    """
    return (
        f"/* Vega {vl_convert.get_vega_version()}, Vega-Lite {vegalite_minor()}, Vega-Embed "
        f"{vl_convert.get_vega_embed_version()} (bundled by vl-convert) */\n{vega_bundle()}\n"
    )


@functools.cache
def bundle_file_name() -> str:
    """``vega-<v>-vega-lite-<v>-vega-embed-<v>-<hash>.js``: the shared bundle's file name.

    The library versions say what is inside; the hash (of the content) tells apart two builds
    of the same versions, so a file once written is never replaced by different bytes.
    """
    digest = hashlib.sha256(_bundle_script().encode("utf-8")).hexdigest()[:12]
    return (
        f"vega-{vl_convert.get_vega_version()}-vega-lite-{vegalite_minor()}-vega-embed-"
        f"{vl_convert.get_vega_embed_version()}-{digest}.js"
    )


def write_assets(reports_dir: str | os.PathLike[str]) -> Path:
    """Write the shared bundle into ``reports_dir/_assets/`` once; return its path.

    A file of that name and size is left alone (its name holds its content's hash); older
    versions' files stay, for the pages that load them.
    """
    path = Path(reports_dir) / ASSETS_DIR / bundle_file_name()
    data = _bundle_script().encode("utf-8")
    with contextlib.suppress(OSError):
        if path.stat().st_size == len(data):
            return path
    return atomic_write(path, data)


#: A page's ``<script>`` that loads the shared bundle (as written by our template).
_SHARED_SCRIPT = re.compile(r'<script id="ek-vega-bundle" src="(?P<src>[^"<>]+\.js)"></script>')


def inline_assets(page: str, page_path: str | os.PathLike[str]) -> str:
    """The page with its shared bundle inlined: a self-contained page (unchanged if it is one).

    ``page_path`` is where the page lives: its ``src`` is resolved from there, and only inside
    an ``_assets`` folder. When that file is missing (a page copied without its folder) and its
    name is this toolkit's own bundle, the bundle is built here instead.

    Raises
    ------
    ReportError
        When the page loads a bundle that is neither beside it nor this version's.
    """
    match = _SHARED_SCRIPT.search(page)
    if match is None:
        return page
    src = match.group("src")
    name = src.rsplit("/", 1)[-1]
    path = (Path(page_path).parent / src).resolve()
    text = None
    if path.parent.name == ASSETS_DIR and path.name == name:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = path.read_text(encoding="utf-8")
    if text is None and name == bundle_file_name():
        text = _bundle_script()
    if text is None:
        raise ReportError(
            f"{page_path} loads the chart libraries from {src}, which is missing; copy the "
            f"reports folder's {ASSETS_DIR}/ along with it, or write the report again"
        )
    script = '<script id="ek-vega-bundle">\n' + text + "</script>"
    return page[: match.start()] + script + page[match.end() :]


def _template_resources(title: str, assets_src: str | None) -> dict[str, Any]:
    return {
        "metadata": {"name": title},
        "ek_vega_script": None if assets_src else _bundle_script(),
        "ek_vega_src": assets_src,
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


def notebook_to_html(
    nb: nbformat.NotebookNode, *, title: str, assets_src: str | None = None
) -> str:
    """Render an executed notebook as one offline HTML page.

    nbconvert's ``HTMLExporter`` with the ``ek_report`` template (package data), without code
    cells, prompts, printed output or cells tagged ``remove_cell`` (outputs of ``remove_output``
    cells are dropped too). The result references no URL: no CDN script, stylesheet or font.

    Parameters
    ----------
    assets_src : str, optional
        The relative URL of the shared bundle (:func:`write_assets`), e.g.
        ``"../_assets/vega-….js"``: the page loads it instead of inlining it. Default: the
        bundle is inlined (a self-contained page).

    Returns
    -------
    str
        The page.
    """
    resources = _template_resources(title, assets_src)
    body, _ = html_exporter().from_notebook_node(nb, resources=resources)
    return body
