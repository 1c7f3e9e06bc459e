"""The client-side rate limiter against the platform's own limit, over real loopback HTTP.

The demo platform enforces the documented 60 requests per stream in any rolling minute (and
1,800 per hour) and answers 429 beyond. One client pushes 150 requests for one stream; the
client's clock and sleep and the platform's clock are one fake clock (sleeping advances it),
so the 2.5 simulated minutes cost no real waiting. The server must never answer 429 and the
data must be complete. A control run without the client-side limiter shows the platform's
limit is real (so the main test can fail).
"""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pandas as pd
import pytest

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DemoPlatform, running_server
from engagement_kit.errors import RateLimitError

STREAM = "st-demo-it-de"
TZ = "Europe/Berlin"
#: 150 one-day windows, 2025-07-12 .. 2025-12-08, all before the clock's "now".
FIRST = dt.date(2025, 7, 12)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(150)]
START = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()


class FakeClock:
    """One clock for the client and the platform; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept = 0.0
        self.sleeps = 0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds
            self.slept += seconds
            self.sleeps += 1


def client_for(url: str, clock: FakeClock, **kwargs) -> EngagementClient:
    return EngagementClient(
        url,
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        store=False,
        clock=clock,
        sleep=clock.sleep,
        timeout=10.0,
        **kwargs,
    )


@pytest.mark.slow
def test_150_requests_for_one_stream_meet_no_429_and_the_data_is_complete():
    clock = FakeClock(START)
    platform = DemoPlatform(clock=clock)  # 60 per minute and 1,800 per hour, per stream
    with running_server(platform=platform) as server:
        with client_for(server.url, clock, max_retries=0) as client:  # a 429 would fail
            days = [client.fetch(STREAM, day, day, tz=TZ) for day in DAYS]
        stats = server.stats
    assert stats.requests == 150
    assert stats.count(429) == 0
    assert stats.by_status == {200: 150}
    # the limiter, not luck: 150 requests at 60 per minute need two full minutes of waiting
    assert clock.slept >= 120.0
    assert clock.now - START < 180.0  # ... and not much more

    # complete: the 150 one-day answers are exactly one 150-day answer, day by day
    whole_platform = DemoPlatform(clock=lambda: START, rate_limit=False)
    whole = EngagementClient(
        "https://demo.engagement-kit.invalid",
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        store=False,
        transport=httpx.MockTransport(whole_platform.handle),
        max_days_per_request=366,
    ).fetch(STREAM, DAYS[0], DAYS[-1], tz=TZ)
    joined = pd.concat([d.wide() for d in days], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole.wide(), check_exact=True)
    assert sum(int(d.summary["new_users"]) for d in days) == int(whole.summary["new_users"])
    assert joined["unique"].sum() > 0  # real data, not 150 empty days


def test_without_the_client_side_limiter_the_platform_answers_429():
    """The control experiment: the 61st request within a minute is refused by the platform."""
    clock = FakeClock(START)
    with running_server(platform=DemoPlatform(clock=clock)) as server:
        with client_for(
            server.url, clock, max_retries=0, requests_per_minute=None, requests_per_hour=None
        ) as client:
            for day in DAYS[:60]:
                client.fetch(STREAM, day, day, tz=TZ)
            with pytest.raises(RateLimitError, match="Rate limit for this API"):
                client.fetch(STREAM, DAYS[60], DAYS[60], tz=TZ)
        stats = server.stats
    assert stats.count(429) == 1 and stats.count(200) == 60  # read once the server has stopped
    assert clock.slept == 0.0


# -- counted on arrival: the safety margin -------------------------------------------------------


class Network:
    """The platform's clock as the moment each request *arrives*.

    Every request takes one round trip ``rtt`` of the shared fake time (the client waits for
    the answer), and reaches the platform a random part of it after it was sent: the platform
    counts the arrival, the client counted the sending.
    """

    def __init__(self, clock: FakeClock, *, rtt: float, seed: int) -> None:
        import random

        self.clock = clock
        self.rtt = rtt
        self.rng = random.Random(seed)

    def __call__(self) -> float:
        with self.clock.lock:
            sent = self.clock.now
            self.clock.now += self.rtt
        return sent + self.rng.uniform(0, self.rtt)


def _burst(seed: int, **client_options) -> tuple[int, int]:
    """66 one-day requests for one stream at once; returns (answers, 429s)."""
    clock = FakeClock(START)
    platform = DemoPlatform(clock=Network(clock, rtt=0.2, seed=seed))
    with running_server(platform=platform) as server:
        with client_for(server.url, clock, max_retries=0, **client_options) as client:
            results = client.fetch_many(
                [{"stream_id": STREAM, "start": d, "end": d, "tz": TZ} for d in DAYS[:66]],
                max_workers=4,
            )
        stats = server.stats
    assert stats.requests == 66
    assert all(r.ok or isinstance(r.error, RateLimitError) for r in results)
    return stats.count(200), stats.count(429)


@pytest.mark.parametrize("seed", range(5))
def test_a_66_request_burst_counted_on_arrival_meets_no_429(seed):
    answered, refused = _burst(seed)
    assert (answered, refused) == (66, 0)


def test_without_the_margin_arrival_jitter_meets_a_429():
    """The control: pacing at exactly 60 a minute, some request crosses the platform's window."""
    refused = [_burst(seed, requests_per_minute=60)[1] for seed in range(5)]
    assert sum(refused) >= 1, refused


