"""``reports/index.html`` and one history page per stream, kept up to date from a catalogue.

What is written, under the reports folder::

    index.html                       the latest week of every stream, then the recent weeks
    <slug>/history/index.html        one stream's newest 53 weeks and a link to every year
    <slug>/history/<year>.html       one stream's weeks of that year
    _catalogue/_index.json           per stream: its folder's state, its latest and recent rows
    _catalogue/<slug>.json           per stream: every week's row and the files it was read from

The catalogue is a cache of what the sidecars (``<week>.json``, ``<week>.error.json``,
``<week>.delivery.json``) say, so a build reads only what changed: a stream folder whose
modification time is the one recorded is not even listed; in a folder that changed, only the
files whose size, modification time or inode changed are read again. A folder or file changed
too recently to trust its timestamp (within the file system's timestamp resolution of the
build) is looked at again next time. A missing, unreadable or older-format catalogue is rebuilt
from the sidecars; deleting ``_catalogue/`` forces that. The index itself shows a bounded
number of rows (every stream's latest week and the last :data:`RECENT_WEEKS` weeks), and a
build writes the history pages of the streams that changed only, so its cost follows the new
reports, not the years of history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from engagement_kit import __version__
from engagement_kit.charts.html import TEMPLATES
from engagement_kit.formatting import count_text, signed_percent
from engagement_kit.report.portfolio import sidecar_row, write_portfolio
from engagement_kit.store.files import (
    atomic_write,
    legacy_slug,
    stream_folders,
    stream_key,
    stream_slug,
)

__all__ = [
    "CATALOGUE_DIR",
    "HISTORY_DIR",
    "INDEX_TEMPLATE",
    "RECENT_WEEKS",
    "STREAM_TEMPLATE",
    "write_index",
]

INDEX_TEMPLATE = "reports_index.html.j2"
STREAM_TEMPLATE = "reports_stream.html.j2"
#: Where the catalogue lives, inside the reports folder (never a stream's slug: no ``_``).
CATALOGUE_DIR = "_catalogue"
#: Each stream's history pages, inside its folder.
HISTORY_DIR = "history"
#: The index shows the rows of this many weeks (the newest ones), below every stream's latest.
RECENT_WEEKS = 8
#: A history page's newest weeks (one year).
HISTORY_WEEKS = 53
#: Bumped when an entry's fields change: an older catalogue is rebuilt from the sidecars.
CATALOGUE_FORMAT = 2
_TOP = "_index.json"
_WEEK_FILE = re.compile(r"(\d{4}-W\d{2})\.json")
_ERROR_FILE = re.compile(r"(\d{4}-W\d{2})\.error\.json")
_KEYED_FOLDER = re.compile(r".+-([0-9a-f]{8})")
_DELIVERY_FILE = re.compile(r"(\d{4}-W\d{2})\.delivery\.json")
_WEEK_PREFIX = re.compile(r"(\d{4}-W\d{2})\.")
#: How recent (ns) a timestamp may be and still be trusted: a change within the same tick of
#: the file system's clock would leave it unchanged. Whole-second timestamps (FAT, some network
#: shares) get 2 s.
_FINE_TICK_NS = 100_000_000
_COARSE_TICK_NS = 2_000_000_000


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON file holding an object, or ``None`` when it is missing, unreadable or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _racy(mtime_ns: int, started_ns: int) -> bool:
    """Whether a timestamp is too close to the build's start to prove nothing changed since."""
    tick = _COARSE_TICK_NS if mtime_ns % 1_000_000_000 == 0 else _FINE_TICK_NS
    return mtime_ns >= started_ns - tick


# -- one stream's rows, from its folder --------------------------------------------------------


def _report_entry(slug: str, week: str, data: dict[str, Any], names: set[str]) -> dict[str, Any]:
    kpis = data.get("kpis") or {}
    change = (data.get("change") or {}).get("unique_users") or {}
    return {
        "href": f"{quote(slug)}/{quote(week)}.html" if f"{week}.html" in names else None,
        "json_href": f"{quote(slug)}/{quote(week)}.json",
        "start": str(data.get("start", "")),
        "end": str(data.get("end", "")),
        "tz": str(data.get("tz", "")),
        "unique_users": kpis.get("unique_users"),
        "new_users": kpis.get("new_users"),
        "returning_users": kpis.get("returning_users"),
        "change": change.get("pct_change"),
        "warnings": sum(
            1
            for c in data.get("checks") or []
            if isinstance(c, dict) and c.get("level") == "warning"
        ),
        "anomalies": len(data.get("anomalies") or []),
        "alerts": [
            str(a.get("message", "")) for a in data.get("alerts") or [] if isinstance(a, dict)
        ],
    }


