"""The messages of a run: the written reports found, one message per destination (or digest),
each filled with the content its destination's kind takes (see :mod:`engagement_kit.delivery.messages`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engagement_kit.delivery.destinations import Destination
from engagement_kit.delivery.digest import digest_email, digest_text
from engagement_kit.delivery.messages import (
    WeekReport,
    alert_text,
    chat_text,
    email_message,
    json_text,
)
from engagement_kit.delivery.plan import DeliveryPlan


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One message to one destination: what happened.

    Attributes
    ----------
    streams : tuple of str
        The stream ids the message covers (several for a digest).
    week : str
    destination : str
        The URL as written (no secret).
    kind : {"report", "digest", "alerts", "record", "index"}
        ``record``/``index``: the run's ``delivery.json`` or the index could not be written.
    status : {"sent", "skipped", "failed", "dry-run"}
    detail : str
    """

    streams: tuple[str, ...]
    week: str
    destination: str
    kind: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Not failed (sent, skipped as already sent, or a dry run)."""
        return self.status != "failed"


@dataclasses.dataclass
class OutgoingMessage:
    reports: list[WeekReport]
    destination: Destination
    kind: str
    title: str = ""
    body: str = ""
    body_format: str = "text"
    attachments: list[tuple[str, bytes, str]] = dataclasses.field(default_factory=list)
    email: Any = None

    @property
    def content_hash(self) -> str:
        """The numbers' hash of each report (and the alert lines, for an alert message)."""
        parts = [
            self.kind,
            *(r.content_hash for r in self.reports),
            self.body * (self.kind == "alerts"),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    @property
    def week(self) -> str:
        return ", ".join(sorted({r.week for r in self.reports}))


def find_reports(
    plan: DeliveryPlan,
    out_dir: Path,
    weeks: Mapping[str, str],
) -> tuple[list[WeekReport], list[Outcome]]:
    """The written report of each stream's week; an outcome ``failed`` for a missing one.

    A stream's report is in its folder (``<slug>-<key>``), else in the folder earlier versions
    wrote (``<slug>``); either way only a sidecar whose ``stream_id`` is this stream's counts:
    a report of another stream is never sent for this one.
    """
    found, missing = [], []
    for stream_id, week in weeks.items():
        stream = plan.stream(stream_id)
        if stream is None:
            continue
        report, problem = _find_one(plan, out_dir, stream_id, stream.config.name, week)
        if report is not None:
            found.append(report)
        else:
            missing.append(Outcome((stream_id,), week, "-", "report", "failed", problem))
    return found, missing


def _find_one(
    plan: DeliveryPlan, out_dir: Path, stream_id: str, name: str, week: str
) -> tuple[WeekReport | None, str]:
    from engagement_kit.store.files import stream_folders

    folders = stream_folders(name, stream_id)
    problem = f"no report for {week} in {out_dir / folders[0]}; run engagement-kit report first"
    for slug in folders:
        json_path = out_dir / slug / f"{week}.json"
        html_path = out_dir / slug / f"{week}.html"
        if not (json_path.is_file() and html_path.is_file()):
            continue
        try:
            sidecar = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return None, f"{json_path}: unreadable ({exc})"
        owner = sidecar.get("stream_id") if isinstance(sidecar, dict) else None
        if owner != stream_id:
            problem = (
                f"{json_path} is the report of stream {owner!r}, not of {stream_id!r}; it is not "
                f"sent (run engagement-kit report for {stream_id!r}: it writes to "
                f"{out_dir / folders[0]})"
            )
            continue
        link = (
            f"{plan.link.rstrip('/')}/{quote(slug)}/{quote(week)}.html"
            if plan.link
            else str(html_path.resolve())
        )
        return WeekReport(stream_id, name, slug, week, sidecar, html_path, link), ""
    return None, problem


def _deliveries(plan: DeliveryPlan, stream_id: str) -> Sequence[Destination]:
    """The destinations of a stream's reports (none for a stream the plan does not list)."""
    stream = plan.stream(stream_id)
    return stream.deliver if stream is not None else ()


def plan_messages(plan: DeliveryPlan, reports: Sequence[WeekReport]) -> list[OutgoingMessage]:
    """The run's messages: per stream and destination, except that a ``digest`` destination
    gets one message for all its streams, its fired alerts inside it (first), not on their own."""
    messages: list[OutgoingMessage] = []
    digests = plan.digest_destinations
    by_dest: dict[str, list[WeekReport]] = {}
    dests: dict[str, Destination] = {}
    for r in reports:
        for d in _deliveries(plan, r.stream_id):
            if d.template in digests:
                by_dest.setdefault(d.template, []).append(r)
                dests[d.template] = d
            else:
                messages.append(OutgoingMessage([r], d, "report"))
    messages[:0] = [OutgoingMessage(rs, dests[t], "digest") for t, rs in by_dest.items()]
    for r in reports:
        stream = plan.stream(r.stream_id)
        per_dest: dict[str, tuple[Destination, list[dict[str, Any]]]] = {}
        for alert in r.alerts:
            for d in stream.alert_destinations(str(alert.get("name"))):  # type: ignore[union-attr]
                if r in by_dest.get(d.template, ()):
                    continue  # the digest to this destination carries the alert, first
                per_dest.setdefault(d.template, (d, []))[1].append(alert)
        for d, alerts in per_dest.values():
            title, body = alert_text(r, alerts)
            messages.append(OutgoingMessage([r], d, "alerts", title, body))
    return messages


def fill_email(message: OutgoingMessage, emails: dict[tuple[str, ...], Any]) -> None:
    """Build the message's content for its destination's kind (each email once per run)."""
    if message.kind == "alerts":
        return
    kind = message.destination.kind
    digest = message.kind == "digest"
    if kind == "email":
        key = (message.kind, *(f"{r.stream_id} {r.week}" for r in message.reports))
        if key not in emails:
            emails[key] = (digest_email if digest else email_message)(message.reports)
        email_ = emails[key]
        message.email = email_
        message.title, message.body, message.body_format = email_.subject, email_.html, "html"
        message.attachments = [(a.name, a.data, a.mimetype) for a in email_.attachments]
    elif kind == "json":
        message.title, message.body = json_text(message.reports)
    else:
        message.title, message.body = (digest_text if digest else chat_text)(message.reports)
