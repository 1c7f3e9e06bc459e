"""A team's rate budget: with a PostgreSQL store, the per-bot budget lives in that database, so
processes on several machines (here: two processes with their own home folders and no shared
budget file) together stay under the platform's limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from engagement_kit.client.ratelimit import StreamRateLimiter
from engagement_kit.demo import running_server
from engagement_kit.demo.platform import DemoPlatform
from engagement_kit.store import ResponseStore
from engagement_kit.store.schema import revisions
from tests.builders import REPO

_MACHINE = """
import datetime as dt, json, sys
from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.client.ratelimit import StreamRateLimiter
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from engagement_kit.errors import RateLimitError

url, store = sys.argv[1], sys.argv[2]
client = EngagementClient(
    url, credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), max_retries=0
)  # the store: ENGAGEMENT_KIT_STORE, the team's PostgreSQL URL
assert client.rate_limiter.database is not None, client.rate_limiter
# the platform's limits on a 3-second "minute" (so the test takes seconds): 20, paced at 17
client.rate_limiter = StreamRateLimiter(
    17, None, shared=client.store.url, scope=client.host, windows=(3.0, 3600.0)
)
refused = 0
for i in range(24):
    day = dt.date(2025, 6, 1) + dt.timedelta(days=i)
    try:
        client.fetch("st-demo-it-de", day, day, refresh=True)
    except RateLimitError:
        refused += 1
print(json.dumps({"refused": refused}))
"""


def _machines(tmp_path, url: str, store: str) -> list[int]:
    procs = []
    for name in ("machine-a", "machine-b"):
        home = tmp_path / name
        home.mkdir()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "HOME": str(home),
            "ENGAGEMENT_KIT_HOME": str(home),
            "ENGAGEMENT_KIT_STORE": store,
            "ENGAGEMENT_KIT_RATELIMIT_DB": str(home / "ratelimit.sqlite3"),  # not shared
            "XDG_CACHE_HOME": str(home / "cache"),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _MACHINE, url, store],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    out = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in out]
    return [json.loads(o[0].strip().splitlines()[-1])["refused"] for o in out]


def test_two_machines_on_one_postgresql_store_share_the_budget(tmp_path, postgres_url):
    platform = DemoPlatform(per_minute=20, per_hour=None, windows=(3.0, 3600.0))
    with running_server(platform=platform) as server:
        assert _machines(tmp_path, server.url, postgres_url) == [0, 0]
        stats = server.stats
    assert stats.count(429) == 0
    assert stats.count(200) == 48  # 24 days each (refresh: both really asked)
    store = ResponseStore(postgres_url)
    rows = store.read(sa.select(revisions.c.key, sa.func.count()).group_by(revisions.c.key))
    assert len(rows) == 24 and all(n == 1 for _, n in rows)  # one stored answer per query


def test_the_control_two_machines_pacing_alone_meet_the_platforms_429(tmp_path, postgres_url):
    """The same two machines, each with its own budget (a SQLite store each): together they
    pass the platform's limit, so the shared budget above is what kept them under it."""
    platform = DemoPlatform(per_minute=20, per_hour=None, windows=(3.0, 3600.0))
    with running_server(platform=platform) as server:
        url = server.url
        procs = []
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            script = _MACHINE.replace(
                "assert client.rate_limiter.database is not None, client.rate_limiter\n", ""
            ).replace("shared=client.store.url", "shared=None")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", script, url, str(home / "s.sqlite3")],
                    env={
                        **os.environ,
                        "PYTHONPATH": str(REPO),
                        "ENGAGEMENT_KIT_STORE": str(home / "s.sqlite3"),
                    },
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        out = [p.communicate(timeout=180)[0] for p in procs]
    refused = [json.loads(o.strip().splitlines()[-1])["refused"] for o in out]
    assert sum(refused) >= 1, refused


def test_a_cool_down_is_shared_through_the_postgresql_store(postgres_url):
    clock = [1000.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    first = StreamRateLimiter(57, None, clock=lambda: clock[0], shared=postgres_url, scope="h")
    second = StreamRateLimiter(
        57, None, clock=lambda: clock[0], sleep=sleep, shared=postgres_url, scope="h"
    )
    first.cool_down("st-1", 30)
    first.cool_down("st-1", 5)  # a shorter one keeps the longer
    assert second.acquire("st-1") == pytest.approx(30, abs=0.01)
    assert second.acquire("st-2") == 0  # another stream: no cool-down