def _error_entry(slug: str, data: dict[str, Any], names: set[str]) -> dict[str, Any]:
    notebook = data.get("notebook")
    return {
        "message": str(data.get("error") or "unknown error"),
        "failed_at": str(data.get("failed_at") or ""),
        "notebook_href": f"{quote(slug)}/{quote(notebook)}"
        if isinstance(notebook, str)
        and Path(notebook).name == notebook  # a file in this stream's folder only
        and notebook in names
        else None,
    }


def _deliveries(data: dict[str, Any] | None) -> list[dict[str, str]]:
    found = (data or {}).get("deliveries")
    if not isinstance(found, list):
        return []
    return [
        {k: str(d.get(k, "")) for k in ("kind", "destination", "status", "detail")}
        for d in found
        if isinstance(d, dict)
    ]


def _week_entry(stream_dir: Path, week: str, names: set[str]) -> dict[str, Any] | None:
    """The row of one week (its report, or its failure, or both), or None without sidecars."""
    slug = stream_dir.name
    entry: dict[str, Any] = {"slug": slug, "week": week, "report": None, "error": None}
    # the failure first, as the folder listing (sorted) used to read it: its name wins
    for name, kind in ((f"{week}.error.json", "error"), (f"{week}.json", "report")):
        if name not in names:
            continue
        data = read_json_object(stream_dir / name)
        if data is None or not _belongs_here(slug, data):
            continue
        for key, fallback in (("stream_name", slug), ("stream_id", "")):
            if data.get(key):
                entry[key] = str(data[key])
            else:
                entry.setdefault(key, fallback)
        if kind == "report":
            entry["report"] = _report_entry(slug, week, data, names)
            # the portfolio's row, read with the sidecar (the portfolio reads no file itself)
            entry["report"]["row"] = sidecar_row(
                data, slug=slug, week=week, href=entry["report"]["href"]
            )
            delivery = f"{week}.delivery.json"
            entry["deliveries"] = _deliveries(
                read_json_object(stream_dir / delivery) if delivery in names else None
            )
        else:
            entry["error"] = _error_entry(slug, data, names)
    if entry["report"] is None and entry["error"] is None:
        return None
    return entry


def _belongs_here(folder: str, data: dict[str, Any]) -> bool:
    """A sidecar in a stream's own folder (``<slug>-<key>``) must name that stream: another
    stream's report there is not listed, so one stream's numbers never show as another's."""
    stream_id, name = data.get("stream_id"), data.get("stream_name")
    keyed = _KEYED_FOLDER.fullmatch(folder)
    if keyed is None or not isinstance(stream_id, str) or not stream_id:
        return True  # a folder of an earlier version (named by the slug alone)
    return keyed.group(1) == stream_key(stream_id) or folder in stream_folders(
        name if isinstance(name, str) else None, stream_id
    )


