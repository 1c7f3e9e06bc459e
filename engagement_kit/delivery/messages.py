"""What delivery sends: the email (HTML + inline charts + the report), chat text, webhook JSON.

Everything here is built from files already written by ``engagement-kit report``: the sidecar
``<week>.json`` (every number) and the page ``<week>.html`` (attached as one self-contained file,
its shared chart libraries inlined; its two charts are re-drawn as PNG images with vl-convert
from the Vega-Lite specs the page carries, so the email shows exactly the report's charts
without fetching anything again).

The email body is plain HTML with inline styles and no script, so it reads the same in Outlook,
Gmail or a phone's mail app; images are referenced as ``cid:<name>`` and travel in the message.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engagement_kit.delivery.rules import alert_items
from engagement_kit.formatting import (
    change_phrase,
    change_text,
    count_text,
    kpi_sentence,
    kpi_text,
    signed_percent,
)

__all__ = [
    "CHARTS",
    "EMAIL_KPIS",
    "Attachment",
    "Email",
    "WeekReport",
    "alert_text",
    "chart_pngs",
    "chat_text",
    "email_message",
    "json_text",
    "to_mime",
]

#: The report charts put into the email: (attachment suffix, chart title prefix in the page).
CHARTS: tuple[tuple[str, str], ...] = (
    ("new-vs-returning", "New and returning users"),
    ("peak-hours", "Average users by weekday and hour"),
)
#: The KPI rows of the email's table, in order.
EMAIL_KPIS: tuple[str, ...] = (
    "unique_users",
    "new_users",
    "returning_users",
    "avg_unique_users_per_day",
    "returning_share",
    "stickiness",
)
#: The three KPIs of a chat message.
CHAT_KPIS: tuple[str, ...] = ("unique_users", "new_users", "returning_users")

_TD = "padding:4px 10px;border-bottom:1px solid #d9dee5;text-align:right"
_TH = "padding:4px 10px;border-bottom:1px solid #d9dee5;text-align:left;font-weight:600"


@dataclasses.dataclass(frozen=True)
class WeekReport:
    """One written report found on disk.

    Attributes
    ----------
    stream_id, stream_name, slug, week : str
    sidecar : dict
        The ``<week>.json`` data.
    html_path : Path
    link : str
        Where the full report can be opened: ``link`` of ``[defaults]`` + slug/week.html, or the
        local path.
    """

    stream_id: str
    stream_name: str
    slug: str
    week: str
    sidecar: dict[str, Any]
    html_path: Path
    link: str

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.sidecar.get("alerts") or [])

    @functools.cached_property
    def content_hash(self) -> str:
        """Hash of the numbers (the sidecar without its volatile ``generated_at``)."""
        data = {k: v for k, v in self.sidecar.items() if k != "generated_at"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    mimetype: str


@dataclasses.dataclass(frozen=True)
class Email:
    """An email: subject, HTML body (images as ``cid:<name>``), text version, attachments."""

    subject: str
    html: str
    text: str
    images: tuple[Attachment, ...]
    files: tuple[Attachment, ...]

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        return self.images + self.files


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# -- charts -------------------------------------------------------------------------------------

_CHART_DIV = re.compile(r"<div\b[^>]*\bclass=\"ek-chart\"[^>]*>")
_ATTR = re.compile(r'\b(id|aria-label)="([^"]*)"')


def chart_specs(page: str) -> dict[str, dict[str, Any]]:
    """The Vega-Lite specs a report page carries, by chart title."""
    specs: dict[str, dict[str, Any]] = {}
    for tag in _CHART_DIV.finditer(page):
        attrs = dict(_ATTR.findall(tag.group(0)))
        chart_id, title = attrs.get("id"), html.unescape(attrs.get("aria-label", ""))
        if not chart_id:
            continue
        spec = re.search(
            rf'<script\b[^>]*\bid="{re.escape(chart_id)}-spec"[^>]*>(.*?)</script>', page, re.S
        )
        if spec:
            try:
                specs[title] = json.loads(spec.group(1))
            except ValueError:
                continue
    return specs


def chart_pngs(page: str, prefix: str) -> list[tuple[Attachment, str]]:
    """The report's new-vs-returning and peak-hours charts as PNG images (vl-convert).

    Returns
    -------
    list of (Attachment, str)
        Each image (named ``<prefix>-<chart>.png``) and its title; a chart the page does not
        carry is left out.
    """
    import vl_convert

    specs = chart_specs(page)
    out = []
    for suffix, title_prefix in CHARTS:
        title = next((t for t in specs if t.startswith(title_prefix)), None)
        if title is None:
            continue
        png = vl_convert.vegalite_to_png(specs[title], scale=1.5)
        out.append((Attachment(f"{prefix}-{suffix}.png", png, "image/png"), title))
    return out


# -- email --------------------------------------------------------------------------------------


def _headline(sidecar: Mapping[str, Any]) -> str:
    value = (sidecar.get("kpis") or {}).get("unique_users")
    previous = (sidecar.get("previous_kpis") or {}).get("unique_users")
    pct = ((sidecar.get("change") or {}).get("unique_users") or {}).get("pct_change")
    if value is None:
        return "The platform gave no user count for this week."
    if sidecar.get("status") == "no_data":
        return (
            "No data: the platform reports no users at all in this week (the stream had no "
            "users yet, or the week is older than the platform keeps)."
        )
    text = f"{count_text(value)} unique users this week"
    if previous is None:
        return text + "."
    return f"{text}, {change_phrase(value, previous, pct)} from {count_text(previous)} the week before."


def _kpi_table(sidecar: Mapping[str, Any]) -> str:
    from engagement_kit.metrics import KPI_LABELS

    rows = []
    for kpi in EMAIL_KPIS:
        value = (sidecar.get("kpis") or {}).get(kpi)
        previous = (sidecar.get("previous_kpis") or {}).get(kpi)
        change = (sidecar.get("change") or {}).get(kpi) or {}
        shown = change_text(kpi, change.get("change"), change.get("pct_change"))
        color = "#1a7f37" if shown[0] == "+" else "#b42318" if shown[0] == "−" else "#5f6b7a"
        rows.append(
            f'<tr data-kpi="{_e(kpi)}"><th style="{_TH}">{_e(KPI_LABELS.get(kpi, kpi))}</th>'
            f'<td style="{_TD}">{_e(kpi_text(kpi, value))}</td>'
            f'<td style="{_TD}">{_e(kpi_text(kpi, previous))}</td>'
            f'<td style="{_TD};color:{color}">{_e(shown)}</td></tr>'
        )
    head = "".join(
        f'<th style="{_TH if i == 0 else _TH + ";text-align:right"}">{h}</th>'
        for i, h in enumerate(("", "This week", "Week before", "Change"))
    )
    return (
        '<table role="presentation" style="border-collapse:collapse;font-variant-numeric:'
        f'tabular-nums;margin:8px 0"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
        "</tbody></table>"
    )


def _alerts_block(alerts: Sequence[Mapping[str, Any]]) -> str:
    if not alerts:
        return ""
    items = alert_items(alerts)
    return (
        '<div style="border:2px solid #b42318;background:#fef3f2;padding:8px 14px;'
        f'margin:10px 0;border-radius:6px"><strong>Alerts ({len(alerts)})</strong>'
        f'<ul style="margin:4px 0">{items}</ul></div>'
    )


def _unusual_days(sidecar: Mapping[str, Any]) -> str:
    found = sidecar.get("anomalies") or []
    if not found:
        return "<p>No unusual days this week.</p>"
    rows = "".join(
        f'<tr><td style="{_TH};font-weight:400">{_e(a.get("date"))}</td>'
        f'<td style="{_TD}">{_e(a.get("metric"))}</td>'
        f'<td style="{_TD}">{_e(count_text(a.get("value")))}</td>'
        f'<td style="{_TD}">{_e(count_text(a.get("low")))}–'
        f"{_e(count_text(a.get('high')))}</td>"
        f'<td style="{_TD}">{"higher" if a.get("direction") == "up" else "lower"} than usual</td>'
        "</tr>"
        for a in found
    )
    return (
        '<table role="presentation" style="border-collapse:collapse"><thead><tr>'
        f'<th style="{_TH}">Day</th><th style="{_TH}">Users</th><th style="{_TH}">Count</th>'
        f'<th style="{_TH}">Normal range</th><th style="{_TH}"></th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _failed_checks(sidecar: Mapping[str, Any]) -> str:
    failed = [c for c in sidecar.get("checks") or [] if c.get("level") != "info"]
    if not failed:
        return "<p>Every data check passed.</p>"
    items = "".join(
        f"<li>{_e(c.get('answer'))} answer: {_e(c.get('message'))}</li>" for c in failed
    )
    return f"<ul>{items}</ul>"


def _section(report: WeekReport, images: Sequence[tuple[Attachment, str]], attached: str) -> str:
    s = report.sidecar
    pictures = "".join(
        f'<p><img src="cid:{_e(img.name)}" alt="{_e(title)}" style="max-width:100%;'
        f'height:auto" width="640"></p>'
        for img, title in images
    )
    return (
        f'<h2 style="font-size:20px;margin:18px 0 4px">{_e(report.stream_name)}: '
        f"{_e(report.week)}</h2>"
        f'<p style="color:#5f6b7a;margin:0">{_e(s.get("start", ""))} to {_e(s.get("end", ""))}, '
        f"{_e(s.get('tz', ''))}</p>"
        f"{_alerts_block(report.alerts)}"
        f'<p style="font-size:16px">{_e(_headline(s))}</p>'
        f"{_kpi_table(s)}{pictures}"
        f'<h3 style="font-size:16px">Unusual days</h3>{_unusual_days(s)}'
        f'<h3 style="font-size:16px">Data checks</h3>{_failed_checks(s)}'
        f"<p>The full interactive report is attached ({_e(attached)}) and at "
        f'<a href="{_e(report.link)}">{_e(report.link)}</a>.</p>'
    )


def email_message(reports: Sequence[WeekReport]) -> Email:
    """The email for one report, or the digest of several (one section each).

    The HTML body holds, per report: the alerts, the headline, the KPI table with the change
    from the week before, the new-vs-returning and peak-hours charts (inline PNG, ``cid:``), the
    unusual days, the failed data checks and the link; each report page is attached as one
    self-contained file (a page that loads the reports folder's shared chart libraries gets them
    inlined: the recipient has no ``_assets/`` folder).
    """
    if not reports:
        raise ValueError("an email needs at least one report")
    images: list[Attachment] = []
    files: list[Attachment] = []
    sections = []
    for report in reports:
        page = report.html_path.read_bytes().decode("utf-8", "replace")
        pngs = chart_pngs(page, report.slug)
        images.extend(img for img, _ in pngs)
        attached = f"{report.slug}-{report.week}.html"
        files.append(
            Attachment(attached, _self_contained_page(page, report.html_path), "text/html")
        )
        sections.append(_section(report, pngs, attached))
    subject = _subject(reports)
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="font-family:'
        "system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933;"
        'font-size:15px;line-height:1.5;max-width:720px">'
        + "<hr>".join(sections)
        + '<p style="color:#5f6b7a;font-size:13px">Sent by engagement-kit.</p></body></html>'
    )
    return Email(subject, body, chat_text(reports)[1], tuple(images), tuple(files))


def _self_contained_page(page: str, path: Path) -> bytes:
    """The page at ``path`` as a single file: its shared chart libraries inlined (see
    :func:`engagement_kit.report.export.inline_assets`)."""
    from engagement_kit.report.export import inline_assets

    return inline_assets(page, path).encode("utf-8")


def _subject(reports: Sequence[WeekReport]) -> str:
    alerts = sum(len(r.alerts) for r in reports)
    flag = f"[{alerts} alert{'s' if alerts != 1 else ''}] " if alerts else ""
    if len(reports) == 1:
        r = reports[0]
        kpis = r.sidecar.get("kpis") or {}
        pct = ((r.sidecar.get("change") or {}).get("unique_users") or {}).get("pct_change")
        users = count_text(kpis.get("unique_users"))
        return (
            f"{flag}Weekly report: {r.stream_name}, {r.week}: {users} users ({signed_percent(pct)})"
        )
    weeks = ", ".join(sorted({r.week for r in reports}))
    return f"{flag}Weekly reports, {weeks}: {len(reports)} streams"


def to_mime(email_: Email, *, sender: str = "", to: Sequence[str] = ()) -> bytes:
    """The email as an RFC 5322 message (for ``--dry-run``'s ``.eml`` file), with the standard
    ``email`` package: text and HTML alternatives, the images related to the HTML by
    ``Content-ID``, the reports attached."""
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage(policy=SMTP.clone(max_line_length=998))  # no folded Subject
    msg["Subject"] = email_.subject
    msg["From"] = sender or "engagement-kit <engagement-kit@localhost>"
    msg["To"] = ", ".join(to) or "undisclosed-recipients:;"
    msg.set_content(email_.text)
    msg.add_alternative(email_.html, subtype="html")
    parts = msg.get_payload()  # text, then the HTML alternative just added
    assert isinstance(parts, list)
    html_part = parts[-1]
    assert isinstance(html_part, EmailMessage)
    for img in email_.images:
        html_part.add_related(img.data, "image", "png", cid=f"<{img.name}>", filename=img.name)
    for file in email_.files:
        maintype, subtype = file.mimetype.split("/", 1)
        msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
    return msg.as_bytes()


# -- chat, webhook, alerts -----------------------------------------------------------------------


def chat_text(reports: Sequence[WeekReport]) -> tuple[str, str]:
    """A short message per report: headline, three KPIs with their change, alerts, the link.

    Returns
    -------
    (title, body)
    """
    from engagement_kit.metrics import KPI_LABELS

    blocks = []
    for r in reports:
        s = r.sidecar
        lines = [f"{r.stream_name}, {r.week}: {_headline(s)}"]
        for kpi in CHAT_KPIS:
            change = (s.get("change") or {}).get(kpi) or {}
            sentence = kpi_sentence(
                kpi,
                KPI_LABELS[kpi] + ":",
                (s.get("kpis") or {}).get(kpi),
                (s.get("previous_kpis") or {}).get(kpi),
                change.get("change"),
                change.get("pct_change"),
            )
            lines.append(f"- {sentence}")
        lines.extend(f"! ALERT {a.get('message', '')}" for a in r.alerts)
        lines.append(f"Full report: {r.link}")
        blocks.append("\n".join(lines))
    return _subject(reports), "\n\n".join(blocks)


def json_text(reports: Sequence[WeekReport]) -> tuple[str, str]:
    """The sidecar JSON (one report), or ``{"reports": [...]}`` for a digest.

    Returns
    -------
    (title, body)
    """
    if len(reports) == 1:
        data: Any = reports[0].sidecar
    else:
        data = {"reports": [r.sidecar for r in reports]}
    return _subject(reports), json.dumps(data, ensure_ascii=False, sort_keys=True)


def alert_text(report: WeekReport, alerts: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The short message of fired alerts (sent on its own, to each rule's destinations)."""
    n = len(alerts)
    title = f"Alert{'s' if n != 1 else ''}: {report.stream_name}, {report.week}"
    lines = [f"! {a.get('message', '')}" for a in alerts]
    lines.append(f"Full report: {report.link}")
    return title, "\n".join(lines)
