"""A dry run's message: printed instead of sent, an email written as an ``.eml`` file beside its
report (``digest-<week>.eml`` for a digest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engagement_kit.delivery.messages import to_mime
from engagement_kit.delivery.outbox import Outcome, OutgoingMessage


def dry_run_outcome(
    message: OutgoingMessage,
    ids: tuple[str, ...],
    out: Path,
    url: str,
    safe: Callable[[str], str],
    echo: Callable[[str], None],
) -> Outcome:
    """Show what would go where (``url`` is empty when a referenced variable is not set)."""
    from engagement_kit.store.files import atomic_write

    dest, kind = message.destination, message.kind
    where = ""
    if message.email is not None:
        name = (
            f"{message.reports[0].slug}/{message.reports[0].week}.eml"
            if kind == "report"
            else f"digest-{message.reports[0].week}.eml"
        )
        sender, to = dest.addresses()
        eml = atomic_write(out / name, to_mime(message.email, sender=sender, to=to))
        where = f"; email written to {eml}"
    note = "" if url else " (a referenced variable is not set: it would fail)"
    echo(safe(f"would send {kind} '{message.title}' to {dest.template}{note}{where}"))
    if dest.kind == "chat" or kind == "alerts":
        echo(safe("    " + message.body.replace("\n", "\n    ")))
    return Outcome(ids, message.week, dest.template, kind, "dry-run", safe(message.title + where))
