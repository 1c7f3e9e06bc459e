"""Sending a run: each message to its destination once (claimed in the ledger before it is
sent, recorded after), or, on a dry run, shown (see :mod:`.dry_run`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engagement_kit.config.settings import reference_env
from engagement_kit.delivery import transport
from engagement_kit.delivery.alerting import refresh_alerts
from engagement_kit.delivery.destinations import mask
from engagement_kit.delivery.dry_run import dry_run_outcome
from engagement_kit.delivery.ledger import DIGEST_KEY, Ledger
from engagement_kit.delivery.outbox import (
    Outcome,
    OutgoingMessage,
    fill_email,
    find_reports,
    plan_messages,
)
from engagement_kit.delivery.plan import DeliveryPlan
from engagement_kit.delivery.summary import write_delivery_files
from engagement_kit.errors import ConfigError, StoreError, WriteError


def deliver(
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    weeks: Mapping[str, str],
    *,
    dry_run: bool = False,
    resend: bool = False,
    ledger: Ledger | None = None,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> list[Outcome]:
    """Send each stream's report of the given week (and its alerts) to its destinations.

    Parameters
    ----------
    weeks : mapping
        Stream id → ISO week whose written report to send.
    dry_run : bool
        Send nothing: print what would go where (``echo``), and write each email as
        ``<out_dir>/<stream>/<week>.eml`` (``digest-<week>.eml`` for a digest).
    resend : bool
        Send again what the ledger says was sent.
    env : mapping, optional
        Where ``${NAME}`` values come from (default: the environment over ``.env``).
    deadline : float, optional
        Seconds each attempt of each destination may take (``--deadline``); default the
        streams' ``deadline`` in ``streams.toml``, else 60. An attempt that runs out of time
        is stopped, counts as failed and the other destinations go on.

    Returns
    -------
    list of Outcome
        Also written, per report, to ``<stream>/<week>.delivery.json`` (not on a dry run), and
        the index is refreshed; a file that cannot be written (a full disk) adds a ``failed``
        outcome naming it and the cause.
    """
    from engagement_kit.report import write_index
    from engagement_kit.store.files import atomic_write

    out = Path(out_dir)
    env = reference_env() if env is None else env
    echo = echo or (lambda text: None)
    reports, outcomes = find_reports(plan, out, weeks)
    owns = ledger is None
    ledger = Ledger() if ledger is None else ledger
    try:
        refresh_alerts(plan, reports, ledger, dry_run=dry_run, echo=echo)
        messages = plan_messages(plan, reports)
        if not dry_run and messages:
            ledger.check_writable()  # before the first message: nothing is sent if it cannot record
    except BaseException:
        if owns:
            ledger.close()
        raise
    all_dests = plan.destinations

    emails: dict[tuple[str, ...], Any] = {}

    def safe(text: str) -> str:
        return mask(text, env, all_dests)

    try:
        with transport.quiet_apprise():
            for message in messages:
                seconds = deadline or plan.deadline_for([r.stream_id for r in message.reports])
                outcomes.append(
                    _deliver_one(
                        message, ledger, out, env, safe, dry_run, resend, echo, emails, seconds
                    )
                )
    finally:
        if owns:
            ledger.close()
    if not dry_run:  # what was sent stays sent: a file that cannot be written is one more
        # failed line of the summary (naming the file and the cause), never a traceback
        outcomes += write_delivery_files(out, reports, outcomes, atomic_write)
        try:
            write_index(out)
        except WriteError as exc:
            outcomes.append(
                Outcome(
                    (), ", ".join(sorted(set(weeks.values()))), "-", "index", "failed", str(exc)
                )
            )
    return outcomes


def _ledger_keys(message: OutgoingMessage) -> list[tuple[str, str]]:
    """The ledger's ``(stream, week)`` keys of a message: one per stream and week, and for a
    digest one for the message (:data:`DIGEST_KEY`, the run's weeks): one message per run."""
    if message.kind == "digest":
        return [(DIGEST_KEY, message.week)]
    return [(r.stream_id, r.week) for r in message.reports]


def _sent_before(message: OutgoingMessage, ledger: Ledger) -> tuple[str, str] | None:
    """A digest recorded per stream by an earlier release (every stream's row): sent."""
    if message.kind != "digest":
        return None
    found = [
        ledger.sent(r.stream_id, r.week, message.destination.template, "digest")
        for r in message.reports
    ]
    return found[0] if found and all(found) else None


def _deliver_one(
    message: OutgoingMessage,
    ledger: Ledger,
    out: Path,
    env: Mapping[str, str],
    safe: Callable[[str], str],
    dry_run: bool,
    resend: bool,
    echo: Callable[[str], None],
    emails: dict[tuple[str, ...], Any],
    deadline: float,
) -> Outcome:
    dest = message.destination
    kind = message.kind
    ids = tuple(r.stream_id for r in message.reports)
    keys = _ledger_keys(message)
    if not resend and (old := _sent_before(message, ledger)) is not None:
        return _skipped(message, old)
    if dry_run:
        if not resend:
            pending = [k for k in keys if not ledger.sent(*k, dest.template, kind)]
            if not pending:
                return _skipped(message, ledger.sent(*keys[0], dest.template, kind))
    else:
        claimed, notes = [], []
        for key in keys:
            got = ledger.claim(*key, dest.template, kind, resend=resend)
            if got.status == "claimed":
                claimed.append(key)
                if got.took_over:
                    echo(
                        f"{key[0]} {key[1]} {kind} to {safe(dest.template)}: taking over the "
                        f"claim of {got.took_over}, which never finished (it may have been sent "
                        "already)"
                    )
            elif got.status == "busy":
                notes.append(
                    f"being sent by {got.owner} (claimed {got.at}); skipped here "
                    f"(a claim that never finishes is taken over after {ledger.claim_timeout:g}s)"
                )
        if not claimed:
            if notes:
                return Outcome(ids, message.week, dest.template, kind, "skipped", notes[0])
            return _skipped(message, ledger.sent(*keys[0], dest.template, kind))
        keys = claimed
    try:
        outcome = _send_claimed(message, ids, out, env, safe, dry_run, echo, emails, deadline)
    except BaseException:  # Ctrl-C, SIGTERM: the attempt was killed; free the claim now so
        if not dry_run:  # the next run tries again (not only after the claim timeout)
            for key in keys:
                with contextlib.suppress(Exception):  # the stop itself must go on
                    ledger.release(*key, dest.template, kind, "stopped during the attempt")
        raise
    if not dry_run:
        hashes = {(r.stream_id, r.week): r.content_hash for r in message.reports}
        for key in keys:
            if outcome.status == "sent":
                done = hashes.get(key) if kind == "report" else message.content_hash
                try:
                    ledger.record(*key, dest.template, kind, done or message.content_hash)
                except StoreError as exc:  # it went out: say so, and that its claim holds it
                    raise StoreError(
                        f"{key[0]} {key[1]} {kind} to {safe(dest.template)} was sent but could "
                        f"not be recorded: {exc}; its claim stays, so no run sends it again "
                        f"before the claim timeout ({ledger.claim_timeout:g} s)"
                    ) from exc
            else:
                ledger.release(*key, dest.template, kind, outcome.detail)
    return outcome


def _skipped(message: OutgoingMessage, sent: tuple[str, str] | None) -> Outcome:
    sent_hash, at = sent or ("", "")
    note = f"already sent {at}"
    first = message.reports[0]
    if message.kind == "report" and sent_hash != first.content_hash:
        note += "; the report's numbers changed since (--resend sends the new version)"
    ids = tuple(r.stream_id for r in message.reports)
    return Outcome(ids, message.week, message.destination.template, message.kind, "skipped", note)


def _send_claimed(
    message: OutgoingMessage,
    ids: tuple[str, ...],
    out: Path,
    env: Mapping[str, str],
    safe: Callable[[str], str],
    dry_run: bool,
    echo: Callable[[str], None],
    emails: dict[tuple[str, ...], Any],
    deadline: float,
) -> Outcome:
    dest, kind = message.destination, message.kind
    try:
        url = dest.resolve(env)
    except ConfigError as exc:
        if not dry_run:
            return Outcome(ids, message.week, dest.template, kind, "failed", safe(str(exc)))
        url = ""
    try:
        fill_email(message, emails)
    except Exception as exc:  # e.g. an unreadable report: this message only
        return Outcome(
            ids, message.week, dest.template, kind, "failed", safe(f"{type(exc).__name__}: {exc}")
        )
    if dry_run:
        return dry_run_outcome(message, ids, out, url, safe, echo)
    ok, why, tries = transport.send_with_retry(url, message, deadline)
    if not ok:
        detail = f"{why} (after {tries} attempt{'s' if tries != 1 else ''})"
        return Outcome(ids, message.week, dest.template, kind, "failed", safe(detail))
    note = f" after {tries} attempts" if tries > 1 else ""
    return Outcome(ids, message.week, dest.template, kind, "sent", safe(message.title + note))
