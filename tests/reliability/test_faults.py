"""Reliability, end to end: the real client against the demo platform served on 127.0.0.1.

Real sockets, real HTTP, faults injected by :class:`~engagement_kit.demo.server.DemoServer`.
Each transient fault kind, at a high rate, must be survived with the final data *exactly* equal
to a fault-free run (trend frames, summaries, filters), and the server's own totals must add up:
every injected fault costs exactly one extra request and one backoff. Permanent faults must end
in the right typed error, at once or within the retry budget, in bounded real time.

Backoff waits go through an injected ``sleep`` that only records them, so nothing really
sleeps; only the "slow" fault costs real time (the client's read timeout).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
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
from engagement_kit.errors import (
    ApiConnectionError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from engagement_kit.store import ResponseStore
from engagement_kit.tidy import Engagement, parse_response

#: The platform's "now": Wednesday 2025-12-10 12:00 UTC, so every window below is closed.
NOW = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()
#: 3 streams x 2 weeks x daily and hourly = 12 windows (each one request when nothing fails).
WEEKS = (dt.date(2025, 11, 17), dt.date(2025, 11, 24))
WINDOWS: tuple[EngagementQuery, ...] = tuple(
    EngagementQuery(
        stream_id=s.id,
        start=monday,
        end=monday + dt.timedelta(days=6),
        aggregation=aggregation,
        tz=s.tz,
    )
    for s in DEMO_STREAMS
    for monday in WEEKS
    for aggregation in ("daily", "hourly")
)
#: For the mixed batch: 3 streams x 4 weeks x daily and hourly = 24 windows.
BATCH: tuple[EngagementQuery, ...] = tuple(
    q.replace(start=q.start - dt.timedelta(weeks=w), end=q.end - dt.timedelta(weeks=w))
    for q in WINDOWS
    for w in (0, 2)
)
TRANSIENT = ("503", "429", "429_retry_after", "drop", "slow")


class Waits:
    """An injected ``sleep``: records the backoff waits, never really waits."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.seconds.append(seconds)


def platform() -> DemoPlatform:
    """The demo platform on a fixed clock (same data whenever the test runs)."""
    return DemoPlatform(clock=lambda: NOW)


def make_client(url: str, waits: Waits, **kwargs) -> EngagementClient:
    options = {"store": False, "timeout": 5.0, "max_retries": 12, "retry_budget": 20.0}
    options.update(kwargs)
    return EngagementClient(
        url,
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        sleep=waits,
        **options,
    )


def fetch_all(client: EngagementClient, queries=WINDOWS) -> dict[str, Engagement]:
    with client:
        return {q.key(): client.fetch_query(q) for q in queries}


def assert_same_data(got: dict[str, Engagement], expected: dict[str, Engagement]) -> None:
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        have = got[key]
        pd.testing.assert_frame_equal(have.trend, want.trend, check_exact=True)
        pd.testing.assert_series_equal(have.summary, want.summary, check_exact=True)
        assert have.filters == want.filters


@pytest.fixture(scope="module")
def reference() -> Iterator[dict[str, Engagement]]:
    """Every window of BATCH fetched over loopback with no fault (WINDOWS is a subset)."""
    with running_server(platform=platform()) as server:
        data = fetch_all(make_client(server.url, Waits()), BATCH)
        assert server.stats.by_status == {200: len(BATCH)}
    yield data


def subset(data: dict[str, Engagement], queries=WINDOWS) -> dict[str, Engagement]:
    return {q.key(): data[q.key()] for q in queries}


