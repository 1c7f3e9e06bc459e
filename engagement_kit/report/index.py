"""``reports/index.html``: every stream and week found under the reports folder."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from engagement_kit import __version__
from engagement_kit.charts.html import TEMPLATES
from engagement_kit.formatting import count_text, signed_percent
from engagement_kit.report.portfolio import write_portfolio
from engagement_kit.store.files import atomic_write, stream_slug

__all__ = ["INDEX_TEMPLATE", "write_index"]

INDEX_TEMPLATE = "reports_index.html.j2"
_WEEK_FILE = re.compile(r"(\d{4}-W\d{2})\.json")
_ERROR_FILE = re.compile(r"(\d{4}-W\d{2})\.error\.json")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _report_entry(stream_dir: Path, week: str, data: dict[str, Any]) -> dict[str, Any]:
    html_file = stream_dir / f"{week}.html"
    kpis = data.get("kpis") or {}
    change = (data.get("change") or {}).get("unique_users") or {}
    return {
        "href": f"{quote(stream_dir.name)}/{quote(week)}.html" if html_file.is_file() else None,
        "json_href": f"{quote(stream_dir.name)}/{quote(week)}.json",
        "start": data.get("start", ""),
        "end": data.get("end", ""),
        "tz": data.get("tz", ""),
        "unique_users": kpis.get("unique_users"),
        "new_users": kpis.get("new_users"),
        "returning_users": kpis.get("returning_users"),
        "change": change.get("pct_change"),
        "warnings": sum(1 for c in data.get("checks") or [] if c.get("level") == "warning"),
        "anomalies": len(data.get("anomalies") or []),
        "alerts": [str(a.get("message", "")) for a in data.get("alerts") or []],
    }


def _error_entry(stream_dir: Path, data: dict[str, Any]) -> dict[str, Any]:
    notebook = data.get("notebook")
    return {
        "message": str(data.get("error") or "unknown error"),
        "failed_at": str(data.get("failed_at") or ""),
        "notebook_href": f"{quote(stream_dir.name)}/{quote(notebook)}"
        if isinstance(notebook, str)
        and Path(notebook).name == notebook  # a file in this stream's folder only
        and (stream_dir / notebook).is_file()
        else None,
    }


def _index_entries(out_dir: Path) -> list[dict[str, Any]]:
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for stream_dir in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        if stream_dir.name.startswith(".") or stream_dir.name != stream_slug(stream_dir.name):
            continue
        for file in sorted(stream_dir.iterdir()):
            ok = _WEEK_FILE.fullmatch(file.name)
            bad = _ERROR_FILE.fullmatch(file.name)
            if not (ok or bad):
                continue
            week = (ok or bad).group(1)  # type: ignore[union-attr]
            data = _read_json(file)
            if data is None:
                continue
            entry = entries.setdefault(
                (stream_dir.name, week),
                {"slug": stream_dir.name, "week": week, "report": None, "error": None},
            )
            for key, fallback in (("stream_name", stream_dir.name), ("stream_id", "")):
                if data.get(key):
                    entry[key] = str(data[key])
                else:
                    entry.setdefault(key, fallback)
            if ok:
                entry["report"] = _report_entry(stream_dir, week, data)
                entry["delivery"] = _read_json(stream_dir / f"{week}.delivery.json") or {}
            else:
                entry["error"] = _error_entry(stream_dir, data)
    return sorted(
        entries.values(), key=lambda e: (_week_key(e["week"]), e["stream_name"].casefold())
    )


def _week_key(week: str) -> tuple[int, int]:
    year, number = week.split("-W")
    return (-int(year), -int(number))


@functools.cache
def _index_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["users"] = count_text
    env.filters["pct"] = signed_percent
    return env


def write_index(out_dir: str | os.PathLike[str] = "reports") -> Path:
    """Write ``out_dir/index.html``: every stream and week found under ``out_dir``.

    Scans the ``<slug>/<week>.json`` sidecars (and ``<week>.error.json`` of failed runs),
    newest week first, streams by name; shows unique/new/returning users, the change of unique
    users from the week before, and links to each report. Every text is HTML-escaped (jinja2
    autoescape); links point only at files that exist.

    Returns
    -------
    Path
        The index file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    portfolio = write_portfolio(out)  # the page the index links first
    entries = _index_entries(out)
    weeks: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        weeks.setdefault(entry["week"], []).append(entry)
    page = (
        _index_env()
        .get_template(INDEX_TEMPLATE)
        .render(
            weeks=weeks,
            streams=len({e["slug"] for e in entries}),
            portfolio=portfolio.name if entries else None,
            version=__version__,
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
    return atomic_write(out / "index.html", page)
