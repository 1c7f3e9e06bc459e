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

from engagement_kit.auth import Credentials
from engagement_kit.client import EngagementClient
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
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
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
