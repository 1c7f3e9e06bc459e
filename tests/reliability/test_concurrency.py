"""Concurrency: processes and threads sharing one response store, and a writer killed mid-write.

* Three client processes (each with a pool of threads) fetch through one loopback demo server
  into one store file, re-fetching the same windows (``refresh=True``, so the same rows are
  replaced concurrently), while two threads of this process read the store in a loop. Nothing
  may fail, nothing may be lost or corrupt, and no "database is locked" may surface.
* A process writing large answers is killed with SIGKILL in the middle of its writes: the store
  stays a valid SQLite database, every answer it holds is complete, and writing goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import httpx
import pytest

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.config.query import EngagementQuery
from engagement_kit.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_STREAMS,
    DemoPlatform,
    running_server,
)
from engagement_kit.store import ResponseStore
from engagement_kit.tidy import parse_response

NOW = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()
MONDAYS = [dt.date(2025, 11, 24) - dt.timedelta(weeks=w) for w in range(4)]
#: Fetched by every process: 3 streams x 4 weeks, daily.
SHARED = [
    EngagementQuery(stream_id=s.id, start=m, end=m + dt.timedelta(days=6), tz=s.tz)
    for s in DEMO_STREAMS
    for m in MONDAYS
]
WORKERS = 3


def own_queries(worker: int) -> list[EngagementQuery]:
    """Two hourly weeks of one stream that only this worker fetches."""
    stream = DEMO_STREAMS[worker % len(DEMO_STREAMS)]
    return [
        EngagementQuery(
            stream_id=stream.id,
            start=m - dt.timedelta(weeks=4 * worker),
            end=m - dt.timedelta(weeks=4 * worker) + dt.timedelta(days=6),
            aggregation="hourly",
            tz=stream.tz,
        )
        for m in MONDAYS[:2]
    ]


def _client_process(url: str, store_path: str, worker: int) -> list[str]:
    """In a spawned process: fetch the shared windows (in a worker-specific order) and its own.

    Returns the errors as text (an empty list when everything worked).
    """
    shared = SHARED[worker:] + SHARED[:worker]
    store = ResponseStore(store_path)
    client = EngagementClient(
        url,
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        store=store,
        sleep=lambda seconds: None,
        timeout=30,
    )
    with client:
        results = client.fetch_many([*shared, *own_queries(worker)], max_workers=3, refresh=True)
        # and read everything back through the store, as a re-run would
        again = client.fetch_many(shared, max_workers=3)
    store.close()
    return [f"{type(r.error).__name__}: {r.error}" for r in [*results, *again] if r.error]


def reference_payloads(queries: list[EngagementQuery]) -> dict[str, str]:
    """The demo platform's answer text for each query, asked in-process."""
    platform = DemoPlatform(clock=lambda: NOW, rate_limit=False)
    answers = {}
    for query in queries:
        url = f"https://demo.invalid/api/public/bot/{query.stream_id}/v2/userEngagementTrend"
        request = httpx.Request("POST", url, params=query.to_params())
        request.headers["auth"] = Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).token()
        answers[query.key()] = platform.handle(request).text
    return answers


