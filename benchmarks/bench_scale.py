"""Reports that stay small for years (issue 25): page bytes, index build time, batch size.

1. Bytes of a demo report page written into a reports folder (it loads the folder's shared
   ``_assets/`` bundle) against the same page without any chart library (the bundle's
   ``<script>`` removed): target ≤ 1.5×. The ``--self-contained`` page beside it (context).
2. ``write_index`` after one new report, with 100, 1,000 and 10,000 synthetic sidecars already
   indexed (20 streams, 5, 50 and 500 weeks each, a ``.json`` and an ``.html`` per week):
   target ≤ 2× the time for 100, i.e. it does not grow with history. Each timed build follows a
   new report in another stream (so the stream of the build before is looked at again: its
   folder changed too recently to trust, as after a real weekly run). The full rebuild of
   10,000 (no catalogue) is given as context.
3. A batch of 3, 12 and 48 demo-like streams (``render_all(jobs=2)``, warm kernels; the
   streams cycle through the demo platform's apps under their own names and folders, the
   response store warm): the marginal report from 12 to 48, (T48 − T12) ÷ 36, against the one
   from 3 to 12, (T12 − T3) ÷ 9: target ≤ 1.2×; and the peak memory (PSS of the process tree)
   of the 48-stream batch against the 12-stream one: target ≤ 1.2× (it must not grow with the
   number of streams: the pool is bounded). Expensive: ``EK_BENCH_STREAMS=2,4,8`` runs a smaller
   version, ``EK_BENCH_STREAMS=0`` skips it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ._util import summary

WEEK = "2025-W48"
INDEX_STREAMS = 20
INDEX_SIZES = (100, 1_000, 10_000)
INDEX_RUNS = 5
TARGET_PAGE = 1.5
TARGET_INDEX = 2.0
TARGET_BATCH = 1.2
TARGET_MEMORY = 1.2
_BUNDLE = re.compile(r'<script id="ek-vega-bundle"[^>]*>.*?</script>', re.S)


# -- 1. page bytes ---------------------------------------------------------------------------


def _page_rows(home: Path) -> list[dict]:
    from engagement_kit import report
    from engagement_kit.demo import demo_streams

    stream = demo_streams()[0]
    sizes = {}
    for mode in ("shared", "self-contained"):
        out = home / mode
        results = report.render_all(
            [stream], week=WEEK, out_dir=out, jobs=1, quiet=True, self_contained=mode != "shared"
        )
        if not results[0].ok:
            raise RuntimeError(results[0].error)
        page = results[0].html.read_text(encoding="utf-8")
        sizes[mode] = len(page.encode())
        sizes[f"{mode} bare"] = len(_BUNDLE.sub("", page).encode())
        if mode == "shared":
            assets = sum(p.stat().st_size for p in (out / report.ASSETS_DIR).iterdir())
    bare = sizes["shared bare"]
    kb = 1024
    rows = []
    for mode, target in (("shared", TARGET_PAGE), ("self-contained", None)):
        ratio = sizes[mode] / bare
        rows.append(
            {
                "what": f"bytes of a demo report page ({stream.name}, {WEEK}), {mode}"
                + (" (loads reports/_assets/)" if mode == "shared" else " (--self-contained)"),
                "baseline": f"the same page without any chart library ({bare / kb:,.0f} KB)",
                "ours_seconds": f"{sizes[mode] / kb:,.0f} KB",
                "ratio": ratio,
                "target": f"≤ {target}× and ≤ 100 KB" if target else "(context)",
                "met": (ratio <= target and sizes[mode] <= 100 * kb) if target else None,
                "runs": 1,
                "spread": "",
            }
        )
    rows[0]["note"] = (
        f"the shared bundle, written once per folder: {assets / kb:,.0f} KB. 20 streams × 52 "
        f"weeks: {20 * 52 * sizes['shared'] / kb**3:.2f} GiB of pages + the bundle, against "
        f"{20 * 52 * sizes['self-contained'] / kb**3:.2f} GiB self-contained"
    )
    return rows


# -- 2. the index ------------------------------------------------------------------------------


def _sidecar(slug: str, week: str, i: int) -> str:
    return json.dumps(
        {
            "stream_id": f"st-{slug}",
            "stream_name": f"Bot {slug}",
            "week": week,
            "start": "2025-01-01",
            "end": "2025-01-07",
            "tz": "Europe/Berlin",
            "kpis": {"unique_users": 1000 + i, "new_users": 300, "returning_users": 700 + i},
            "change": {"unique_users": {"pct_change": 0.01 * (i % 7 - 3)}},
            "checks": [{"level": "info", "message": "fine"}] * 6,
            "anomalies": [],
            "peak_hours": {"matrix": [[float(h * d % 17) for h in range(24)] for d in range(7)]},
        }
    )


def _week(n: int) -> str:
    return f"{2000 + n // 52}-W{n % 52 + 1:02d}"


def _folder(root: Path, total: int) -> Path:
    out = root / f"index-{total}"
    per_stream = total // INDEX_STREAMS
    for s in range(INDEX_STREAMS):
        folder = out / f"bot-{s:02d}"
        folder.mkdir(parents=True)
        for n in range(per_stream):
            week = _week(n)
            (folder / f"{week}.json").write_text(_sidecar(folder.name, week, n))
            (folder / f"{week}.html").write_text("<html></html>")
    old = time.time_ns() - 7 * 24 * 3600 * 10**9  # written last week
    for path in out.rglob("*"):
        os.utime(path, ns=(old, old))
    os.utime(out, ns=(old, old))
    return out


def _index_times(out: Path, total: int) -> tuple[list[float], float]:
    from engagement_kit import report
    from engagement_kit.store.files import atomic_write

    t0 = time.perf_counter()
    report.write_index(out)  # from nothing: every sidecar read once
    rebuild = time.perf_counter() - t0
    old = time.time_ns() - 24 * 3600 * 10**9
    for path in out.rglob("*"):  # the build's own files: written a day ago
        os.utime(path, ns=(old, old))
    report.write_index(out)  # settled
    per_stream = total // INDEX_STREAMS
    times = []
    for run in range(INDEX_RUNS + 1):
        folder = out / f"bot-{run % INDEX_STREAMS:02d}"
        week = _week(per_stream + run // INDEX_STREAMS)
        atomic_write(folder / f"{week}.json", _sidecar(folder.name, week, run))
        atomic_write(folder / f"{week}.html", "<html></html>")
        t0 = time.perf_counter()
        report.write_index(out)
        if run:  # the first one: jinja's templates compile
            times.append(time.perf_counter() - t0)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('class="stream-latest"') == INDEX_STREAMS, "every stream's latest shown"
    return times, rebuild


def _index_rows(home: Path) -> list[dict]:
    measured = {}
    for total in INDEX_SIZES:
        out = _folder(home, total)
        measured[total] = _index_times(out, total)
        shutil.rmtree(out)
    base = summary(measured[INDEX_SIZES[0]][0])
    rows = []
    for total in INDEX_SIZES[1:]:
        ours = summary(measured[total][0])
        ratio = ours["median"] / base["median"]
        rows.append(
            {
                "what": f"write_index after one new report, {total:,} sidecars indexed "
                f"({INDEX_STREAMS} streams × {total // INDEX_STREAMS} weeks)",
                "baseline": f"the same with {INDEX_SIZES[0]} sidecars",
                "baseline_seconds": base["median"],
                "ours_seconds": ours["median"],
                "ratio": ratio,
                "target": f"≤ {TARGET_INDEX}×",
                "met": ratio <= TARGET_INDEX,
                "runs": ours["runs"],
                "spread": f"ours {ours['min'] * 1000:.1f}–{ours['max'] * 1000:.1f} ms, "
                f"baseline {base['min'] * 1000:.1f}–{base['max'] * 1000:.1f} ms",
            }
        )
    big = INDEX_SIZES[-1]
    rows[-1]["note"] = (
        f"the first build of {big:,} sidecars (no catalogue: every sidecar read) took "
        f"{measured[big][1]:.2f} s, of {INDEX_SIZES[0]} {measured[INDEX_SIZES[0]][1] * 1000:.0f} ms"
    )
    return rows


# -- 3. batches --------------------------------------------------------------------------------


def _batch_sizes() -> tuple[int, ...]:
    text = os.environ.get("EK_BENCH_STREAMS", "3,12,48").strip()
    sizes = tuple(int(x) for x in text.split(",") if x.strip())
    if sizes in ((), (0,)):
        return ()
    if len(sizes) != 3 or not 0 < sizes[0] < sizes[1] < sizes[2]:
        raise ValueError("EK_BENCH_STREAMS: three growing stream counts, e.g. 3,12,48 or 2,4,8")
    return sizes


def _batch_rows(home: Path) -> list[dict]:
    from engagement_kit import report
    from engagement_kit.config.streams import StreamConfig
    from engagement_kit.demo import DEMO_STREAMS

    from .bench_report import _PeakMemory

    sizes = _batch_sizes()
    if not sizes:
        return []
    many = [
        StreamConfig(id=s.id, name=f"{s.name} ({i + 1})", tz=s.tz)
        for i in range(sizes[-1])
        for s in [DEMO_STREAMS[i % len(DEMO_STREAMS)]]
    ]
    # untimed: every demo app's weeks into the store
    report.render_all(many[: len(DEMO_STREAMS)], week=WEEK, out_dir=home / "warm", quiet=True)
    seconds, peak = {}, {}
    for n in sizes:
        memory = _PeakMemory()
        t0 = time.perf_counter()
        with memory:
            results = report.render_all(
                many[:n], week=WEEK, out_dir=home / f"batch-{n}", jobs=2, quiet=True
            )
        seconds[n] = time.perf_counter() - t0
        peak[n] = memory.pss
        if report.exit_code(results):
            raise RuntimeError([r.error for r in results if not r.ok])
    a, b, c = sizes
    low = (seconds[b] - seconds[a]) / (b - a)
    high = (seconds[c] - seconds[b]) / (c - b)
    mib = 1024 * 1024
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        {
            "what": f"marginal report of a demo-like batch from {b} to {c} streams, "
            f"render_all(jobs=2), warm kernels: (T{c} − T{b}) ÷ {c - b}",
            "baseline": f"the same from {a} to {b}: (T{b} − T{a}) ÷ {b - a}",
            "baseline_seconds": low,
            "ours_seconds": high,
            "ratio": high / low,
            "target": f"≤ {TARGET_BATCH}×",
            "met": high / low <= TARGET_BATCH,
            "runs": 1,
            "spread": ", ".join(f"T{n} {seconds[n]:.1f} s" for n in sizes),
            "note": f"one run each (memory sampled during it), load average {load} at the end",
        },
        {
            "what": f"peak memory (PSS, process tree) of the {c}-stream batch",
            "baseline": f"the {b}-stream batch ({peak[b] / mib:,.0f} MiB)",
            "ours_seconds": f"{peak[c] / mib:,.0f} MiB",
            "ratio": peak[c] / peak[b],
            "target": f"≤ {TARGET_MEMORY}× (does not grow)",
            "met": peak[c] / peak[b] <= TARGET_MEMORY,
            "runs": 1,
            "spread": ", ".join(f"{n}: {peak[n] / mib:,.0f} MiB" for n in sizes),
        },
    ]


def run() -> list[dict]:
    home = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    previous_store = os.environ.get("ENGAGEMENT_KIT_STORE")
    os.environ["ENGAGEMENT_KIT_STORE"] = str(home / "store.sqlite3")
    try:
        return _page_rows(home) + _index_rows(home) + _batch_rows(home)
    finally:
        if previous_store is None:
            os.environ.pop("ENGAGEMENT_KIT_STORE", None)
        else:
            os.environ["ENGAGEMENT_KIT_STORE"] = previous_store
        shutil.rmtree(home, ignore_errors=True)
