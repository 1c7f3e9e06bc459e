"""What the command line prints after a batch of reports: the summary table and the exit code.

Rich output belongs to the command line; :func:`~engagement_kit.report.render_all` prints the
same table when it is given a console (or not told to be quiet). The status words and the exit
status are shared with the delivery summary (:func:`engagement_kit.delivery.delivery_table`):
:data:`STATUS_STYLES`, :func:`status_text` and :func:`exit_code` are the one place they are
decided.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from engagement_kit.formatting import count_text, display_path, plain_output, signed_percent

if TYPE_CHECKING:
    from engagement_kit.report.task import ReportResult

__all__ = [
    "STATUS_STYLES",
    "exit_code",
    "print_summary",
    "status_text",
    "summary_lines",
    "summary_table",
    "warnings",
]

#: How each status word of a summary table looks: a report is written or failed; a delivery is
#: sent, skipped, failed or a dry run.
STATUS_STYLES = {
    "written": "green",
    "sent": "green",
    "failed": "bold red",
    "skipped": "dim",
    "dry-run": "yellow",
    "no data": "bold yellow",
}


class Succeeded(Protocol):
    """Anything a summary counts: a report's result, a delivery's outcome."""

    @property
    def ok(self) -> bool: ...


def status_text(status: str) -> Text:
    """A status word in its colour (:data:`STATUS_STYLES`)."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def exit_code(results: Sequence[Succeeded], *, nothing_done: int = 1) -> int:
    """A command's exit status: 0 when everything succeeded, 1 when anything failed.

    ``nothing_done`` is the status when there is nothing at all: 1 for reports (no report
    written is a failure), 0 for deliveries (nothing to send is not). A report of a week with
    no data at all is written (status 0) with a warning: the page and the sidecar's
    ``status`` say "no data" and no alert rule is evaluated on it.
    """
    if not results:
        return nothing_done
    return 0 if all(r.ok for r in results) else 1


def warnings(results: Sequence[ReportResult]) -> list[str]:
    """One sentence per written report that needs a look: a week with no data at all, and a
    stream whose settings did not all come from streams.toml."""
    out = []
    for r in results:
        if r.ok and r.data_status == "no_data":
            out.append(
                f"warning: {r.stream_name} ({r.stream_id}) {r.week}: no data: the platform "
                "reports no users at all in this week (before the stream had users, or older "
                "than it keeps); the report says so and no alert rule was evaluated"
            )
        if r.ok and r.stream_note:
            out.append(f"note: {r.stream_name} ({r.stream_id}): {r.stream_note}")
    return out