@pytest.mark.slow
def test_client_processes_and_reader_threads_share_one_store(tmp_path):
    store_path = str(tmp_path / "shared.sqlite3")
    expected_queries = SHARED + [q for w in range(WORKERS) for q in own_queries(w)]
    expected = reference_payloads(expected_queries)
    assert len(expected) == len(SHARED) + 2 * WORKERS

    reader_errors: list[str] = []
    reads = {"n": 0}
    done = threading.Event()

    def reader(offset: int) -> None:
        store = ResponseStore(store_path)
        i = offset
        while not done.is_set():
            try:
                entries = store.entries()
                assert len(entries) <= len(expected)
                query = SHARED[i % len(SHARED)]
                payload = store.get(host, query, now=dt.datetime.now(dt.UTC))
                if payload is not None:
                    assert payload == expected[query.key()]
                store.info()
                reads["n"] += 1
            except Exception as exc:  # collected, then asserted empty
                reader_errors.append(f"{type(exc).__name__}: {exc}")
            i += 1
        store.close()

    with running_server(platform=DemoPlatform(clock=lambda: NOW)) as server:
        host = server.url
        threads = [threading.Thread(target=reader, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        try:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=WORKERS, mp_context=ctx) as pool:
                futures = [
                    pool.submit(_client_process, server.url, store_path, w) for w in range(WORKERS)
                ]
                errors = [f.result(timeout=120) for f in futures]
        finally:
            done.set()
            for thread in threads:
                thread.join(30)
        stats = server.stats
    requests, by_status = stats.requests, stats.by_status  # read once the server has stopped

    assert errors == [[]] * WORKERS
    assert reader_errors == []
    assert reads["n"] > 0
    # every process asked for every shared window and its own (refresh), nothing failed
    assert requests == WORKERS * len(SHARED) + 2 * WORKERS and by_status == {200: requests}
    # nothing lost, nothing corrupt: exactly the expected rows, each the platform's exact answer
    store = ResponseStore(store_path)
    entries = store.entries()
    assert sorted(e.key for e in entries) == sorted(
        ResponseStore.key(host, q) for q in expected_queries
    )
    for query in expected_queries:
        payload = store.get(host, query, now=dt.datetime.now(dt.UTC))
        assert payload == expected[query.key()]
        parse_response(payload, query=query)
    store.close()
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


WRITER = """
import datetime as dt, hashlib, json, sys
from engagement_kit.config.query import EngagementQuery
from engagement_kit.store import ResponseStore

store = ResponseStore(sys.argv[1])
for i in range(100_000):
    day = dt.date(2000, 1, 1) + dt.timedelta(days=i % 3000)
    query = EngagementQuery(stream_id=f"st-{i // 3000}", start=day, end=day)
    fill = hashlib.sha256(str(i).encode()).hexdigest() * 4000  # 256 KB per answer
    payload = json.dumps({"i": i, "fill": fill, "sha": hashlib.sha256(fill.encode()).hexdigest()})
    store.put("https://h.example", query, payload, final=True)
    print(i, flush=True)
"""


@pytest.mark.slow
def test_a_writer_killed_mid_write_leaves_the_store_valid_and_complete(tmp_path):
    path = tmp_path / "store.sqlite3"
    reader_errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        store = ResponseStore(path)
        while not done.is_set():
            try:
                store.entries()
            except Exception as exc:
                reader_errors.append(f"{type(exc).__name__}: {exc}")
        store.close()

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    thread = threading.Thread(target=reader)
    try:
        deadline = time.monotonic() + 60
        written = -1
        while written < 30 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            written = int(line)
            if written == 0:
                thread.start()  # the file exists now; read while it is being written
        assert written >= 30, writer.stderr.read()
        time.sleep(0.05)  # let it get well into the next write
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait(30)
        writer.stdout.close()
        writer.stderr.close()
        done.set()
        if thread.is_alive():
            thread.join(30)
    assert writer.returncode == -signal.SIGKILL
    assert reader_errors == []

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = ResponseStore(path)
    entries = store.entries()
    assert len(entries) >= 31  # every write reported done is there
    for entry in entries:
        payload = json.loads(store.get(entry.host, EngagementQuery(**entry.query)))
        assert hashlib.sha256(payload["fill"].encode()).hexdigest() == payload["sha"]
    indexes = sorted(
        json.loads(store.get(e.host, EngagementQuery(**e.query)))["i"] for e in entries
    )
    assert indexes == list(range(len(indexes)))  # no gap: nothing committed was lost
    # and the store takes new writes
    query = EngagementQuery(stream_id="st-after", start="2025-01-01", end="2025-01-01")
    store.put("https://h.example", query, '{"after": true}', final=True)
    assert store.get("https://h.example", query) == '{"after": true}'
    store.close()
