"""``reports/portfolio.html`` and ``portfolio.json``: every stream's latest week in one table.

One row per stream folder under the reports folder, from the newest ``<week>.json`` sidecar in
it (nothing is asked of any platform): the stream's name, its platform (the ``[platform.NAME]``
profile, or the project's host), unique users with the change from the week before, new users,
the returning share with its change in percentage points, a sparkline of unique users over the
sidecar's weeks of history (12 by default; inline SVG, no script), the fired alerts and the
failed data checks, and a link to the report. The rows are ordered by unique users, largest
first; a small script sorts by any column when a header is clicked. The totals row says what
is true: unique users do not add up across bots (a person using two bots counts in both).

:func:`portfolio_rows` is the one reading of the sidecars: the page, ``portfolio.json`` and
the portfolio digest (:mod:`engagement_kit.delivery.messages`) all use it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup, escape

from engagement_kit import __version__
from engagement_kit.charts.html import page_environment
from engagement_kit.formatting import change_text, count_text, share_text
from engagement_kit.store.files import atomic_write, stream_slug

__all__ = [
    "NOT_ADDITIVE_NOTE",
    "PORTFOLIO_TEMPLATE",
    "portfolio_data",
    "portfolio_rows",
    "portfolio_totals",
    "sidecar_row",
    "sort_rows",
    "sparkline_svg",
    "text_bars",
    "write_portfolio",
]

PORTFOLIO_TEMPLATE = "portfolio.html.j2"
#: What the totals row says about adding unique users across bots.
NOT_ADDITIVE_NOTE = (
    "Sums of each bot's own counts: unique users do not add up across bots (a person who "
    "used two bots counts in both), so the sum is not the number of people."
)
_WEEK_FILE = re.compile(r"(\d{4})-W(\d{2})\.json")
_BARS = "▁▂▃▄▅▆▇█"


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if value == value else None  # NaN is no number


def _latest_sidecar(stream_dir: Path) -> tuple[str, dict[str, Any]] | None:
    weeks = sorted(
        (
            (int(m.group(1)), int(m.group(2)), f.name)
            for f in stream_dir.iterdir()
            if (m := _WEEK_FILE.fullmatch(f.name))
        ),
        reverse=True,
    )
    for _, _, name in weeks:
        try:
            data = json.loads((stream_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("kpis"), dict):
            return name.removesuffix(".json"), data
    return None


def platform_label(sidecar: dict[str, Any]) -> str:
    """The platform column: the profile's ``label`` (``EU (Frankfurt)``), else its name, else
    the host's name (``platform.kore.ai``)."""
    name = str(sidecar.get("platform_label") or sidecar.get("platform") or "").strip()
    if name:
        return name
    host = str(sidecar.get("host") or "").strip()
    return (urlsplit(host).hostname or host) if host else "default"


