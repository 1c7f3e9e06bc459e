"""The commands' glue (kept here so ``cli/`` only calls in): after ``report``, and ``send``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engagement_kit.delivery.alerting import apply_alerts
from engagement_kit.delivery.ledger import Ledger
from engagement_kit.delivery.outbox import Outcome
from engagement_kit.delivery.plan import DeliveryPlan
from engagement_kit.delivery.send import deliver
from engagement_kit.delivery.summary import delivery_table
from engagement_kit.report.summary import exit_code

if TYPE_CHECKING:
    from rich.console import Console


def after_reports(
    results: Sequence[Any],
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    *,
    send: bool,
    dry_run: bool,
    resend: bool,
    console: Console,
    index: bool = True,
) -> int:
    """After ``report``: the alerts of the new reports, then (``--send``) their delivery.

    ``index=False`` (a shard of a split batch) leaves ``index.html`` to ``report --index-only``.

    Returns
    -------
    int
        The delivery's exit status (0 when nothing was to be sent).
    """
    from engagement_kit.report import write_index

    written = [r for r in results if r.ok and r.html is not None and r.json is not None]
    with Ledger() as ledger:
        fired = apply_alerts(plan, [(r.stream_id, r.html, r.json) for r in written], ledger)
        if index:
            write_index(out_dir)
        for (stream_id, week), alerts in fired.items():
            for a in alerts:
                console.print(
                    f"alert {stream_id} {week}: {a['message']}", markup=False, style="red"
                )
        if not (send or dry_run):
            return 0
        weeks = {r.stream_id: r.week for r in written}
        outcomes = _deliver_and_show(plan, out_dir, weeks, dry_run, resend, console, ledger)
    return exit_code(outcomes, nothing_done=0)


def _deliver_and_show(
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    weeks: Mapping[str, str],
    dry_run: bool,
    resend: bool,
    console: Console,
    ledger: Ledger | None = None,
) -> list[Outcome]:
    """:func:`deliver`, printing each dry-run message, or the summary table after a real run."""
    outcomes = deliver(
        plan,
        out_dir,
        weeks,
        dry_run=dry_run,
        resend=resend,
        ledger=ledger,
        echo=lambda t: console.print(t, markup=False, highlight=False),
    )
    if not dry_run:
        console.print(delivery_table(outcomes, plan))
    return outcomes


def send_written(
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    *,
    week: str | None,
    stream_ids: Sequence[str] | None,
    dry_run: bool,
    resend: bool,
    console: Console,
) -> list[Outcome]:
    """``engagement-kit send``: deliver written reports of ``week`` (default: each stream's
    last complete week)."""
    from engagement_kit.config.weeks import ended_week

    weeks = {
        s.id: ended_week(week, s.config.tz)
        for s in plan.streams
        if s.deliver or any(r.deliver for r in s.alerts)
    }
    return _deliver_and_show(plan, out_dir, weeks, dry_run, resend, console)
