"""The store on PostgreSQL against the store on SQLite (issue 28): one read and one write.

* **read**: ``ResponseStore.get`` of a stored, settled answer (the hot path of every cached
  fetch): PostgreSQL (a loopback server started for the benchmark, ``fsync`` on) against the
  SQLite file (baseline). Target: at most 10× the SQLite time (a network round trip against a
  file read; still well under a millisecond or two per answer).
* **write**: ``ResponseStore.put`` of a new answer (one write transaction): PostgreSQL against
  SQLite. Target: at most 5× (both commit to disk; PostgreSQL adds the round trips).
* **batch**: a 12-stream demo batch with ``jobs=2`` (``report --jobs 2``) with the store on
  PostgreSQL against the same batch on SQLite, side by side in one run. Target: at most 1.3×
  (the kernels' work dominates; the store is a few dozen reads and writes per stream).
  ``EK_BENCH_STORE_BATCH=0`` skips it.

Without PostgreSQL installed the rows say so (``met`` n/a). The server is the tests' throwaway
one (``tests/postgres.py``), so what is measured is what the tests run against.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from pathlib import Path

from engagement_kit.config.query import EngagementQuery
from engagement_kit.store import ResponseStore

from ._util import summary

HOST = "https://bench.example.com"
T0 = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC)
READS = 300
WRITES = 100
PAYLOAD = '{"result": [' + ", ".join(f'{{"n": {i}}}' for i in range(200)) + "]}"


def _query(i: int) -> EngagementQuery:
    day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
    return EngagementQuery(stream_id="st-bench", start=day, end=day)


def _per_op(store: ResponseStore, what: str, rounds: int = 5) -> list[float]:
    import time

    samples = []
    for r in range(rounds):
        if what == "read":
            t0 = time.perf_counter()
            for i in range(READS):
                store.get(HOST, _query(i % 20), now=T0)
            samples.append((time.perf_counter() - t0) / READS)
        else:
            t0 = time.perf_counter()
            for i in range(WRITES):
                store.put(HOST, _query(1000 + r * WRITES + i), PAYLOAD, final=True, now=T0)
            samples.append((time.perf_counter() - t0) / WRITES)
    return samples


def _measure(location: str) -> dict[str, list[float]]:
    store = ResponseStore(location)
    for i in range(20):
        store.put(HOST, _query(i), PAYLOAD, final=True, now=T0)
    out = {"read": _per_op(store, "read"), "write": _per_op(store, "write")}
    store.close()
    return out


def run() -> list[dict]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.postgres import pg_bin, running_postgres

    rows = []
    targets = {"read": 10.0, "write": 5.0}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _measure(str(Path(tmp) / "bench.sqlite3"))
        if pg_bin() is None:
            return [
                {
                    "what": f"store {what} on PostgreSQL vs SQLite",
                    "baseline": "SQLite file",
                    "baseline_seconds": summary(sqlite[what])["median"],
                    "ours_seconds": None,
                    "ratio": None,
                    "target": f"≤ {targets[what]:g}×",
                    "met": None,
                    "runs": len(sqlite[what]),
                    "note": "PostgreSQL is not installed (apt-get install postgresql)",
                }
                for what in ("read", "write")
            ]
        with running_postgres(fsync=True) as server:
            subprocess.run(
                ["psql", str(server["url"]), "-q", "-c", "CREATE DATABASE bench"],
                check=True,
                capture_output=True,
            )
            url = str(server["url"]).rsplit("/", 1)[0] + "/bench"
            postgres = _measure(url)
    for what in ("read", "write"):
        base, ours = summary(sqlite[what]), summary(postgres[what])
        ratio = ours["median"] / base["median"]
        rows.append(
            {
                "what": f"store {what} (one {'get' if what == 'read' else 'put'}) on "
                "PostgreSQL vs SQLite",
                "baseline": "SQLite file",
                "baseline_seconds": base["median"],
                "ours_seconds": ours["median"],
                "ratio": ratio,
                "target": f"≤ {targets[what]:g}×",
                "met": ratio <= targets[what],
                "runs": ours["runs"],
                "spread": f"{ours['min'] * 1000:.2f}–{ours['max'] * 1000:.2f} ms",
            }
        )
    return rows + batch_rows()


# -- a 12-stream batch on each backend ---------------------------------------------------------
BATCH_STREAMS = 12
TARGET_BATCH = 1.3


def _batch_streams(n: int) -> list:
    from engagement_kit.config.streams import StreamConfig
    from engagement_kit.demo import DEMO_STREAMS

    return [
        StreamConfig(id=s.id, name=f"{s.name} ({i + 1})", tz=s.tz)
        for i in range(n)
        for s in [DEMO_STREAMS[i % len(DEMO_STREAMS)]]
    ]


def _batch_seconds(location: str, out: Path, n: int, label: str) -> float:
    """One ``render_all(jobs=2)`` of ``n`` demo-like streams with ``location`` as the store
    (the kernels inherit ENGAGEMENT_KIT_STORE); the store warmed untimed first."""
    import os
    import time

    from engagement_kit import report
    from engagement_kit.demo import DEMO_STREAMS

    streams = _batch_streams(n)
    previous = os.environ.get("ENGAGEMENT_KIT_STORE")
    os.environ["ENGAGEMENT_KIT_STORE"] = location
    try:
        warm = streams[: len(DEMO_STREAMS)]  # every demo app's weeks in this store, untimed
        report.render_all(warm, week=BATCH_WEEK, out_dir=out / f"warm-{label}", quiet=True)
        t0 = time.perf_counter()
        results = report.render_all(
            streams, week=BATCH_WEEK, out_dir=out / f"batch-{label}", jobs=2, quiet=True
        )
        seconds = time.perf_counter() - t0
        if report.exit_code(results):
            raise RuntimeError([r.error for r in results if not r.ok])
        return seconds
    finally:
        if previous is None:
            os.environ.pop("ENGAGEMENT_KIT_STORE", None)
        else:
            os.environ["ENGAGEMENT_KIT_STORE"] = previous


BATCH_WEEK = "2025-W48"


def batch_rows(n: int = BATCH_STREAMS) -> list[dict]:
    """The same ``n``-stream batch (``render_all(jobs=2)``, as ``report --jobs 2``) on a SQLite
    store and on a PostgreSQL store, side by side in one run, each store warm."""
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.postgres import pg_bin, running_postgres

    what = f"{n}-stream demo batch, report --jobs 2, store on PostgreSQL vs SQLite"
    if os.environ.get("EK_BENCH_STORE_BATCH", "1") == "0":
        return []
    if pg_bin() is None:
        return [
            {
                "what": what,
                "baseline": "SQLite store",
                "target": f"≤ {TARGET_BATCH}×",
                "met": None,
                "note": "PostgreSQL is not installed (apt-get install postgresql)",
            }
        ]
    with tempfile.TemporaryDirectory() as tmp, running_postgres(fsync=True) as server:
        out = Path(tmp)
        subprocess.run(
            ["psql", str(server["url"]), "-q", "-c", "CREATE DATABASE batch"],
            check=True,
            capture_output=True,
        )
        url = str(server["url"]).rsplit("/", 1)[0] + "/batch"
        sqlite = str(out / "batch.sqlite3")
        # ABBA: a load change during the run hits both backends alike
        first = _batch_seconds(sqlite, out, n, "sqlite-1")
        pg_first = _batch_seconds(url, out, n, "postgresql-1")
        pg_second = _batch_seconds(url, out, n, "postgresql-2")
        second = _batch_seconds(sqlite, out, n, "sqlite-2")
    base = (first + second) / 2
    postgres = (pg_first + pg_second) / 2
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        {
            "what": what,
            "baseline": "the same batch on a SQLite store (runs in the order SQLite, "
            "PostgreSQL, PostgreSQL, SQLite; means)",
            "baseline_seconds": base,
            "ours_seconds": postgres,
            "ratio": postgres / base,
            "target": f"≤ {TARGET_BATCH}×",
            "met": postgres / base <= TARGET_BATCH,
            "runs": 2,
            "spread": f"SQLite {first:.1f} s, {second:.1f} s; PostgreSQL {pg_first:.1f} s, "
            f"{pg_second:.1f} s",
            "note": f"load average {load} at the end",
        }
    ]
