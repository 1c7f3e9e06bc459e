"""2–3. Fetching many windows from the loopback demo server (50 ms latency per request).

2. ``fetch_many`` against a sequential loop of ``fetch`` for the same windows (target ≥ 5×
   faster), counting the server's 429s (target: zero).
3. The same windows again from the response store against fetching them (target ≥ 50× faster).
"""

from __future__ import annotations

import datetime as dt
import gc
import tempfile
import time
from pathlib import Path

from engagement_kit.auth import Credentials
from engagement_kit.client import EngagementClient
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_STREAMS
from engagement_kit.demo.server import running_server
from engagement_kit.query import EngagementQuery
from engagement_kit.store import ResponseStore

from ._util import summary

LATENCY_MS = 50
WORKERS = 8
WINDOWS = 60


def windows() -> list[EngagementQuery]:
    streams = DEMO_STREAMS[:5]
    per_stream = WINDOWS // len(streams)
    last_monday = dt.date(2025, 11, 24)
    out = []
    for s in streams:
        for w in range(per_stream):
            start = last_monday - dt.timedelta(weeks=w)
            out.append(
                EngagementQuery(
                    stream_id=s.id, start=start, end=start + dt.timedelta(days=6), tz=s.tz
                )
            )
    return out


def _client(url: str, store: ResponseStore | bool) -> EngagementClient:
    return EngagementClient(
        url,
        credentials=Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
        store=store,
    )


def run(repeats: int = 3) -> list[dict]:
    queries = windows()
    seq, par, cached = [], [], []
    n429 = requests = 0

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            # a fresh platform per round: its 60-per-minute limit is shared by both clients
            with running_server(latency_ms=LATENCY_MS) as server:
                n429_round, requests_round = _round(server, queries, Path(tmp), i, seq, par, cached)
            n429 += n429_round
            requests += requests_round
    return _rows(queries, seq, par, cached, n429, requests)


def _round(
    server, queries: list[EngagementQuery], tmp: Path, i: int, seq: list, par: list, cached: list
) -> tuple[int, int]:
    """One round: sequential, then fetch_many into a new store, then the store again."""
    with _client(server.url, store=False) as client:
        t0 = time.perf_counter()
        expected = [client.fetch_query(q) for q in queries]
        seq.append(time.perf_counter() - t0)
    store = ResponseStore(tmp / f"bench-{i}.sqlite3")
    with _client(server.url, store=store) as client:
        t0 = time.perf_counter()
        results = client.fetch_many(queries, max_workers=WORKERS)
        par.append(time.perf_counter() - t0)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:1]
        for got, want in zip(results, expected, strict=True):
            assert got.data.trend["users"].tolist() == want.trend["users"].tolist()
        del expected, results
        gc.collect()  # like timeit: no collection of the earlier rounds' frames mid-measurement
        gc.disable()
        try:
            t0 = time.perf_counter()
            again = [client.fetch_query(q) for q in queries]
            cached.append(time.perf_counter() - t0)
        finally:
            gc.enable()
        assert len(again) == len(queries)
    store.close()
    return server.stats.count(429), server.stats.requests


def _rows(queries, seq, par, cached, n429: int, requests: int) -> list[dict]:
    s, p, c = summary(seq), summary(par), summary(cached)
    n = len(queries)
    label = f"{n} weekly windows of {len(DEMO_STREAMS[:5])} demo streams, loopback server, {LATENCY_MS} ms latency"
    return [
        {
            "what": f"fetch_many ({WORKERS} threads): {label}",
            "baseline": "sequential fetch loop",
            "baseline_seconds": s["median"],
            "ours_seconds": p["median"],
            "ratio": p["median"] / s["median"],
            "target": "≥ 5× faster (ratio ≤ 0.20×), zero 429s",
            "met": s["median"] / p["median"] >= 5 and n429 == 0,
            "runs": p["runs"],
            "spread": f"ours {p['min']:.2f}–{p['max']:.2f} s, seq {s['min']:.2f}–{s['max']:.2f} s; server answered {requests} requests, {n429} of them 429",
        },
        {
            "what": f"the same {n} windows again, from the response store",
            "baseline": "sequential fetch loop",
            "baseline_seconds": s["median"],
            "ours_seconds": c["median"],
            "ratio": c["median"] / s["median"],
            "target": "≥ 50× faster (ratio ≤ 0.02×)",
            "met": s["median"] / c["median"] >= 50,
            "runs": c["runs"],
            "spread": f"store {c['min'] * 1e3:.0f}–{c['max'] * 1e3:.0f} ms ({c['median'] / n * 1e3:.1f} ms per window)",
        },
    ]