def _one_folder_per_stream(
    streams: list[tuple[str, dict[str, Any]]],
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The streams to list and their recent rows: a stream's folder of an earlier version
    (``<slug>``) beside its own (``<slug>-<key>``) adds only the weeks the new one lacks."""
    own = {
        s["id"]: slug for slug, s in streams if s["id"] and slug == stream_slug(s["name"], s["id"])
    }
    weeks_in_own = {
        (e["stream_id"], e["week"])
        for slug, s in streams
        if own.get(s["id"]) == slug
        for e in s["recent"]
    }

    def earlier(slug: str, s: dict[str, Any]) -> bool:
        """The folder of an earlier version (``<slug>``) beside the stream's own; a keyed
        folder of the same id is another stream (the same bot on another platform)."""
        return own.get(s["id"]) not in (None, slug) and slug == legacy_slug(s["name"], s["id"])

    listed = [(slug, s) for slug, s in streams if not earlier(slug, s)]
    recent = [
        e
        for slug, s in streams
        for e in s["recent"]
        if not earlier(slug, s) or (e["stream_id"], e["week"]) not in weeks_in_own
    ]
    return listed, recent


def _signature(entry: os.DirEntry[str], started_ns: int) -> list[int] | None:
    """``[size, mtime_ns, inode]`` of a file, or None when its timestamp is too recent."""
    try:
        st = entry.stat()
    except OSError:
        return None
    if _racy(st.st_mtime_ns, started_ns):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _scan_stream(
    stream_dir: Path, shard: dict[str, Any] | None, started_ns: int
) -> tuple[dict[str, Any], set[str]]:
    """Bring one stream's shard up to date; return it and the weeks whose row changed."""
    old_files: dict[str, Any] = (shard or {}).get("files") or {}
    old_weeks: dict[str, Any] = (shard or {}).get("weeks") or {}
    files: dict[str, list[int] | None] = {}
    names: set[str] = set()
    with os.scandir(stream_dir) as listing:
        for item in listing:
            if item.name.startswith(".") or not _WEEK_PREFIX.match(item.name):
                continue
            with contextlib.suppress(OSError):
                if not item.is_file():
                    continue
            names.add(item.name)
            files[item.name] = _signature(item, started_ns)
    weeks_seen = {_WEEK_PREFIX.match(n).group(1) for n in names}  # type: ignore[union-attr]
    dirty = {
        week
        for name in set(files) | set(old_files)
        if files.get(name) is None or files.get(name) != old_files.get(name)
        for week in [_WEEK_PREFIX.match(name).group(1)]  # type: ignore[union-attr]
    }
    weeks = {w: e for w, e in old_weeks.items() if w in weeks_seen and w not in dirty}
    changed = {w for w in old_weeks if w not in weeks_seen}
    for week in sorted(dirty & weeks_seen):
        entry = _week_entry(stream_dir, week, names)
        if entry is not None:
            weeks[week] = entry
        if entry != old_weeks.get(week):
            changed.add(week)
    return {"format": CATALOGUE_FORMAT, "files": files, "weeks": weeks}, changed


def _week_key(week: str) -> tuple[int, int]:
    year, number = week.split("-W")
    return (-int(year), -int(number))


def _newest_first(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (_week_key(e["week"]), e["stream_name"].casefold()))


def _summary(weeks: dict[str, Any], mtime_ns: int, racy: bool) -> dict[str, Any] | None:
    """What the index needs of a stream: its latest and recent rows, its years."""
    if not weeks:
        return None
    ordered = _newest_first(weeks.values())
    years: dict[str, int] = {}
    for week in weeks:
        years[week[:4]] = years.get(week[:4], 0) + 1
    return {
        "mtime_ns": mtime_ns,
        "racy": racy,
        "name": ordered[0]["stream_name"],
        "id": ordered[0]["stream_id"],
        "count": len(weeks),
        "years": dict(sorted(years.items(), reverse=True)),
        "recent": ordered[:RECENT_WEEKS],
    }


# -- the catalogue -------------------------------------------------------------------------------


class _Catalogue:
    def __init__(self, out: Path) -> None:
        self.folder = out / CATALOGUE_DIR
        top = read_json_object(self.folder / _TOP)
        valid = (
            top is not None
            and top.get("format") == CATALOGUE_FORMAT
            and top.get("toolkit") == __version__
            and isinstance(top.get("streams"), dict)
        )
        self.streams: dict[str, dict[str, Any]] = top["streams"] if valid else {}  # type: ignore[index]
        self.fresh = not valid  # rebuilt from the sidecars

    def shard(self, slug: str) -> dict[str, Any] | None:
        if self.fresh:
            return None
        data = read_json_object(self.folder / f"{slug}.json")
        if data is None or data.get("format") != CATALOGUE_FORMAT:
            return None
        return data

    def save_shard(self, slug: str, shard: dict[str, Any]) -> None:
        atomic_write(self.folder / f"{slug}.json", json.dumps(shard, ensure_ascii=False))

    def drop_shard(self, slug: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{slug}.json").unlink()

    def save(self) -> None:
        top = {"format": CATALOGUE_FORMAT, "toolkit": __version__, "streams": self.streams}
        atomic_write(self.folder / _TOP, json.dumps(top, ensure_ascii=False))


# -- pages ---------------------------------------------------------------------------------------


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


def _by_week(entries: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    weeks: dict[str, list[dict[str, Any]]] = {}
    for entry in _newest_first(entries):
        weeks.setdefault(entry["week"], []).append(entry)
    return weeks


def _portfolio_row(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The portfolio's row of a stream: its newest week with a report."""
    for entry in summary["recent"]:
        row = (entry.get("report") or {}).get("row")
        if row is not None:
            return row
    return None


def _render(template: str, **context: Any) -> str:
    return (
        _index_env()
        .get_template(template)
        .render(
            version=__version__,
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            **context,
        )
    )


def _write_history(
    stream_dir: Path, summary: dict[str, Any], weeks: dict[str, Any], years: set[str]
) -> None:
    """The stream's history pages: its index, and the pages of ``years`` (gone ones removed)."""
    folder = stream_dir / HISTORY_DIR
    common = {"stream": summary, "years": summary["years"], "slug": stream_dir.name}
    ordered = _newest_first(weeks.values())
    atomic_write(
        folder / "index.html",
        _render(
            STREAM_TEMPLATE,
            weeks=_by_week(ordered[:HISTORY_WEEKS]),
            year=None,
            **common,
        ),
    )
    for year in years:
        page = folder / f"{year}.html"
        rows = [e for e in ordered if e["week"].startswith(f"{year}-")]
        if rows:
            atomic_write(page, _render(STREAM_TEMPLATE, weeks=_by_week(rows), year=year, **common))
        else:
            with contextlib.suppress(FileNotFoundError):
                page.unlink()


def _stream_dirs(out: Path) -> Iterable[os.DirEntry[str]]:
    with os.scandir(out) as listing:
        for item in listing:
            name = item.name
            if name.startswith((".", "_")) or name != stream_slug(name):
                continue
            with contextlib.suppress(OSError):
                if item.is_dir():
                    yield item


def write_index(out_dir: str | os.PathLike[str] = "reports") -> Path:
    """Write ``out_dir/index.html`` and the history pages of the streams that changed.

    Reads the ``<slug>/<week>.json`` sidecars (and ``<week>.error.json`` of failed runs,
    ``<week>.delivery.json`` of deliveries) that are new or changed since the last build, through
    the catalogue in ``out_dir/_catalogue/`` (see the module's text). The index shows every
    stream's latest week on top (with a link to its history), then the last
    :data:`RECENT_WEEKS` weeks, newest first, streams by name: unique/new/returning users, the
    change of unique users from the week before, notes, alerts, deliveries and links to each
    report. Every text is HTML-escaped (jinja2 autoescape); links point only at files that exist.

    Returns
    -------
    Path
        The index file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started_ns = time.time_ns()
    catalogue = _Catalogue(out)
    present: set[str] = set()
    for item in _stream_dirs(out):
        slug = item.name
        try:
            mtime_ns = item.stat().st_mtime_ns
        except OSError:
            continue
        present.add(slug)
        known = catalogue.streams.get(slug)
        if known is not None and known.get("mtime_ns") == mtime_ns and not known.get("racy"):
            continue
        stream_dir = out / slug
        try:
            shard, changed = _scan_stream(stream_dir, catalogue.shard(slug), started_ns)
        except FileNotFoundError:  # removed while we looked: gone from the index
            present.discard(slug)
            continue
        history = stream_dir / HISTORY_DIR
        created = shard["weeks"] and not history.is_dir()
        summary = _summary(shard["weeks"], mtime_ns, bool(created) or _racy(mtime_ns, started_ns))
        if summary is None:
            catalogue.streams.pop(slug, None)
            catalogue.drop_shard(slug)
            continue
        if changed or created or known is None or known.get("years") != summary["years"]:
            years = {w[:4] for w in changed} | ({*summary["years"]} if created else set())
            _write_history(stream_dir, summary, shard["weeks"], years)
        catalogue.save_shard(slug, shard)
        catalogue.streams[slug] = summary
    for slug in [s for s in catalogue.streams if s not in present]:
        del catalogue.streams[slug]
        catalogue.drop_shard(slug)
    for slug, summary in catalogue.streams.items():  # a history page deleted by hand
        if not (out / slug / HISTORY_DIR / "index.html").is_file():
            shard = catalogue.shard(slug) or _scan_stream(out / slug, None, started_ns)[0]
            _write_history(out / slug, summary, shard["weeks"], set(summary["years"]))
    catalogue.save()

    streams, rows = _one_folder_per_stream(
        sorted(catalogue.streams.items(), key=lambda kv: kv[1]["name"].casefold())
    )
    recent = _by_week(rows)
    portfolio = write_portfolio(  # the page the index links first, from the catalogue
        out, [row for _, s in streams if (row := _portfolio_row(s)) is not None]
    )
    page = _render(
        INDEX_TEMPLATE,
        latest=[(slug, s, s["recent"][0]) for slug, s in streams],
        weeks=dict(list(recent.items())[:RECENT_WEEKS]),
        streams=len(streams),
        recent_weeks=RECENT_WEEKS,
        portfolio=portfolio.name if streams else None,
    )
    return atomic_write(out / "index.html", page)
