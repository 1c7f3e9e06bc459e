"""MkDocs hook: the docstrings' Sphinx roles (``:func:`~engagement_kit.x.f```) as links.

The package's docstrings are numpy style with Sphinx roles, which Markdown shows as the raw
``:func:`` text. After a page is rendered, each role becomes a cross-reference that
mkdocs-autorefs resolves to the object's heading in the API reference (optional: a name it does
not know, such as a relative ``:func:`load_weekly```, stays plain code, with no warning), and
reStructuredText's ``::`` before a literal block reads as one colon.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):"
    r"<code>(?P<tilde>~?)(?P<target>[\w.]+?)(?P<call>\(\))?</code>"
)


def _link(match: re.Match[str]) -> str:
    target = match["target"].lstrip(".")
    shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
    shown += match["call"] or ""
    if "." not in target and not target.startswith("engagement_kit"):
        return f"<code>{shown}</code>"
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


#: reStructuredText's ``text::`` (a literal block follows): Markdown shows both colons.
_LITERAL_MARK = re.compile(r"::</p>")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Replace the roles in one page's HTML (before autorefs fixes the references)."""
    return _LITERAL_MARK.sub(":</p>", _ROLE.sub(_link, html))
