"""8. A 26-week getSessions backfill of the largest demo stream, under the platform's limits.

The demo platform enforces 60 requests per rolling minute and 1,800 per hour per bot, and the
client paces itself with its own limiter (one budget per bot). Both run on one virtual clock
(the client's sleeps advance it), so the benchmark measures the client's own work in seconds
of real time, and reports how long the same backfill takes against a real platform (the
virtual time). Targets: no 429 at all; after an interruption (Ctrl-C at a third of the
requests) the resumed run, started at once and sharing the interrupted run's rate-limit budget
file (as two real processes on one machine do), meets no 429 and asks for no window that was
already stored. Peak memory is traced with ``tracemalloc`` over the whole backfill.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import httpx

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_HOST, DemoPlatform
from engagement_kit.metrics.first_seen import FirstSeenTable, SessionCache, backfill
from engagement_kit.store import ResponseStore

STREAM, TZ = "st-demo-retail-in", "Asia/Kolkata"
SINCE, UNTIL = dt.date(2025, 6, 2), dt.date(2025, 11, 30)  # 26 ISO weeks
START = dt.datetime(2025, 12, 8, 9, tzinfo=dt.UTC).timestamp()


class VirtualClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(seconds, 0.0)


class Counting:
    """The platform behind a transport that counts statuses and can interrupt once."""

    def __init__(self, platform: DemoPlatform, clock: VirtualClock, interrupt_at: int | None):
        self.platform, self.clock = platform, clock
        self.statuses: dict[int, int] = {}
        self.windows: list[str] = []
        self.interrupt_at = interrupt_at

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.interrupt_at is not None and len(self.windows) == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        self.clock.sleep(0.05)  # a real request takes time too
        response = self.platform.handle(request)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self.windows.append(json.loads(request.content)["dateFrom"])
        return response


def _client(
    store: Path, transport: Counting, clock: VirtualClock, budget: Path | None = None
) -> EngagementClient:
    return EngagementClient(
        DEMO_HOST,
        credentials=Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
        store=ResponseStore(store),
        transport=httpx.MockTransport(transport.handle),
        clock=clock,
        sleep=clock.sleep,
        shared_rate_limit=budget if budget is not None else False,
    )


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clock = VirtualClock(START)
        platform = DemoPlatform(clock)  # the platform's own limits: 60/min, 1,800/h per bot
        # 1. uninterrupted, from cold
        full = Counting(platform, clock, None)
        tracemalloc.start()
        t0 = time.perf_counter()
        with _client(Path(tmp) / "a.sqlite3", full, clock) as client:
            result = backfill(client, STREAM, SINCE, UNTIL, tz=TZ, progress=False)
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        virtual = clock.now - START
        requests = sum(full.statuses.values())
        rows.append(
            {
                "what": f"getSessions backfill, 26 weeks of {STREAM} ({result['sessions']:,} "
                f"sessions, {requests} requests)",
                "baseline": "none (limits: 60/min, 1,800/h per bot)",
                "baseline_seconds": None,
                "ours_seconds": seconds,
                "ratio": None,
                "target": "0 × 429",
                "met": full.statuses.get(429, 0) == 0 and result["complete"],
                "runs": 1,
                "spread": "",
                "note": (
                    f"Backfill: {full.statuses.get(429, 0)} × 429 in {requests} requests; "
                    f"{virtual / 60:.1f} min at the platform's pace (virtual clock), "
                    f"{seconds:.1f} s of work here; peak traced memory {peak / 2**20:.0f} MiB; "
                    f"{result['users']:,} users in the first-seen table."
                ),
            }
        )
        # 2. interrupted at a third of the requests, then resumed
        clock2 = VirtualClock(START)
        platform2 = DemoPlatform(clock2)
        first = Counting(platform2, clock2, interrupt_at=requests // 3)
        store = Path(tmp) / "b.sqlite3"
        budget = Path(tmp) / "ratelimit.sqlite3"  # the machine's budget file, on this clock
        with _client(store, first, clock2, budget) as client:
            partial = backfill(client, STREAM, SINCE, UNTIL, tz=TZ, progress=False)
        kept = {  # the windows stored before the resume
            start
            for (start,) in SessionCache(store).read(
                "SELECT window_start FROM session_windows WHERE stream_id = ?", (STREAM,)
            )
        }
        stored = len(kept)
        # restarted at once: the budget file holds the old run's requests of the last minute,
        # so the new run waits for them instead of meeting the platform's 429
        restarted = clock2.now
        second = Counting(platform2, clock2, None)
        t0 = time.perf_counter()
        with _client(store, second, clock2, budget) as client:
            resumed = backfill(client, STREAM, SINCE, UNTIL, tz=TZ, progress=False)
        seconds = time.perf_counter() - t0
        asked_again = {
            dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
            for text in second.windows
        }
        refetched = len(asked_again & kept)
        users = len(FirstSeenTable(store).frame(DEMO_HOST, STREAM))
        ok = (
            not partial["complete"]
            and resumed["complete"]
            and refetched == 0
            and users == result["users"]
            and second.statuses.get(429, 0) == 0
        )
        rows.append(
            {
                "what": "the same backfill resumed after Ctrl-C at a third",
                "baseline": "none",
                "baseline_seconds": None,
                "ours_seconds": seconds,
                "ratio": None,
                "target": "0 closed windows refetched",
                "met": ok,
                "runs": 1,
                "spread": "",
                "note": (
                    f"Resume: {stored} windows were stored before Ctrl-C; the resumed run, "
                    f"started at once, sent {sum(second.statuses.values())} requests "
                    f"({second.statuses.get(429, 0)} × 429, {(clock2.now - restarted) / 60:.1f} "
                    f"min at the platform's pace), refetched {refetched} stored "
                    f"windows, and built the same {users:,}-user first-seen table."
                ),
            }
        )
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(row["what"], row["met"], row["note"])