# -- two processes, one stream -------------------------------------------------------------------

_WORKER = """
import datetime as dt, json, sys
from engagement_kit.client.auth import Credentials
from engagement_kit.client import EngagementClient
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from engagement_kit.errors import RateLimitError
from engagement_kit.client.ratelimit import StreamRateLimiter, default_budget_path

url, first, shared = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), sys.argv[3] == "shared"
client = EngagementClient(
    url, credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), store=False, max_retries=0
)
# the platform's limits on a 3-second "minute" (so the test takes seconds): 20, paced at 17
client.rate_limiter = StreamRateLimiter(
    17, None, shared=default_budget_path() if shared else None, scope=client.host,
    windows=(3.0, 3600.0),
)
refused = 0
for i in range(12):
    day = first + dt.timedelta(days=i)
    try:
        client.fetch("st-demo-it-de", day, day)
    except RateLimitError:
        refused += 1
print(json.dumps({"refused": refused}))
"""


def _two_processes(url: str, mode: str) -> list[int]:
    import json
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, first, mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        for first in ("2025-06-01", "2025-09-01")
    ]
    out = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), out
    return [json.loads(o.strip().splitlines()[-1])["refused"] for o in out]


@pytest.mark.slow
def test_two_processes_on_one_stream_share_the_budget_and_meet_no_429():
    platform = DemoPlatform(per_minute=20, per_hour=None, windows=(3.0, 3600.0))
    with running_server(platform=platform) as server:
        assert _two_processes(server.url, "shared") == [0, 0]
        stats = server.stats
    assert stats.count(200) == 24 and stats.count(429) == 0
    # the control: each process pacing itself alone, together they pass the platform's limit
    with running_server(
        platform=DemoPlatform(per_minute=20, per_hour=None, windows=(3.0, 3600.0))
    ) as server:
        refused = _two_processes(server.url, "alone")
    assert sum(refused) >= 1, refused


# -- a backfill restarted straight after an interrupted one --------------------------------------


class Interrupting:
    """The platform in-process; each request takes 50 ms of the fake clock. Raises Ctrl-C
    before request ``interrupt_at`` (once) and counts the answers by status."""

    def __init__(self, platform: DemoPlatform, clock: FakeClock, interrupt_at: int | None):
        self.platform, self.clock, self.interrupt_at = platform, clock, interrupt_at
        self.statuses: dict[int, int] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.interrupt_at is not None and sum(self.statuses.values()) == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        self.clock.sleep(0.05)
        response = self.platform.handle(request)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


