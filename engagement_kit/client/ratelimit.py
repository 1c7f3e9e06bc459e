"""Client-side pacing: never a 429 of our making.

The platform allows 60 requests per stream in any rolling minute and 1,800 in any rolling hour,
counted as they *arrive*, by its clock, for every caller together. So the toolkit

* keeps a safety margin: by default at most :data:`DEFAULT_REQUESTS_PER_MINUTE` (57) requests
  per stream in any rolling minute and :data:`DEFAULT_REQUESTS_PER_HOUR` (1,750) in any rolling
  hour, as it sends them. Sent one at a time per stream (``fetch_many`` does), a request cannot
  overtake the one before it on the way, so the platform never counts more than the budget
  plus the one or two requests in flight at a window's edge: fewer than 60;
* shares that budget between every process on the machine (two notebooks, a report run and a
  dashboard on one stream together): the send log lives in a SQLite file,
  :func:`default_budget_path`, through pyrate-limiter's :class:`~pyrate_limiter.SQLiteBucket`;
  each take is one ``BEGIN IMMEDIATE`` transaction, so SQLite's own locking makes "count, then
  record" atomic across processes.

With an injected clock (tests, simulations) the budget stays in memory: a simulated time
cannot be shared with other processes.

The send log only knows what the processes sharing it sent. A new process on another machine
or container (its own cache folder), one whose budget file is unusable, or another tool on the
same bot can find the platform's window already full: then the platform's 429 is the only news.
:meth:`StreamRateLimiter.cool_down` records it, in the same file: no process takes a slot for
that stream until the ``Retry-After`` the platform gave, or else a whole window (a minute) has
passed, by when every request the platform counted before its 429 has left its window. (A
retry backoff of 1 + 2 + 4 + 8 + 16 s is shorter than the window: it would meet the 429 again.)
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engagement_kit.errors import ConfigError
from engagement_kit.store.sqlite_file import sqlite_connection

if TYPE_CHECKING:
    from pyrate_limiter import AbstractBucket, Rate

__all__ = [
    "DEFAULT_REQUESTS_PER_HOUR",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "RATELIMIT_ENV",
    "StreamRateLimiter",
    "default_budget_path",
]

logger = logging.getLogger("engagement_kit.client")

#: Per stream and rolling minute: the platform's 60 less a margin for its clock and the network.
DEFAULT_REQUESTS_PER_MINUTE = 57
#: Per stream and rolling hour: the platform's 1,800 less a margin.
DEFAULT_REQUESTS_PER_HOUR = 1750
#: Environment variable naming the shared budget file.
RATELIMIT_ENV = "ENGAGEMENT_KIT_RATELIMIT_DB"
_COOLDOWN_TABLE = "rl_cooldown"


def default_budget_path() -> Path:
    """``$ENGAGEMENT_KIT_RATELIMIT_DB``, else ``ratelimit.sqlite3`` in the user cache directory."""
    configured = os.environ.get(RATELIMIT_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("engagement-kit")) / "ratelimit.sqlite3"


def _greatest(a: Any, b: Any) -> Any:
    import sqlalchemy as sa

    return sa.func.greatest(a, b)


def check_limits(per_minute: int | None, per_hour: int | None) -> None:
    for name, value in (("requests_per_minute", per_minute), ("requests_per_hour", per_hour)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"{name}: {value!r} must be a whole number >= 1 (or None: no limit)")


def _rates(per_minute: int | None, per_hour: int | None, windows: Sequence[float]) -> list[Rate]:
    # imported on the first request, not with the client: answers from the store need neither
    from pyrate_limiter import Rate

    minute_ms, hour_ms = (round(w * 1000) for w in windows)
    rates = []
    # pyrate-limiter wants a "generous-before-tight" list; drop a limit the other one implies.
    if per_minute is not None and not (per_hour is not None and per_hour <= per_minute):
        rates.append(Rate(per_minute, minute_ms))
    if per_hour is not None and not (
        per_minute is not None and per_hour >= per_minute * hour_ms / minute_ms
    ):
        rates.append(Rate(per_hour, hour_ms))
    return rates


class StreamRateLimiter:
    """At most ``per_minute`` requests per stream in any rolling minute and ``per_hour`` in any
    rolling hour; :meth:`acquire` blocks until a slot is free.

    It drives pyrate-limiter buckets (sliding-window logs) directly instead of through
    ``pyrate_limiter.Limiter``, whose blocking path calls ``time.sleep``/``time.monotonic``
    itself: here the timestamps come from the injected ``clock`` and the waits go through the
    injected ``sleep``, so tests need no real sleeping. Thread-safe; no lock is held while
    sleeping.

    Parameters
    ----------
    per_minute, per_hour : int or None
        The limits; ``None`` switches one off.
    clock : callable
        Current time in seconds (``time.time``).
    sleep : callable
        Waits a number of seconds (``time.sleep``).
    shared : str, Path or None
        A SQLite file holding the send log shared with every process using the same file
        (see the module docstring); ``None`` keeps it in this object only.
    scope : str
        Prefixed to the keys in the shared file (the client passes its host: the platform's
        limits are per stream of one host).
    windows : (float, float)
        Lengths of the "minute" and the "hour" in seconds (shorter ones make fast tests).
    """

    def __init__(
        self,
        per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        per_hour: int | None = DEFAULT_REQUESTS_PER_HOUR,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = time.sleep,
        shared: str | os.PathLike[str] | None = None,
        scope: str = "",
        windows: Sequence[float] = (60.0, 3600.0),
    ) -> None:
        check_limits(per_minute, per_hour)
        self.per_minute = per_minute
        self.per_hour = per_hour
        from engagement_kit.store.database import Database, is_url

        #: The team's PostgreSQL store keeping the budget (``shared`` was its URL), else None.
        self.database: Database | None = Database(str(shared)) if is_url(shared) else None
        self.shared = None if shared is None or self.database is not None else Path(shared)
        self.scope = scope
        self._windows = tuple(float(w) for w in windows)
        self._rates: list[Rate] | None = None  # built on the first acquire
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, AbstractBucket] = {}
        self._cooldowns: dict[str, float] = {}  # key -> until (POSIX seconds), when not shared
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = (
            f"shared via {self.database.shown}"
            if self.database is not None
            else f"shared via {self.shared}"
            if self.shared
            else "this process only"
        )
        return f"<StreamRateLimiter {self.per_minute}/min {self.per_hour}/h, {where}>"

    # -- buckets ----------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection | None:
        """The shared file's connection (``None`` when it cannot be used: then per process)."""
        if self.shared is None:
            return None
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            self.shared.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite_connection(self.shared)  # the store's layer: WAL, busy timeout
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_COOLDOWN_TABLE} (key TEXT PRIMARY KEY, until REAL)"
            )
        except (OSError, sqlite3.Error) as exc:
            logger.warning(
                "rate limit: cannot use the shared budget file %s (%s); pacing this process "
                "alone (set %s to a writable path to share it)",
                self.shared,
                exc,
                RATELIMIT_ENV,
            )
            self.shared = None
            return None
        self._conn, self._pid, self._buckets = conn, os.getpid(), {}
        return conn

    def _bucket(self, key: str) -> AbstractBucket:
        from pyrate_limiter import InMemoryBucket, SQLiteBucket
        from pyrate_limiter.buckets.sqlite_bucket import Queries

        conn = self._connection()
        bucket = self._buckets.get(key)
        if bucket is not None:
            return bucket
        assert self._rates is not None
        if conn is None:
            bucket = InMemoryBucket(self._rates)
        else:
            table = "rl_" + hashlib.sha256(f"{self.scope} {key}".encode()).hexdigest()[:24]
            conn.execute(Queries.CREATE_BUCKET_TABLE.format(table=table))
            conn.execute(
                Queries.CREATE_INDEX_ON_TIMESTAMP.format(
                    index_name=f"idx_{table}", table_name=table
                )
            )
            bucket = SQLiteBucket(self._rates, conn, table)
        self._buckets[key] = bucket
        return bucket

    def _try(self, key: str, now_ms: int) -> int | None:
        """Take a slot at ``now_ms``; ``None`` when taken, else milliseconds to wait."""
        from pyrate_limiter import RateItem

        if self.database is not None:
            return self._try_database(key, now_ms)

        bucket = self._bucket(key)
        item = RateItem(key, now_ms)
        conn = self._conn if self.shared is not None else None
        if conn is None:
            bucket.leak(now_ms)
            return None if bucket.put(item) else int(bucket.waiting(item))  # type: ignore[arg-type]
        bucket.leak(now_ms)  # only clean-up (counts look at the window): its own transaction
        conn.execute("BEGIN IMMEDIATE")  # other processes wait here: count + record is atomic
        try:
            if bucket.put(item):  # commits
                return None
            return int(bucket.waiting(item))  # type: ignore[arg-type]
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    # -- cool-downs: the platform said its window is full ------------------------------------
    @property
    def window(self) -> float:
        """Length of the "minute" in seconds (a cool-down without ``Retry-After`` lasts one)."""
        return self._windows[0]

    def _try_database(self, key: str, now_ms: int) -> int | None:
        """The PostgreSQL store's budget: count and record under one advisory lock per key."""
        import sqlalchemy as sa

        from engagement_kit.store.schema import rate_sends

        assert self.database is not None and self._rates is not None
        full = f"{self.scope} {key}"
        lock = int(hashlib.sha256(full.encode()).hexdigest()[:15], 16)
        now = now_ms / 1000
        horizon = max(r.interval for r in self._rates) / 1000
        c = rate_sends.c

        def work(conn: sa.Connection) -> int | None:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))  # count + record: atomic
            conn.execute(sa.delete(rate_sends).where(c.key == full, c.sent_at <= now - horizon))
            wait = 0.0
            for rate in self._rates or []:
                window = rate.interval / 1000
                inside = sa.and_(c.key == full, c.sent_at > now - window)
                count = conn.execute(sa.select(sa.func.count()).where(inside)).scalar() or 0
                if count >= rate.limit:
                    frees = conn.execute(
                        sa.select(c.sent_at)
                        .where(inside)
                        .order_by(c.sent_at)
                        .offset(count - rate.limit)
                        .limit(1)
                    ).scalar()
                    wait = max(wait, (now if frees is None else float(frees)) + window - now)
            if wait > 0:
                return math.ceil(wait * 1000)
            conn.execute(sa.insert(rate_sends).values(key=full, sent_at=now))
            return None

        return self.database.transaction(work)

    def cool_down(self, key: str, seconds: float) -> None:
        """Take no slot for ``key`` for ``seconds`` from now, in every process sharing the file.

        Called by the client on the platform's 429 (``seconds`` = its ``Retry-After``, else
        :attr:`window`). An existing longer cool-down is kept.
        """
        until = self._clock() + max(0.0, float(seconds))
        if self.database is not None:
            self._database_cool_down(key, until)
            return
        with self._lock:
            conn = self._connection()
            if conn is None:
                self._cooldowns[key] = max(self._cooldowns.get(key, until), until)
                return
            try:
                conn.execute(
                    f"INSERT INTO {_COOLDOWN_TABLE} (key, until) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET until = max(until, excluded.until)",
                    (f"{self.scope} {key}", until),
                )
            except sqlite3.Error as exc:  # the budget file went away: remember it here at least
                logger.warning("rate limit: cannot record a cool-down in %s (%s)", self.shared, exc)
                self._cooldowns[key] = max(self._cooldowns.get(key, until), until)

    def _database_cool_down(self, key: str, until: float) -> None:
        from engagement_kit.store.schema import rate_cooldowns

        assert self.database is not None
        upsert = self.database.insert(rate_cooldowns)
        self.database.write(
            upsert.values(key=f"{self.scope} {key}", until=until).on_conflict_do_update(
                index_elements=["key"],
                set_={"until": _greatest(rate_cooldowns.c.until, upsert.excluded.until)},
            )
        )

    def _cooldown_until(self, key: str) -> float:
        """When ``key``'s cool-down ends (POSIX seconds; 0 when there is none)."""
        until = self._cooldowns.get(key, 0.0)
        if self.database is not None:
            import sqlalchemy as sa

            from engagement_kit.store.schema import rate_cooldowns

            rows = self.database.read(
                sa.select(rate_cooldowns.c.until).where(
                    rate_cooldowns.c.key == f"{self.scope} {key}"
                )
            )
            return max(until, float(rows[0][0])) if rows else until
        conn = self._connection()
        if conn is not None:
            try:
                row = conn.execute(
                    f"SELECT until FROM {_COOLDOWN_TABLE} WHERE key = ?", (f"{self.scope} {key}",)
                ).fetchone()
            except sqlite3.Error:
                row = None
            if row is not None:
                until = max(until, float(row[0]))
        return until

    def acquire(self, key: str) -> float:
        """Take a slot for ``key`` (a stream id), waiting as needed (for a free slot, and for
        a cool-down after the platform's 429). Returns seconds waited."""
        if self._rates is None:
            self._rates = _rates(self.per_minute, self.per_hour, self._windows)
        waited = 0.0
        served = 0.0  # a cool-down waited out once is not waited for again (nor a shorter one)
        while True:
            with self._lock:
                now = self._clock()
                until = self._cooldown_until(key)
                cooling = until - now if until > max(now, served) else 0.0
                if cooling > 0:
                    served = until
                    wait_ms: int | None = math.ceil(cooling * 1000)
                elif not self._rates:
                    return waited
                else:
                    wait_ms = self._try(key, int(now * 1000))
            if wait_ms is None:
                return waited
            if cooling > 0 and waited == 0.0:
                logger.info(
                    "rate limit: stream %s waits %.1fs: the platform answered 429 (its window "
                    "is full)",
                    key,
                    cooling,
                )
            delay = max(wait_ms, 1) / 1000
            if waited == 0.0:
                logger.debug("rate limit: stream %s waits %.3fs for a free slot", key, delay)
            self._sleep(delay)
            waited += delay

    def close(self) -> None:
        """Close the shared file's connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._buckets = None, {}
