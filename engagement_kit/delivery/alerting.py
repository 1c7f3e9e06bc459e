"""Alert rules in the delivery flow: applied to the reports just written (banner, sidecar,
firings for the cooldown), backtested over past weeks, and listed by ``engagement-kit alerts``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import Progress
from rich.table import Table

from engagement_kit.config.weeks import last_complete_week, week_labels
from engagement_kit.delivery.ledger import Ledger
from engagement_kit.delivery.plan import DeliveryPlan
from engagement_kit.delivery.rules import evaluate, fired_alerts, put_banner, simulate
from engagement_kit.errors import ConfigError
from engagement_kit.formatting import print_table

if TYPE_CHECKING:
    from rich.console import Console


def apply_alerts(
    plan: DeliveryPlan, reports: Iterable[tuple[str, Path, Path]], ledger: Ledger
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Evaluate each stream's rules on its new report; write ``alerts`` into the sidecar and
    the banner into the page; record the firings (for the cooldown).

    Parameters
    ----------
    reports : iterable of (stream_id, html path, json path)
        Reports just written.

    Returns
    -------
    dict
        ``(stream_id, week)`` → the fired alerts.
    """
    fired: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for stream_id, html_path, json_path in reports:
        try:
            sidecar = json.loads(json_path.read_text(encoding="utf-8"))
            week = str(sidecar["week"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a sidecar the runner wrote: nothing to evaluate
        alerts = alerts_in_force(plan, stream_id, sidecar, ledger)
        _store_alerts(stream_id, week, sidecar, alerts, html_path, json_path, ledger)
        fired[(stream_id, week)] = alerts
    return fired


def alerts_in_force(
    plan: DeliveryPlan, stream_id: str, sidecar: dict[str, Any], ledger: Ledger
) -> list[dict[str, Any]]:
    """The alerts the stream's rules in force fire on a report's stored numbers (its
    sidecar), the cooldown applied from the ledger's earlier firings."""
    stream = plan.stream(stream_id)
    rules = stream.alerts if stream else ()
    week = str(sidecar.get("week"))
    return fired_alerts(evaluate(rules, sidecar, ledger.last_fired(stream_id, week)))


def _store_alerts(
    stream_id: str,
    week: str,
    sidecar: dict[str, Any],
    alerts: list[dict[str, Any]],
    html_path: Path,
    json_path: Path,
    ledger: Ledger,
) -> None:
    from engagement_kit.store.files import atomic_write_all

    ledger.set_firings(stream_id, week, [a["name"] for a in alerts])
    sidecar["alerts"] = alerts
    page = html_path.read_text(encoding="utf-8")
    new_page = put_banner(page, alerts)
    files: list[tuple[Path, str]] = [(json_path, json.dumps(sidecar, indent=2, ensure_ascii=False))]
    atomic_write_all(
        files + ([(html_path, new_page)] if new_page != page else [])
    )  # both or neither


def refresh_alerts(
    plan: DeliveryPlan,
    reports: Sequence[Any],
    ledger: Ledger,
    *,
    dry_run: bool,
    echo: Callable[[str], None],
) -> None:
    """At send time: the rules in force, on each report's stored numbers. Where they fire
    other alerts than the page shows (a rule added, changed or removed since ``report``),
    say so; then the message carries the new alerts, and (not on a dry run) the sidecar, the
    page's banner and the firings are updated.

    ``reports`` are :class:`~engagement_kit.delivery.messages.WeekReport` objects; their
    ``sidecar["alerts"]`` is replaced in memory.
    """
    for r in reports:
        shown = [str(a.get("name")) for a in r.sidecar.get("alerts") or []]
        alerts = alerts_in_force(plan, r.stream_id, r.sidecar, ledger)
        now = [str(a.get("name")) for a in alerts]
        if now == shown:
            continue
        what = ", ".join(now) if now else "none"
        page = ", ".join(shown) if shown else "none"
        update = "the page would be updated" if dry_run else "the page's banner is updated"
        echo(
            f"alerts {r.stream_id} {r.week}: the rules in force fire {what}; the page showed "
            f"{page} (rules changed since the report was written; {update})"
        )
        if dry_run:
            r.sidecar["alerts"] = alerts
        else:
            json_path = r.html_path.with_suffix(".json")
            _store_alerts(r.stream_id, r.week, r.sidecar, alerts, r.html_path, json_path, ledger)


def backtest(
    plan: DeliveryPlan,
    weeks: int = 12,
    *,
    source: str = "demo",
    host: str | None = None,
    end_week: str | None = None,
    stream_ids: Sequence[str] | None = None,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """For each rule, the weeks of the last ``weeks`` in which it would have fired.

    Each week's numbers are computed exactly as the report computes them
    (:func:`engagement_kit.report.load_weekly`, from the store and the platform), and the rules
    are run oldest week first with their cooldown, starting with no earlier firing.

    Returns
    -------
    list of dict
        ``stream_id``, ``stream_name``, ``rule`` (name), ``describe``, ``weeks`` (evaluated,
        oldest first), ``fired`` (weeks).
    """
    from engagement_kit.data_source import client_for
    from engagement_kit.report import load_weekly

    if not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 1:
        raise ConfigError(f"--backtest: {weeks!r} must be a whole number of weeks >= 1")
    streams = [s for s in plan.streams if s.alerts and (not stream_ids or s.id in set(stream_ids))]
    owns = client is None
    client = client_for(source, host) if client is None else client
    rows: list[dict[str, Any]] = []
    total = sum(weeks for _ in streams)
    done = 0
    try:
        for stream in streams:
            labels = week_labels(end_week or last_complete_week(stream.config.tz), weeks)
            sidecars = []
            for label in labels:
                c = stream.config
                weekly = load_weekly(
                    c.id,
                    label,
                    stream_name=c.name,
                    tz=c.tz,
                    conversation_type=c.conversation_type,
                    conversation_status=c.conversation_status,
                    channels=list(c.channels) or None,
                    source=source,
                    host=host,
                    weeks_of_history=1,
                    client=client,
                )
                sidecars.append(weekly.sidecar())
                done += 1
                if progress is not None:
                    progress(done, total)
            fired = simulate(stream.alerts, sidecars)
            for rule in stream.alerts:
                rows.append(
                    {
                        "stream_id": stream.id,
                        "stream_name": stream.config.name,
                        "rule": rule.name,
                        "describe": rule.describe(),
                        "cooldown_weeks": rule.cooldown_weeks,
                        "weeks": labels,
                        "fired": fired[rule.name],
                    }
                )
    finally:
        if owns:
            client.close()
    return rows


def print_alerts(
    plan: DeliveryPlan,
    *,
    backtest: int | None,
    stream_ids: Sequence[str] | None,
    week: str | None,
    demo: bool,
    host: str | None,
    console: Console,
) -> None:
    """``engagement-kit alerts``: the rules, or where they would have fired."""
    if not any(s.alerts for s in plan.streams):
        raise ConfigError(
            "no alert rules: add [[stream.alert]] tables (or [[defaults.alert]]) with name, kpi, "
            "rule and value (see the page 'Delivery and alerts' of the docs)"
        )
    if backtest is None:
        table = Table("stream", "rule", "fires when", "cooldown", "sent to", title="Alert rules")
        for s in plan.streams:
            for r in s.alerts:
                dests = s.alert_destinations(r.name)
                table.add_row(
                    s.config.name,
                    r.name,
                    r.describe(),
                    f"{r.cooldown_weeks} weeks",
                    "\n".join(d.template for d in dests) or "-",
                )
        print_table(console, table)
        return
    if demo and host:
        raise ConfigError("--host is for a real platform; --demo uses the built-in demo platform")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("computing past weeks", total=None)
        rows = backtest_fn(
            plan,
            backtest,
            source="demo" if demo else "platform",
            host=host,
            end_week=week,
            stream_ids=stream_ids,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    table = Table(
        "stream",
        "rule",
        "fires when",
        "cooldown",
        "fired in",
        title=f"Backtest: last {backtest} weeks",
    )
    for row in rows:
        fired = ", ".join(row["fired"]) or "never"
        table.add_row(
            row["stream_name"],
            row["rule"],
            row["describe"],
            f"{row['cooldown_weeks']} weeks",
            f"{fired} ({len(row['fired'])} of {len(row['weeks'])} weeks, "
            f"{row['weeks'][0]} to {row['weeks'][-1]})",
        )
    print_table(console, table)


backtest_fn = backtest
