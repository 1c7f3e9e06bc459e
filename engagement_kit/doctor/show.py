"""The diagnosis shown: a table of ✔/✘, or plain lines when not writing to a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engagement_kit.doctor.model import FAIL, OK, SKIP, Diagnosis
from engagement_kit.formatting import plain_output

_STYLES = {OK: "green", FAIL: "bold red", SKIP: "dim"}


def print_diagnosis(diagnosis: Diagnosis, console: Console) -> None:
    """A table of ✔/✘ with the fix of each ✘ (plain lines when not writing to a terminal)."""

    if plain_output(console):
        for check in diagnosis:
            line = f"{check.mark} {check.name}: {check.detail}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
            if check.fix:
                console.print(f"  fix: {check.fix}", markup=False, highlight=False, soft_wrap=True)
    else:
        table = Table(title="engagement-kit doctor", header_style="bold", show_lines=True)
        table.add_column("", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("result", overflow="fold")
        for check in diagnosis:
            result = Text(check.detail)
            if check.fix:
                result.append("\nfix: ", style="bold")
                result.append(check.fix)
            table.add_row(Text(check.mark, style=_STYLES[check.status]), Text(check.name), result)
        console.print(table)
    failed = sum(c.status == FAIL for c in diagnosis)
    skipped = sum(c.status == SKIP for c in diagnosis)
    if diagnosis.ok:
        console.print("All checks passed.", style="green", highlight=False)
    else:
        console.print(
            f"{failed} check(s) failed, {skipped} not checked: fix the first ✘ and run "
            "engagement-kit doctor again.",
            style="red",
            highlight=False,
            soft_wrap=plain_output(console),
        )
