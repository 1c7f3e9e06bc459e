"""The portfolio digest: one message for the run, the portfolio table of its reports.

With ``digest = true`` (``[defaults]`` of ``streams.toml``) each destination gets one message
for a run instead of one per report: the alerts first (each with its stream and a link), then
the portfolio table of :mod:`engagement_kit.report.portfolio` (the same rows, from the same
sidecars): stream (linked to its report), platform, unique users with the change, new users,
returning share with its change in points, the 12 weeks as text bars (``▁▃▅█``: an email
client shows them without script, SVG or images), alerts and failed checks, and the totals row
that says unique users do not add up across bots.

The email is HTML with inline styles only; chat destinations get the same as lines of text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from engagement_kit.delivery.messages import Email, WeekReport
from engagement_kit.formatting import change_text, count_text, share_text, signed_percent
from engagement_kit.report.portfolio import (
    portfolio_totals,
    sidecar_row,
    sort_rows,
    text_bars,
)

__all__ = ["digest_email", "digest_rows", "digest_subject", "digest_text"]

_TD = "padding:4px 8px;border-bottom:1px solid #d9dee5;text-align:right;white-space:nowrap"
_TL = "padding:4px 8px;border-bottom:1px solid #d9dee5;text-align:left"
_TH = _TL + ";font-weight:600;background:#f5f7fa"
_RED = "#b42318"
_GREEN = "#1a7f37"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def digest_rows(reports: Sequence[WeekReport]) -> list[dict[str, Any]]:
    """The portfolio rows of the run's reports (largest first), each with its ``link``."""
    rows = []
    for r in reports:
        row = sidecar_row(r.sidecar, slug=r.slug, week=r.week, href=r.link)
        row["stream_name"] = r.stream_name
        rows.append(row)
    return sort_rows(rows)


def digest_subject(reports: Sequence[WeekReport]) -> str:
    """``[2 alerts] Portfolio, 2025-W47: 3 streams on 2 platforms``."""
    rows = digest_rows(reports)
    alerts = sum(len(r["alerts"]) for r in rows)
    flag = f"[{alerts} alert{'s' if alerts != 1 else ''}] " if alerts else ""
    weeks = ", ".join(sorted({r["week"] for r in rows}))
    platforms = len({r["platform"] for r in rows})
    return (
        f"{flag}Portfolio, {weeks}: {len(rows)} stream{'s' if len(rows) != 1 else ''} on "
        f"{platforms} platform{'s' if platforms != 1 else ''}"
    )


def _color(value: Any) -> str:
    return _GREEN if (value or 0) > 0 else _RED if (value or 0) < 0 else "#5f6b7a"


