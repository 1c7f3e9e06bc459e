"""What the command line prints after a batch of reports: the summary table and the exit code.

Rich output belongs to the command line; :func:`~engagement_kit.report.render_all` prints the
same table when it is given a console (or not told to be quiet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._text import signed_percent

if TYPE_CHECKING:
    from .report.task import ReportResult

__all__ = ["exit_code", "print_summary", "summary_table"]


def exit_code(results: Sequence[ReportResult]) -> int:
    """The command's exit status: 0 when every report was written, 1 when any failed."""
    return 0 if results and all(r.ok for r in results) else 1


def summary_table(results: Sequence[ReportResult]) -> Table:
    """A rich table: stream, week, status, unique users, change, output (or the error)."""
    table = Table(title="Weekly reports", show_lines=False, header_style="bold")
    for name, justify in (
        ("stream", "left"),
        ("week", "left"),
        ("status", "left"),
        ("unique users", "right"),
        ("change", "right"),
        ("output", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in results:
        status = Text("written", style="green") if r.ok else Text("failed", style="bold red")
        users = f"{r.unique_users:,}" if r.unique_users is not None else ""
        output = str(r.html) if r.ok else (r.error or "")
        if not r.ok and r.notebook is not None:
            output += f" (notebook kept: {r.notebook})"
        table.add_row(
            Text(r.stream_name),
            Text(r.week),
            status,
            users,
            signed_percent(r.change) if r.ok else "",
            Text(output),
        )
    return table


def print_summary(results: Sequence[ReportResult], *, console: Console | None = None) -> None:
    """Print :func:`summary_table` and, when there is one, where the index is."""
    console = console or Console(stderr=True)
    console.print(summary_table(results))
    written = [r for r in results if r.html is not None]
    if written:
        index = written[0].html.parent.parent / "index.html"  # type: ignore[union-attr]
        console.print(f"Index: {index}", markup=False, highlight=False)
