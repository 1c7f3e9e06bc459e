"""How the toolkit writes things for people: numbers as short texts, and output that fits
where it is read (a terminal of any width, or a log file).

Numbers: shared by the report blocks, the index page, the CLI summary and the messages.

Commands print rich tables to a terminal and plain lines (one per row, never wrapped by
rich) when their output goes to a file, a pipe or a cron log. Paths are shown relative to the
current folder when they are inside it, so a row fits an 80-column screen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "count_text",
    "display_path",
    "plain_output",
    "points_text",
    "share_text",
    "signed_percent",
]


def display_path(
    path: str | os.PathLike[str] | None, *, cwd: str | os.PathLike[str] | None = None
) -> str:
    """``path`` as a user should read it: relative to ``cwd`` (default: the current folder)
    when it lies inside it, else absolute (``~/...`` under the home folder).

    Examples
    --------
    >>> display_path("/srv/kit/reports/a/2025-W48.html", cwd="/srv/kit")
    'reports/a/2025-W48.html'
    """
    if path is None:
        return ""
    target = Path(os.path.abspath(path))
    base = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    if target.is_relative_to(base):
        return str(target.relative_to(base)) if target != base else "."
    home = Path.home()
    if home != Path("/") and target.is_relative_to(home):
        return str(Path("~") / target.relative_to(home))
    return str(target)


def plain_output(console: Console) -> bool:
    """Whether ``console`` writes to something other than a terminal (a file, a pipe, a log):
    then print one plain line per row instead of a table wrapped to a guessed width."""
    return not console.is_terminal


def signed_percent(value: float | None) -> str:
    """``0.125`` → ``"+12.5 %"``, ``-0.05`` → ``"−5.0 %"`` (a real minus), ``None`` → ``"n/a"``."""
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f} %".replace("-", "−")


def count_text(value: Any) -> str:
    """``12345`` → ``"12,345"``; anything that is not a number → ``"–"``."""
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else "–"


def share_text(value: Any) -> str:
    """A fraction as percent: ``0.829`` → ``"82.9 %"``; not a number → ``"n/a"``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return "n/a"
    return f"{value * 100:.1f} %"


def points_text(value: Any) -> str:
    """A change of a share in percentage points: ``0.139`` → ``"+13.9 pp"``, ``-0.02`` →
    ``"−2.0 pp"``, ``0`` → ``"0.0 pp"``; not a number → ``"n/a"``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return "n/a"
    text = f"{abs(value) * 100:.1f} pp"
    if not any(ch in "123456789" for ch in text):
        return text
    return ("+" if value > 0 else "−") + text
