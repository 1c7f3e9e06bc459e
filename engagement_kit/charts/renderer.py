"""Which altair renderer a notebook uses (:func:`setup_notebook`), and the renderer of the HTML
reports: interactive charts that work offline.

Each chart becomes a ``<div>``, its Vega-Lite spec as inline JSON and a few lines of script that
call ``vegaEmbed`` when the page has it (the report page inlines the Vega bundle once in its
``<head>``); elsewhere (JupyterLab, GitHub) the div shows a one-line note.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from engagement_kit.charts.fast_import import skip_slow_optional_imports
from engagement_kit.charts.html import Markup, render_block
from engagement_kit.charts.theme import use_theme
from engagement_kit.tidy.frames import json_ready

__all__ = ["RENDERER_NAME", "chart_mimebundle", "enable_report_renderer", "setup_notebook"]

#: Name of our altair renderer (see :func:`chart_mimebundle`).
RENDERER_NAME = "engagement_kit_report"

_chart_ids = itertools.count(1)

_CHART_SCRIPT = """(function () {
  var el = document.getElementById("%(id)s");
  var spec = JSON.parse(document.getElementById("%(id)s-spec").textContent);
  if (window.vegaEmbed) {
    el.textContent = "";
    window.vegaEmbed(el, spec, {actions: false, renderer: "svg"}).catch(function (err) {
      el.textContent = "This chart could not be drawn: " + err;
    });
  }
})();"""
_CHART_NOTE = "Interactive chart: open the HTML report."


def _json_for_html(value: Any) -> str:
    """JSON text that is safe inside a ``<script>`` element (no ``</``, ``<!--``, ``]]>``)."""
    text = json.dumps(json_ready(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _chart_title(spec: Mapping[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(str(t) for t in title)
    if not title:
        for key in ("vconcat", "hconcat", "concat", "layer"):
            parts = spec.get(key)
            if isinstance(parts, list) and parts and isinstance(parts[0], dict):
                return _chart_title(parts[0])
    return str(title) if title else "Chart"


def chart_mimebundle(spec: dict[str, Any], **_metadata: Any) -> dict[str, str]:
    """The altair renderer registered as :data:`RENDERER_NAME`.

    Gives a ``text/html`` output holding a ``<div>`` for the chart, the Vega-Lite spec as inline
    JSON and a few lines of script that call ``vegaEmbed`` when the page has it (the report page
    inlines the bundle once in its ``<head>``); elsewhere (JupyterLab, GitHub) the div shows a
    one-line note. Ids come from a per-kernel counter, so re-running a notebook gives identical
    outputs (nbval compares them). No URL is ever referenced.

    Returns
    -------
    dict
        ``{"text/html": ..., "text/plain": <the chart's title>}``.
    """
    chart_id = f"ek-chart-{next(_chart_ids)}"
    script = (_CHART_SCRIPT % {"id": chart_id}).replace("</", "<\\/")
    title = _chart_title(spec)
    markup = render_block(
        "chart",
        id=chart_id,
        title=title,
        note=_CHART_NOTE,
        spec_json=Markup(_json_for_html(spec)),  # already safe inside <script>
        script=Markup(script),
    )
    return {"text/html": markup, "text/plain": f"<Chart: {title}>"}


def enable_report_renderer(*, fast_imports: bool = True) -> None:
    """Prepare a report kernel: our altair renderer and the charts theme, both enabled.

    What ``setup_notebook(renderer="report")`` does; the report notebook calls that (as
    ``ek.setup_notebook(renderer="report")``) in its first code cell. Calling it again is harmless.

    Parameters
    ----------
    fast_imports : bool
        Skip the slow optional import of ``rfc3987_syntax``
        (:func:`~engagement_kit.charts.skip_slow_optional_imports`), saving about two seconds
        per report.
    """
    if fast_imports:
        skip_slow_optional_imports()
    import altair as alt  # after the quick-import switch above

    if RENDERER_NAME not in alt.renderers.names():
        alt.renderers.register(RENDERER_NAME, chart_mimebundle)
    alt.renderers.enable(RENDERER_NAME)
    use_theme()


def setup_notebook(*, renderer: str = "svg", fast_imports: bool = True) -> str:
    """Prepare a notebook for the toolkit's charts: quick altair import, theme, renderer.

    Call it once, in the first code cell (``ek.setup_notebook()``); calling it again is
    harmless.

    Parameters
    ----------
    renderer : str
        ``"svg"`` (default): static SVG drawn offline by vl-convert, the same bytes on every
        run (good for committed notebooks and nbval). ``"report"``: the interactive, offline
        renderer of the HTML reports (:data:`RENDERER_NAME`). Any other
        altair renderer name (``"default"``, ``"html"``, ...) is enabled as is.
    fast_imports : bool
        Skip the slow optional import of ``rfc3987_syntax`` (see
        :func:`skip_slow_optional_imports`).

    Returns
    -------
    str
        The renderer now enabled.
    """
    if fast_imports:
        skip_slow_optional_imports()
    if renderer == "report":
        enable_report_renderer(fast_imports=fast_imports)
        return renderer
    import altair as alt  # after the quick-import switch above

    if renderer not in alt.renderers.names():
        raise ValueError(
            f"renderer: {renderer!r} is not an altair renderer; use 'svg', 'report' or one of "
            + ", ".join(sorted(alt.renderers.names()))
        )
    alt.renderers.enable(renderer)
    use_theme()
    return renderer
