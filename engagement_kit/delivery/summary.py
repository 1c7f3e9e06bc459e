"""What a run did: the ``<stream>/<week>.delivery.json`` record and the summary table (its status
words and the exit status are the reports' own: :mod:`engagement_kit.report.summary`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text

from engagement_kit.delivery.ledger import timestamp_now
from engagement_kit.delivery.messages import WeekReport
from engagement_kit.delivery.outbox import Outcome
from engagement_kit.delivery.plan import DeliveryPlan
from engagement_kit.report.summary import status_text


def write_delivery_files(
    out: Path, reports: Sequence[WeekReport], outcomes: Sequence[Outcome], write: Callable
) -> list[Outcome]:
    """``<stream>/<week>.delivery.json``: the latest outcome per destination and kind.

    Returns a ``failed`` outcome for each file that could not be written (kind ``record``).
    """
    from engagement_kit.errors import WriteError

    problems: list[Outcome] = []
    for r in reports:
        path = out / r.slug / f"{r.week}.delivery.json"
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
            entries = {(e["destination"], e["kind"]): e for e in current.get("deliveries", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            entries = {}
        for o in outcomes:
            if r.stream_id in o.streams and r.week in o.week.split(", "):
                if o.status == "skipped" and (o.destination, o.kind) in entries:
                    continue
                entries[(o.destination, o.kind)] = {
                    "destination": o.destination,
                    "kind": o.kind,
                    "status": o.status,
                    "detail": o.detail,
                    "at": timestamp_now(),
                }
        try:
            write(
                path,
                json.dumps(
                    {
                        "stream_id": r.stream_id,
                        "week": r.week,
                        "deliveries": list(entries.values()),
                    },
                    indent=2,
                    ensure_ascii=False,
                ),
            )
        except WriteError as exc:
            problems.append(Outcome((r.stream_id,), r.week, "-", "record", "failed", str(exc)))
    return problems


def delivery_table(outcomes: Sequence[Outcome], plan: DeliveryPlan) -> Table:
    """A rich table of the outcomes: streams, week, kind, destination, status, detail."""
    names = {s.id: s.config.name for s in plan.streams}
    table = Table(title="Delivery", header_style="bold")
    for col in ("stream", "week", "kind", "destination", "status", "detail"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        table.add_row(
            Text(", ".join(names.get(s, s) for s in o.streams)),
            Text(o.week),
            Text(o.kind),
            Text(o.destination),
            status_text(o.status),
            Text(o.detail),
        )
    return table
