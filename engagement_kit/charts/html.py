"""HTML snippets from Jinja templates (``templates/blocks/``): the report's blocks, the KPI table
and the chart placeholder.

Every ``{{ value }}`` is HTML-escaped with :func:`html.escape` (quotes too) unless the value is
:class:`markupsafe.Markup`, so a template cannot forget to escape and the bytes match what the
notebooks stored before the blocks became templates.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["TEMPLATES", "Markup", "escape", "page_environment", "render_block"]

#: The package's templates: ``blocks/`` here, the report page (``ek_report``), the index page.
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def escape(value: object) -> str:
    """``value`` as HTML text: :class:`~markupsafe.Markup` unchanged, anything else escaped."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value), quote=True)


def page_environment(**filters: Any) -> jinja2.Environment:
    """The Jinja environment of a whole page (the index, a stream's history, the portfolio):
    every value autoescaped, a missing one an error, the numbers written as every other surface
    writes them (``users``, ``pct``), plus the page's own ``filters``. Callers cache it."""
    from engagement_kit.formatting import count_text, signed_percent

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(users=count_text, pct=signed_percent, **filters)
    return env


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / "blocks")),
        autoescape=False,  # ``finalize`` escapes instead, with html.escape's exact output
        finalize=escape,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )


def render_block(name: str, **context: Any) -> str:
    """Render ``templates/blocks/<name>.html.j2`` with ``context``."""
    return _env().get_template(f"{name}.html.j2").render(**context)