# -- transient faults: survived, data exact, totals add up ---------------------------------------
FAULT_SETTINGS = {
    # kind: (fault rate, seed, extra server options)
    "503": (0.5, 7, {}),
    "429": (0.4, 7, {"burst_429": 3}),  # a burst: this request and the next two get 429
    "429_retry_after": (0.5, 7, {"retry_after": 1}),
    "drop": (0.5, 7, {}),  # headers and half the body, then the connection is closed
    "slow": (0.3, 16, {"slow_seconds": 30.0}),  # past the 0.4 s timeout (ends at stop)
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", TRANSIENT)
def test_a_transient_fault_at_a_high_rate_ends_with_the_fault_free_data(kind, reference):
    rate, seed, extra = FAULT_SETTINGS[kind]
    waits = Waits()
    timeout = 0.4 if kind == "slow" else 5.0
    started = time.perf_counter()
    with running_server(
        platform=platform(), fault_rate=rate, faults=[kind], seed=seed, **extra
    ) as server:
        got = fetch_all(make_client(server.url, waits, timeout=timeout))
        stats = server.stats
    elapsed = time.perf_counter() - started

    assert_same_data(got, subset(reference))
    injected = stats.faults.get(kind, 0)
    assert injected > 0, f"the server injected no {kind!r} fault: the test proves nothing"
    assert set(stats.faults) == {kind}
    # one successful answer per window; every injected fault cost one more request and one wait
    if kind == "slow":  # a loaded machine may add a genuine timeout, which is retried too
        assert stats.requests >= len(WINDOWS) + injected
        assert len(waits.seconds) >= injected
    elif kind.startswith("429"):  # a 429 cools the stream down for every thread sending to it
        assert stats.requests == len(WINDOWS) + injected
        assert len(waits.seconds) >= injected
    else:
        assert stats.requests == len(WINDOWS) + injected
        assert len(waits.seconds) == injected
    assert stats.count(200) == len(WINDOWS)
    # the platform itself never rate-limited: every 429 the server sent was an injected one
    assert stats.count(429) == stats.faults.get("429", 0) + stats.faults.get("429_retry_after", 0)
    if kind == "429_retry_after":  # the platform's Retry-After, honoured (from its arrival)
        assert all(0 < w <= 1.0 for w in waits.seconds)
        assert sum(w > 0.95 for w in waits.seconds) >= injected
    elif kind == "429":  # no Retry-After: the platform's whole minute window
        assert all(0 < w <= 60.0 for w in waits.seconds)
        assert sum(w > 59.95 for w in waits.seconds) >= injected
    else:
        assert all(0 < w <= 30 for w in waits.seconds)  # exponential backoff with jitter
    assert elapsed < 20


@pytest.mark.slow
def test_a_batch_through_every_transient_fault_at_once_equals_the_fault_free_run(
    reference, tmp_path
):
    """24 windows, 4 threads, a store, 30 % of requests faulted with any transient kind."""
    waits = Waits()
    store = ResponseStore(tmp_path / "store.sqlite3")
    with running_server(
        platform=platform(), fault_rate=0.3, faults=TRANSIENT, seed=3, slow_seconds=30.0
    ) as server:
        client = make_client(server.url, waits, store=store, timeout=0.5)
        with client:
            results = client.fetch_many(BATCH, max_workers=4)
        stats = server.stats
    assert [r.error for r in results] == [None] * len(BATCH)
    assert_same_data({r.query.key(): r.data for r in results}, reference)
    injected = sum(stats.faults.values())
    assert injected > 0 and len(stats.faults) >= 4
    assert stats.requests >= len(BATCH) + injected
    assert stats.count(200) == len(BATCH)
    # exactly one stored answer per window, each the answer itself (no fault was stored)
    entries = store.entries()
    assert len(entries) == len(BATCH)
    for query in BATCH:
        payload = store.get(client.host, query, now=dt.datetime.now(dt.UTC))
        assert payload is not None
        pd.testing.assert_frame_equal(
            parse_response(payload, query=query).trend, reference[query.key()].trend
        )
    store.close()


# -- permanent faults: the right typed error, in bounded time -----------------------------------
def run_permanent(kind: str, tmp_path: Path, **client_kwargs):
    """Fetch one window from a server that faults every request; return (error, stats, secs)."""
    waits = Waits()
    store = ResponseStore(tmp_path / "store.sqlite3")
    query = WINDOWS[0]
    started = time.perf_counter()
    with running_server(
        platform=platform(), fault_rate=1.0, faults=[kind], slow_seconds=3.0
    ) as server:
        client = make_client(server.url, waits, store=store, **client_kwargs)
        with client, pytest.raises(Exception) as info:
            client.fetch_query(query)
        stats = server.stats
    elapsed = time.perf_counter() - started
    assert store.entries() == []  # a failure is never stored
    store.close()
    return info.value, stats, waits, elapsed


@pytest.mark.parametrize("kind", ["truncated", "not_json", "html_200"])
def test_a_200_that_is_not_the_documented_json_is_a_format_error_at_once(kind, tmp_path):
    error, stats, waits, elapsed = run_permanent(kind, tmp_path)
    assert type(error) is ResponseFormatError
    assert error.field == "<body>" and "<body>" in str(error)
    assert "127.0.0.1" in str(error)  # names the host that sent it
    assert stats.requests == 1 and waits.seconds == []  # never retried
    assert elapsed < 3


def test_an_html_502_page_is_retried_then_a_server_error(tmp_path):
    error, stats, waits, elapsed = run_permanent("html_502", tmp_path, max_retries=3)
    assert type(error) is ServerError
    assert error.status == 502 and "Bad Gateway" in error.message
    assert "after 4 attempts" in str(error)
    assert stats.requests == 4 and len(waits.seconds) == 3
    assert elapsed < 3


@pytest.mark.parametrize(
    ("kind", "error_type", "status"),
    [
        ("503", ServerError, 503),
        ("429", RateLimitError, 429),
        ("429_retry_after", RateLimitError, 429),
    ],
)
def test_a_fault_that_never_clears_ends_after_max_retries(kind, error_type, status, tmp_path):
    error, stats, waits, elapsed = run_permanent(kind, tmp_path, max_retries=4)
    assert type(error) is error_type and error.status == status
    assert stats.requests == 5 and len(waits.seconds) == 4
    if kind == "429_retry_after":  # waited in the rate limiter, from the 429's arrival
        assert error.retry_after == 1.0
        assert waits.seconds == [pytest.approx(1.0, abs=0.05)] * 4
    if kind == "429":  # no Retry-After: the platform's whole minute, each time
        assert waits.seconds == [pytest.approx(60.0, abs=0.05)] * 4
    assert elapsed < 3


def test_connections_dropped_every_time_end_in_a_connection_error(tmp_path):
    error, stats, waits, elapsed = run_permanent("drop", tmp_path, max_retries=4)
    assert type(error) is ApiConnectionError
    assert "gave up after 5 attempt(s)" in str(error) and "127.0.0.1" in str(error)
    assert stats.requests == 5 and stats.dropped == 5 and len(waits.seconds) == 4
    assert elapsed < 3


def test_answers_that_are_always_too_slow_stop_within_the_retry_budget(tmp_path):
    """The retry budget bounds real time: 1.5 s of budget, 0.4 s timeout, many retries allowed."""
    error, stats, waits, elapsed = run_permanent(
        "slow", tmp_path, timeout=0.4, retry_budget=1.5, max_retries=50
    )
    assert type(error) is ApiConnectionError and "timed out" in str(error)
    assert 2 <= stats.requests <= 6 and len(waits.seconds) == stats.requests - 1
    assert elapsed < 1.5 + 0.4 + 1.5


def test_the_right_json_with_a_wrong_content_type_is_accepted_as_is(reference):
    """The body is what is checked: valid JSON labelled text/plain gives the same data."""
    waits = Waits()
    with running_server(platform=platform(), fault_rate=1.0, faults=["wrong_content_type"]) as s:
        got = fetch_all(make_client(s.url, waits), WINDOWS[:4])
        assert s.stats.faults == {"wrong_content_type": 4} and s.stats.requests == 4
    assert_same_data(got, subset(reference, WINDOWS[:4]))
    assert waits.seconds == []