def _backfill_run(tmp_path, clock, platform, interrupt_at, budget):
    from engagement_kit.client.sessions import SessionsConfig
    from engagement_kit.demo import DEMO_HOST
    from engagement_kit.metrics.first_seen import backfill
    from engagement_kit.store import ResponseStore

    transport = Interrupting(platform, clock, interrupt_at)
    with EngagementClient(
        DEMO_HOST,
        credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        store=ResponseStore(tmp_path / "store.sqlite3"),
        transport=httpx.MockTransport(transport.handle),
        clock=clock,
        sleep=clock.sleep,
        shared_rate_limit=budget,  # a path: the budget file of the machine; False: none
    ) as client:
        result = backfill(
            client,
            "st-demo-hr-us",
            "2025-09-01",
            "2025-11-09",
            tz="America/New_York",
            config=SessionsConfig(page_size=100),  # ~8 pages a window: ~100 requests
            progress=False,
        )
    return result, transport.statuses


@pytest.mark.parametrize("budget", ["shared", "lost"])
def test_a_backfill_restarted_at_once_after_ctrl_c_completes(tmp_path, budget):
    """Ctrl-C after 50 requests in a few seconds, then the same command at once. With the
    machine's budget file (``shared``) the new run waits for the old run's minute and meets no
    429; without it (another container, an unusable cache folder: ``lost``) the platform's 429
    is the only news that the minute is full, and the client must wait the minute out rather
    than give up after a backoff (1 + 2 + 4 + 8 + 16 s) shorter than the platform's window."""
    clock = FakeClock(START)
    platform = DemoPlatform(clock=clock)  # 60 per rolling minute per bot, counted on arrival
    path = tmp_path / "ratelimit.sqlite3"
    first, statuses = _backfill_run(
        tmp_path, clock, platform, 50, path if budget == "shared" else False
    )
    assert not first["complete"] and statuses == {200: 50}
    assert clock.now - START < 5.0
    started = clock.now
    second, statuses = _backfill_run(
        tmp_path, clock, platform, None, path if budget == "shared" else False
    )
    assert second["complete"] and second["users"] > 0
    assert statuses.get(429, 0) == (0 if budget == "shared" else 1), statuses
    assert clock.now - started >= 55.0  # the old run's minute was waited out, either way


def test_a_cool_down_is_shared_through_the_budget_file_per_host_and_stream(tmp_path):
    """The platform's 429 reaches every process on the machine: a limiter opened later on the
    same file (a restarted process) waits the cool-down out; other streams and hosts do not."""
    from engagement_kit.client.ratelimit import StreamRateLimiter

    clock = FakeClock(START)
    path = tmp_path / "budget.sqlite3"
    first = StreamRateLimiter(clock=clock, sleep=clock.sleep, shared=path, scope="https://a")
    first.cool_down(STREAM, 42.0)
    first.cool_down(STREAM, 5.0)  # a shorter one does not cut the longer short
    first.close()
    again = StreamRateLimiter(clock=clock, sleep=clock.sleep, shared=path, scope="https://a")
    other_host = StreamRateLimiter(clock=clock, sleep=clock.sleep, shared=path, scope="https://b")
    assert other_host.acquire(STREAM) == 0.0
    assert again.acquire("st-other") == 0.0
    assert again.acquire(STREAM) == pytest.approx(42.0, abs=0.01)
    assert again.acquire(STREAM) == 0.0  # over
    # with the limits switched off, the platform's word still holds
    unlimited = StreamRateLimiter(None, None, clock=clock, sleep=clock.sleep)
    unlimited.cool_down(STREAM, 3.0)
    assert unlimited.acquire(STREAM) == pytest.approx(3.0)