def sidecar_row(data: dict[str, Any], *, slug: str, week: str, href: str | None) -> dict[str, Any]:
    """One portfolio row from one report's sidecar (the keys of :func:`portfolio_rows`)."""
    kpis = data.get("kpis") or {}
    previous = data.get("previous_kpis") or {}
    change = (data.get("change") or {}).get("unique_users") or {}
    share = _number(kpis.get("returning_share"))
    before = _number(previous.get("returning_share"))
    return {
        "stream_id": str(data.get("stream_id") or ""),
        "stream_name": str(data.get("stream_name") or slug),
        "platform": platform_label(data),
        "host": str(data.get("host") or ""),
        "slug": slug,
        "week": week,
        "start": str(data.get("start") or ""),
        "end": str(data.get("end") or ""),
        "unique_users": _number(kpis.get("unique_users")),
        "unique_change": _number(change.get("pct_change")),
        "new_users": _number(kpis.get("new_users")),
        "returning_share": share,
        "returning_share_change": (
            share - before if share is not None and before is not None else None
        ),
        "history": [
            {"week": str(h.get("week", "")), "unique_users": _number(h.get("unique_users"))}
            for h in data.get("history") or []
            if isinstance(h, dict)
        ],
        "alerts": [str(a.get("message", "")) for a in data.get("alerts") or []],
        "failed_checks": [
            str(c.get("message", ""))
            for c in data.get("checks") or []
            if c.get("level") in ("warning", "error")
        ],
        "href": href,
        "json_href": f"{quote(slug)}/{quote(week)}.json",
    }


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest first by unique users, then by name (the order without the page's script)."""
    return sorted(rows, key=lambda r: (-(r["unique_users"] or 0), r["stream_name"].casefold()))


def portfolio_rows(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """One row per stream folder of ``out_dir``: its newest week's numbers, from the sidecar.

    Returns
    -------
    list of dict
        Ordered by unique users, largest first (then by name). Keys: ``stream_id``,
        ``stream_name``, ``platform``, ``host``, ``slug``, ``week``, ``start``, ``end``,
        ``unique_users``, ``unique_change`` (relative), ``new_users``, ``returning_share``,
        ``returning_share_change`` (a difference of fractions: percentage points / 100),
        ``history`` (``[{"week", "unique_users"}]``), ``alerts`` (messages), ``failed_checks``
        (messages), ``href`` (the report, relative to ``out_dir``), ``json_href``.
    """
    out = Path(out_dir)
    rows: list[dict[str, Any]] = []
    if not out.is_dir():
        return rows
    for stream_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        if stream_dir.name.startswith((".", "_")) or stream_dir.name != stream_slug(
            stream_dir.name
        ):
            continue
        found = _latest_sidecar(stream_dir)
        if found is None:
            continue
        week, data = found
        html = stream_dir / f"{week}.html"
        rows.append(
            sidecar_row(
                data,
                slug=stream_dir.name,
                week=week,
                href=f"{quote(stream_dir.name)}/{quote(week)}.html" if html.is_file() else None,
            )
        )
    return sort_rows(rows)


def portfolio_totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The totals row: sums of each bot's counts (with :data:`NOT_ADDITIVE_NOTE`), alerts,
    failed checks, the platforms."""

    def total(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return sum(values) if values else None

    return {
        "streams": len(rows),
        "platforms": sorted({r["platform"] for r in rows}),
        "unique_users_sum": total("unique_users"),
        "new_users_sum": total("new_users"),
        "alerts": sum(len(r["alerts"]) for r in rows),
        "failed_checks": sum(len(r["failed_checks"]) for r in rows),
        "note": NOT_ADDITIVE_NOTE,
    }


def portfolio_data(
    out_dir: str | os.PathLike[str], rows: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What ``portfolio.json`` holds: the rows (default :func:`portfolio_rows`) and the totals."""
    ordered = sort_rows(list(rows)) if rows is not None else portfolio_rows(out_dir)
    return {
        "rows": ordered,
        "totals": portfolio_totals(ordered),
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "toolkit_version": __version__,
    }


def _values(history: Sequence[dict[str, Any]]) -> list[float | None]:
    return [h.get("unique_users") for h in history]


def sparkline_svg(history: Sequence[dict[str, Any]], *, width: int = 120, height: int = 28) -> str:
    """Unique users per week as a small inline SVG line (no script); its ``<title>`` lists the
    weeks and numbers for a screen reader or a hover. Empty text for no history."""
    values = _values(history)
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = (width - 4) / max(len(values) - 1, 1)
    points = [
        f"{2 + i * step:.1f},{height - 3 - (v - low) / span * (height - 6):.1f}"
        for i, v in enumerate(values)
        if v is not None
    ]
    title = "; ".join(f"{h.get('week')}: {count_text(h.get('unique_users'))}" for h in history)
    last = points[-1].split(",")
    return (
        f'<svg class="spark" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'data-points="{len(points)}"><title>{escape(title)}</title>'
        f'<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" '
        f'points="{" ".join(points)}"/>'
        f'<circle cx="{last[0]}" cy="{last[1]}" r="2" fill="#1f5fa8"/></svg>'
    )


def text_bars(history: Sequence[dict[str, Any]]) -> str:
    """Unique users per week as text bars (``▂▃▅▆█``): a sparkline any email client shows."""
    values = _values(history)
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(
        " " if v is None else _BARS[round((v - low) / span * (len(_BARS) - 1))] for v in values
    )


@functools.cache
def _env() -> jinja2.Environment:
    return page_environment(
        share=share_text,
        points=lambda v: change_text("returning_share", v),
        spark=lambda h: Markup(sparkline_svg(h)),
        bars=text_bars,
    )


def write_portfolio(
    out_dir: str | os.PathLike[str] = "reports", rows: Sequence[dict[str, Any]] | None = None
) -> Path:
    """Write ``out_dir/portfolio.html`` and ``out_dir/portfolio.json``.

    ``rows`` are the streams' rows when the caller has them (:func:`~engagement_kit.report.
    write_index` keeps each stream's in its catalogue, read once with the sidecar); without
    them every stream folder's newest sidecar is read (:func:`portfolio_rows`).

    Returns
    -------
    Path
        The page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = portfolio_data(out, rows)
    atomic_write(out / "portfolio.json", json.dumps(data, indent=2, ensure_ascii=False))
    page = (
        _env()
        .get_template(PORTFOLIO_TEMPLATE)
        .render(
            rows=data["rows"],
            totals=data["totals"],
            version=__version__,
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
    return atomic_write(out / "portfolio.html", page)
