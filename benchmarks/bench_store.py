"""The store on PostgreSQL against the store on SQLite (issue 28): one read and one write.

* **read**: ``ResponseStore.get`` of a stored, settled answer (the hot path of every cached
  fetch): PostgreSQL (a loopback server started for the benchmark, ``fsync`` on) against the
  SQLite file (baseline). Target: at most 10× the SQLite time (a network round trip against a
  file read; still well under a millisecond or two per answer).
* **write**: ``ResponseStore.put`` of a new answer (one write transaction): PostgreSQL against
  SQLite. Target: at most 5× (both commit to disk; PostgreSQL adds the round trips).

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
    return rows