def summary_table(results: Sequence[ReportResult], *, width: int | None = None) -> Table:
    """A rich table for a terminal: stream, status, unique users, change, report.

    Paths are relative to the current folder, a week shared by every stream goes into the
    title, and errors are left to :func:`print_summary` (below the table). A row is one line;
    when that is wider than ``width`` (80 columns), the path moves under the stream's name, so
    a row takes two lines, never more (a long name is cut with "…").
    """
    weeks = {r.week for r in results}
    title = "Weekly reports" + (f", {next(iter(weeks))}" if len(weeks) == 1 else "")

    def build(two_lines: bool) -> Table:
        table = Table(
            title=title,
            title_justify="left",
            title_style="bold",
            box=None,
            pad_edge=False,
            header_style="bold underline",
        )
        table.add_column("stream" + (" / report" if two_lines else ""), overflow="fold")
        if len(weeks) > 1:
            table.add_column("week", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("users", justify="right", no_wrap=True)
        table.add_column("change", justify="right", no_wrap=True)
        if not two_lines:
            table.add_column("report", no_wrap=True)
        for r in results:
            path = display_path(r.html if r.ok else r.notebook)
            name = Text(r.stream_name, no_wrap=True, overflow="ellipsis")
            if two_lines:
                name = Text.assemble(r.stream_name, "\n", (path, "dim") if path else "")
            cells: list[Any] = [name]
            if len(weeks) > 1:
                cells.append(Text(r.week))
            cells += [
                status_text(
                    "failed" if not r.ok else "no data" if r.data_status == "no_data" else "written"
                ),
                count_text(r.unique_users) if r.ok else "",
                signed_percent(r.change) if r.ok else "",
            ]
            if not two_lines:
                cells.append(Text(path))
            table.add_row(*cells)
        return table

    table = build(two_lines=False)
    if width is not None and not _fits(table, width):
        table = build(two_lines=True)
    return table


def _fits(table: Table, width: int) -> bool:
    measuring = Console(width=10_000, file=io.StringIO())  # the natural width
    return Measurement.get(measuring, measuring.options, table).maximum <= width


def _two_line_summary(results: Sequence[ReportResult], width: int) -> Group:
    """The table for a narrow terminal: each stream's row, then its path on a line of its own
    across the whole width (a table cell would fold a long path onto a third line)."""
    weeks = {r.week for r in results}
    title = "Weekly reports" + (f", {next(iter(weeks))}" if len(weeks) == 1 else "")
    headers = (["week"] if len(weeks) > 1 else []) + ["status", "users", "change"]
    rows = [
        (
            r,
            ([r.week] if len(weeks) > 1 else [])
            + [
                "written" if r.ok else "failed",
                f"{r.unique_users:,}" if r.unique_users is not None else "",
                signed_percent(r.change) if r.ok else "",
            ],
        )
        for r in results
    ]
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(headers)]
    name_width = max(8, width - sum(widths) - 2 * len(widths))

    def line(first: Text, cells: Sequence[Text | str]) -> Table:
        grid = Table.grid(padding=(0, 0, 0, 1), pad_edge=False)
        grid.add_column(width=name_width, no_wrap=True, overflow="ellipsis")
        for header, size in zip(headers, widths, strict=True):
            right = header in ("users", "change")
            grid.add_column(  # a column's width includes its padding
                width=size + 1, no_wrap=True, justify="right" if right else "left"
            )
        grid.add_row(first, *cells)
        return grid

    parts: list[Any] = [
        Text(title, style="bold"),
        line(
            Text("stream / report", style="bold underline"),
            [Text(h, style="bold underline") for h in headers],
        ),
    ]
    for r, cells in rows:
        status = Text(cells[-3], style="green" if r.ok else "bold red")
        parts.append(line(Text(r.stream_name), [*map(Text, cells[:-3]), status, *cells[-2:]]))
        path = display_path(r.html if r.ok else r.notebook)
        if path:
            parts.append(Text(path, style="dim", overflow="fold"))
    return Group(*parts)


def summary_lines(results: Sequence[ReportResult]) -> list[str]:
    """The summary as plain lines, one per stream (for logs: nothing is wrapped)."""
    written = sum(r.ok for r in results)
    lines = [f"Weekly reports: {written} written, {len(results) - written} failed"]
    for r in results:
        if r.ok:
            users = f"{count_text(r.unique_users)} users"
            word = "no data" if r.data_status == "no_data" else "written"
            lines.append(
                f"{word}  {r.stream_name}  {r.week}  {users}  {signed_percent(r.change)}  "
                f"{display_path(r.html)}"
            )
        else:
            kept = f" (notebook kept: {display_path(r.notebook)})" if r.notebook else ""
            lines.append(f"failed   {r.stream_name}  {r.week}  {r.error or 'failed'}{kept}")
    return lines + warnings(results)


def print_summary(
    results: Sequence[ReportResult], *, console: Console | None = None, index: bool = True
) -> None:
    """Print the summary and, when there is one (``index``), where the index is.

    To a terminal: :func:`summary_table` fitted to its width, then each error. Otherwise (a
    file, a pipe, a cron log): :func:`summary_lines`, which nothing wraps.
    """
    console = console or Console(stderr=True)

    def line(text: str | Text) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=plain_output(console))

    if plain_output(console):
        for text in summary_lines(results):
            line(text)
    else:
        table = summary_table(results, width=console.width)
        fits = _fits(table, console.width)  # else even a row on two lines folds a long path
        console.print(table if fits else _two_line_summary(results, console.width))
        for r in results:
            if not r.ok:
                line(Text.assemble((f"{r.stream_name} ({r.week}): ", "bold red"), r.error or ""))
        for text in warnings(results):
            line(Text(text, style="yellow" if text.startswith("warning") else ""))
    written = [r for r in results if r.html is not None]
    if written and index:
        index_page = written[0].html.parent.parent / "index.html"  # type: ignore[union-attr]
        line(f"Index: {display_path(index_page)}")