def _table(rows: Sequence[dict[str, Any]]) -> str:
    heads = (
        "Stream",
        "Platform",
        "Unique users",
        "vs week before",
        "New users",
        "Returning share",
        "Change",
        f"{max((len(r['history']) for r in rows), default=0)} weeks",
        "Alerts",
        "Failed checks",
    )
    head = "".join(
        f'<th style="{_TH if i < 2 or i == 7 else _TH + ";text-align:right"}">{_e(h)}</th>'
        for i, h in enumerate(heads)
    )
    body = []
    for r in rows:
        alerts = len(r["alerts"])
        body.append(
            f'<tr data-slug="{_e(r["slug"])}">'
            f'<td style="{_TL}"><a href="{_e(r["href"])}" style="color:#1f5fa8">'
            f"{_e(r['stream_name'])}</a></td>"
            f'<td style="{_TL}">{_e(r["platform"])}</td>'
            f'<td style="{_TD}">{_e(count_text(r["unique_users"]))}</td>'
            f'<td style="{_TD};color:{_color(r["unique_change"])}">'
            f"{_e(signed_percent(r['unique_change']))}</td>"
            f'<td style="{_TD}">{_e(count_text(r["new_users"]))}</td>'
            f'<td style="{_TD}">{_e(share_text(r["returning_share"]))}</td>'
            f'<td style="{_TD}">{_e(change_text("returning_share", r["returning_share_change"]))}</td>'
            f'<td style="{_TL};font-family:monospace;letter-spacing:1px;color:#1f5fa8" '
            f'class="bars">{_e(text_bars(r["history"]))}</td>'
            f'<td style="{_TD}{";color:" + _RED if alerts else ""}">{alerts}</td>'
            f'<td style="{_TD}">{len(r["failed_checks"])}</td></tr>'
        )
    totals = portfolio_totals(rows)
    foot = (
        f'<tr><td style="{_TL};font-weight:600" colspan="2">All {totals["streams"]} streams</td>'
        f'<td style="{_TD};font-weight:600">{_e(count_text(totals["unique_users_sum"]))}*</td>'
        f'<td style="{_TD}"></td>'
        f'<td style="{_TD};font-weight:600">{_e(count_text(totals["new_users_sum"]))}*</td>'
        f'<td style="{_TD}" colspan="3"></td>'
        f'<td style="{_TD};font-weight:600">{totals["alerts"]}</td>'
        f'<td style="{_TD};font-weight:600">{totals["failed_checks"]}</td></tr>'
    )
    return (
        '<table role="presentation" style="border-collapse:collapse;font-variant-numeric:'
        f'tabular-nums;font-size:14px"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody><tfoot>{foot}</tfoot></table>"
        f'<p style="color:#5f6b7a;font-size:13px">* {_e(totals["note"])}</p>'
    )


def _alerts_first(rows: Sequence[dict[str, Any]]) -> str:
    items = [
        f'<li><a href="{_e(r["href"])}" style="color:{_RED}">{_e(r["stream_name"])}</a> '
        f"({_e(r['platform'])}): {_e(message)}</li>"
        for r in rows
        for message in r["alerts"]
    ]
    if not items:
        return '<p style="color:#5f6b7a">No alerts fired this week.</p>'
    return (
        f'<div style="border:2px solid {_RED};background:#fef3f2;padding:8px 14px;'
        f'margin:10px 0;border-radius:6px"><strong>Alerts ({len(items)})</strong>'
        f'<ul style="margin:4px 0">{"".join(items)}</ul></div>'
    )


def digest_text(reports: Sequence[WeekReport]) -> tuple[str, str]:
    """The digest as text (chat destinations and the email's text part): alerts first, one
    line per stream with its numbers, text bars and link, then the totals note.

    Returns
    -------
    (title, body)
    """
    rows = digest_rows(reports)
    lines = [
        f"! ALERT {r['stream_name']} ({r['platform']}): {message}"
        for r in rows
        for message in r["alerts"]
    ]
    for r in rows:
        lines.append(
            f"{r['stream_name']} ({r['platform']}), {r['week']}: "
            f"{count_text(r['unique_users'])} users ({signed_percent(r['unique_change'])}), "
            f"{count_text(r['new_users'])} new, returning {share_text(r['returning_share'])} "
            f"({change_text('returning_share', r['returning_share_change'])}) "
            f"{text_bars(r['history'])} "
            f"{r['href']}"
        )
    lines.append(portfolio_totals(rows)["note"])
    return digest_subject(reports), "\n".join(lines)


def digest_email(reports: Sequence[WeekReport]) -> Email:
    """The digest email: HTML with inline styles, no script, no SVG, no image; the alerts
    first, the portfolio table, a link to each report (no attachment: the links open them)."""
    if not reports:
        raise ValueError("a digest needs at least one report")
    rows = digest_rows(reports)
    subject = digest_subject(reports)
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="font-family:'
        "system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933;"
        'font-size:15px;line-height:1.5">'
        f'<h1 style="font-size:22px;margin:8px 0">{_e(subject)}</h1>'
        f"{_alerts_first(rows)}{_table(rows)}"
        '<p style="color:#5f6b7a;font-size:13px">Sent by engagement-kit.</p></body></html>'
    )
    return Email(subject, body, digest_text(reports)[1], (), ())
