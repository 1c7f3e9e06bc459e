"""Deterministic session logs of the demo streams: the ground truth the demo platform counts.

Each demo stream has a log with one row per session: ``user_id`` (int), ``instant`` (UTC),
``channel``, ``conversation_type`` (``"interactive"``/``"non_interactive"``) and ``status``
(``"active"``/``"closed"``, relative to a given "now").

How the log is made
-------------------
* It starts at midnight on 2025-01-01 **in the stream's home zone** (``DemoStream.tz``) and is
  generated one home-zone day at a time, as far as a query needs it. Hour-of-day and weekday
  patterns are in the home zone.
* Each day's draws come from a numpy ``Generator`` seeded with SHA-256 of the stream id and the
  day's ordinal (never Python's salted ``hash()``), so a day's activity is the same in every
  process, and generating later days never changes earlier ones.
* New users arrive at a rate that follows the stream's size, growth, weekday and month weights.
  Each new user gets a "return class" (e.g. loyal or casual), a personal propensity to come back
  (gamma-distributed around the class's rate) and a home channel.
* Returning sessions are drawn from users first seen on *earlier* days, so the log is computed
  cumulatively. A user first seen on day ``f`` comes back on day ``k`` with expected
  ``propensity * exp(-(k - f) / lifetime) * weights(k)`` sessions (interest fades). Because
  ``exp(-(k - f)/τ) = exp(-k/τ) · exp(f/τ)``, a user's relative weight inside a class never
  changes, so the draw is one Poisson count plus a ``searchsorted`` on an append-only cumulative
  sum: vectorised per day, about half a second for two years of the largest stream.
* Each session also gets a channel (the user's home channel most of the time), a conversation
  type (Non Interactive a small share) and an "open for" duration.
* And an **outcome** (``containmentType``) whose mix depends on the stream, channel, home hour
  and the user's return propensity (:mod:`engagement_kit.demo.outcomes`). A session is **active** at
  ``now`` when ``instant <= now < instant + open_for`` and **closed** afterwards; most sessions
  close within minutes and a few stay open (idle) for hours, so Active is a small share and only
  occurs within the last day before ``now``. Sessions after ``now`` do not exist yet.

The arrays are cached per process (one generator per stream, extended incrementally and
thread-safe); :func:`session_log` returns them as a pandas frame for people and tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
import zoneinfo
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engagement_kit.demo.buffers import GrowableArray
from engagement_kit.demo.outcomes import (
    OUTCOMES,
    channel_outcome_weights,
    check_outcome_mix,
    draw_outcomes,
)

__all__ = [
    "DEMO_STREAMS",
    "LOG_START",
    "DemoStream",
    "LocalView",
    "ReturnClass",
    "SessionArrays",
    "clear_cache",
    "get_stream",
    "local_view",
    "session_arrays",
    "session_log",
]

#: The first day of every demo log (midnight in the stream's home zone).
LOG_START = dt.date(2025, 1, 1)
_DAY = 86_400
_HOUR = 3_600


@dataclass(frozen=True)
class ReturnClass:
    """A kind of user and how often they come back.

    Attributes
    ----------
    share : float
        Share of new users in this class (the shares of a stream sum to 1).
    daily_rate : float
        Mean expected return sessions per (average) day just after the first visit.
    lifetime_days : float
        E-folding time of that rate: interest fades as ``exp(-days_since_first / lifetime)``.
    """

    share: float
    daily_rate: float
    lifetime_days: float


@dataclass(frozen=True)
class DemoStream:
    """One demo app (stream) and the knobs that shape its log.

    Attributes
    ----------
    id, name, tz : str
        Stream id (letters, digits, ``-``, ``_``), readable name, IANA home zone.
    description : str
        One line saying what kind of app it is.
    new_users_per_day : float
        Expected new users on an average day at the log start.
    growth_per_year : float
        Yearly change of the new-user rate (``0.5`` = +50 % a year, negative shrinks).
    weekday_weights : tuple of 7 floats
        Monday..Sunday multipliers of all activity (home zone).
    hour_weights : tuple of 24 floats
        Relative activity per wall-clock hour 0..23 in the home zone.
    channels : tuple of (name, share)
        The channel mix of new users' home channels.
    return_classes : tuple of ReturnClass
        Who comes back and how often.
    month_weights : tuple of 12 floats
        January..December multipliers (seasons, sales).
    non_interactive_share : float
        Share of sessions that are Non Interactive.
    extra_sessions_first_day : float
        Mean number of extra sessions a new user has on their first day.
    channel_loyalty : float
        Probability a session uses the user's home channel (else one drawn from the mix).
    long_open_share : float
        Share of sessions left open (idle) for 1 to 24 hours; the rest close within minutes.
    outcome_mix : tuple of 3 floats
        The stream's (self-service, drop-off, agent) weights of interactive sessions before the
        channel, hour and propensity tilts (see the module docstring).
    """

    id: str
    name: str
    tz: str
    description: str
    new_users_per_day: float
    growth_per_year: float
    weekday_weights: tuple[float, ...]
    hour_weights: tuple[float, ...]
    channels: tuple[tuple[str, float], ...]
    return_classes: tuple[ReturnClass, ...]
    month_weights: tuple[float, ...] = (1.0,) * 12
    non_interactive_share: float = 0.07
    extra_sessions_first_day: float = 0.2
    channel_loyalty: float = 0.85
    long_open_share: float = 0.08
    outcome_mix: tuple[float, float, float] = (0.70, 0.22, 0.08)

    def __post_init__(self) -> None:
        if len(self.weekday_weights) != 7 or len(self.hour_weights) != 24:
            raise ValueError(f"{self.id}: need 7 weekday weights and 24 hour weights")
        if len(self.month_weights) != 12:
            raise ValueError(f"{self.id}: need 12 month weights")
        if abs(sum(c.share for c in self.return_classes) - 1) > 1e-9:
            raise ValueError(f"{self.id}: return class shares must sum to 1")
        if any(c.lifetime_days < 20 for c in self.return_classes):
            # exp(k / lifetime) must stay finite for the decades a query might reach
            raise ValueError(f"{self.id}: return lifetimes must be at least 20 days")
        check_outcome_mix(self.id, self.outcome_mix)
        zoneinfo.ZoneInfo(self.tz)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The stream's channel names, in the order of their codes in the arrays."""
        return tuple(name for name, _ in self.channels)


# relative activity per wall-clock hour 0..23 in the stream's home zone
_RETAIL_HOURS = (
    0.6, 0.3, 0.15, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.2, 2.6, 2.8,
    3.0, 2.8, 2.6, 2.6, 2.8, 3.2, 4.0, 5.0, 5.4, 4.6, 3.0, 1.6,
)  # fmt: skip
_HR_HOURS = (
    0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 1.0, 2.5, 3.5, 3.6, 3.0,
    2.2, 2.8, 3.2, 3.0, 2.4, 1.4, 0.6, 0.3, 0.2, 0.15, 0.1, 0.05,
)  # fmt: skip
_IT_HOURS = (
    0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.3, 1.5, 3.0, 3.2, 2.8, 2.0,
    1.2, 2.4, 2.8, 2.4, 1.8, 0.9, 0.3, 0.1, 0.05, 0.05, 0.02, 0.02,
)  # fmt: skip

DEMO_STREAMS: tuple[DemoStream, ...] = (
    DemoStream(
        id="st-demo-retail-in",
        name="ShopEasy Retail Assistant (India)",
        tz="Asia/Kolkata",
        description="Large consumer shopping assistant: evening peak, busy weekends, growing fast",
        new_users_per_day=170.0,
        growth_per_year=0.4,
        weekday_weights=(0.85, 0.8, 0.85, 0.9, 1.0, 1.3, 1.4),
        hour_weights=_RETAIL_HOURS,
        month_weights=(1.0, 0.95, 1.0, 1.0, 1.05, 1.0, 0.95, 1.0, 1.05, 1.25, 1.35, 1.15),
        channels=(("whatsapp", 0.48), ("rtm", 0.30), ("facebook", 0.14), ("instagram", 0.08)),
        return_classes=(ReturnClass(0.08, 0.12, 90.0), ReturnClass(0.92, 0.02, 25.0)),
        non_interactive_share=0.06,
        extra_sessions_first_day=0.25,
        outcome_mix=(0.60, 0.30, 0.10),  # shoppers give up easily; few agents
    ),
    DemoStream(
        id="st-demo-hr-us",
        name="PeopleFirst HR Helpdesk (US)",
        tz="America/New_York",
        description="Mid-size employee HR helpdesk: weekday office hours, Teams-heavy, loyal users",
        new_users_per_day=18.0,
        growth_per_year=-0.35,
        weekday_weights=(1.1, 1.05, 1.0, 1.0, 0.85, 0.08, 0.06),
        hour_weights=_HR_HOURS,
        channels=(("msteams", 0.70), ("rtm", 0.22), ("email", 0.08)),
        return_classes=(ReturnClass(0.35, 0.09, 240.0), ReturnClass(0.65, 0.025, 90.0)),
        non_interactive_share=0.09,
        extra_sessions_first_day=0.3,
        outcome_mix=(0.62, 0.18, 0.20),  # HR questions often need a person
    ),
    DemoStream(
        id="st-demo-it-de",
        name="Servicedesk IT Bot (Berlin)",
        tz="Europe/Berlin",
        description="Small internal IT helpdesk: a few users a day, web chat and Slack",
        new_users_per_day=1.4,
        growth_per_year=0.2,
        weekday_weights=(1.15, 1.05, 1.0, 1.0, 0.8, 0.05, 0.03),
        hour_weights=_IT_HOURS,
        channels=(("rtm", 0.55), ("slack", 0.35), ("msteams", 0.10)),
        return_classes=(ReturnClass(0.3, 0.04, 180.0), ReturnClass(0.7, 0.015, 60.0)),
        non_interactive_share=0.05,
        outcome_mix=(0.55, 0.20, 0.25),  # IT tickets go to the service desk
    ),
)

_BY_ID = {s.id: s for s in DEMO_STREAMS}


def get_stream(stream: DemoStream | str) -> DemoStream:
    """The demo stream with this id (or the stream itself).

    Raises
    ------
    KeyError
        For an unknown id; the message lists the demo stream ids.
    """
    if isinstance(stream, DemoStream):
        return stream
    try:
        return _BY_ID[stream]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise KeyError(f"{stream!r} is not a demo stream; the demo streams are {known}") from None


# -- the arrays ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SessionArrays:
    """A read-only snapshot of a stream's log, sorted by instant (a prefix of every later one).

    Attributes
    ----------
    stream : DemoStream
    last_day : datetime.date
        The last home-zone day generated (``LOG_START - 1 day`` when empty).
    instant : ndarray of int64
        Session start, epoch seconds (UTC), non-decreasing.
    user : ndarray of int64
        User id, ``0 .. n_users - 1``, numbered by first day (ids of one day are consecutive).
    channel : ndarray of int8
        Code into ``stream.channel_names``.
    interactive : ndarray of bool
        False for Non Interactive sessions.
    open_seconds : ndarray of int32
        How long the session stays open after ``instant``.
    outcome : ndarray of int8
        Code into :data:`engagement_kit.demo.outcomes.OUTCOMES` (``containmentType``).
    first_session : ndarray of int64
        Per user, the index of their first-ever session.
    day_starts : ndarray of int64
        Per generated home day, the index of its first session (length ``days + 1``).
    """

    stream: DemoStream
    last_day: dt.date
    instant: np.ndarray
    user: np.ndarray
    channel: np.ndarray
    interactive: np.ndarray
    open_seconds: np.ndarray
    outcome: np.ndarray
    first_session: np.ndarray
    day_starts: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of users seen so far."""
        return len(self.first_session)

    def __len__(self) -> int:
        return len(self.instant)


def _day_seed(stream_id: str, day: dt.date, salt: str = "") -> int:
    digest = hashlib.sha256(
        f"engagement-kit-demo{salt}|{stream_id}|{day.toordinal()}".encode()
    ).digest()
    return int.from_bytes(digest[:16], "little")


def _pick(rng: np.random.Generator, cumulative: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with weights given as a cumulative sum (``rng.choice`` without its
    per-call checks)."""
    picks = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    return np.minimum(picks, len(cumulative) - 1)


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> int:
    """Epoch seconds of the first instant of ``day`` in ``zone``."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp())


class _Generator:
    """The mutable, incremental state behind one stream's log (guarded by ``lock``)."""

    def __init__(self, stream: DemoStream) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.zone = zoneinfo.ZoneInfo(stream.tz)
        s = stream
        mix = np.array([share for _, share in s.channels], dtype=float)
        self.mix_cum = np.cumsum(mix / mix.sum())
        self.hour_w = np.array(s.hour_weights, dtype=float)
        self.shares_cum = np.cumsum([c.share for c in s.return_classes])
        self.rates = np.array([c.daily_rate for c in s.return_classes])
        self.taus = [c.lifetime_days for c in s.return_classes]
        # normalise so that an average week has weight 1 and the rates mean what they say
        self.weekday = np.array(s.weekday_weights) / np.mean(s.weekday_weights)
        self.month = np.array(s.month_weights) / np.mean(s.month_weights)
        # per class: members and the cumulative sum of their sampling weights
        self.members = [GrowableArray(np.int64) for _ in s.return_classes]
        self.cumw = [GrowableArray(np.float64) for _ in s.return_classes]
        self.home_channel = GrowableArray(np.int8)
        self.relative_propensity = GrowableArray(np.float64)  # per user, mean 1 in each class
        self.outcome_w = channel_outcome_weights(s.outcome_mix, s.channel_names)
        self.first_session = GrowableArray(np.int64)
        self.cols = {
            "instant": GrowableArray(np.int64),
            "user": GrowableArray(np.int64),
            "channel": GrowableArray(np.int8),
            "interactive": GrowableArray(np.bool_),
            "open_seconds": GrowableArray(np.int32),
            "outcome": GrowableArray(np.int8),
        }
        self.day_starts = GrowableArray(np.int64)
        self.day_starts.append(np.zeros(1, dtype=np.int64))
        self.days = 0  # days generated
        self.snapshot: SessionArrays | None = None

    def extend_to(self, last_day: dt.date) -> SessionArrays:
        with self.lock:
            target = (last_day - LOG_START).days + 1
            if self.snapshot is None or target > self.days:
                while self.days < target:
                    self._generate_day(self.days)
                    self.days += 1
                self.snapshot = SessionArrays(
                    stream=self.stream,
                    last_day=LOG_START + dt.timedelta(days=self.days - 1),
                    first_session=self.first_session.view(),
                    day_starts=self.day_starts.view(),
                    **{name: col.view() for name, col in self.cols.items()},
                )
            return self.snapshot

    def _day_slots(self, day: dt.date) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The day's real hours (23 or 25 on a DST day): next midnight, starts, hours, weights."""
        m0 = _midnight(day, self.zone)
        m1 = _midnight(day + dt.timedelta(days=1), self.zone)
        slot_starts = m0 + _HOUR * np.arange(math.ceil((m1 - m0) / _HOUR), dtype=np.int64)
        if m1 - m0 == _DAY:
            slot_hour = np.arange(24)
        else:
            slot_hour = np.array(
                [dt.datetime.fromtimestamp(int(t), self.zone).hour for t in slot_starts]
            )
        return m1, slot_starts, slot_hour, np.cumsum(self.hour_w[slot_hour])

    def _returning_users(self, rng: np.random.Generator, factor: float, k: int) -> list[np.ndarray]:
        """Day ``k``'s returning sessions, from users first seen on earlier days."""
        returning = []
        for c, tau in enumerate(self.taus):
            cum = self.cumw[c].view()
            if not len(cum):
                continue
            n_ret = int(rng.poisson(factor * math.exp(-k / tau) * cum[-1]))
            returning.append(self.members[c].view()[_pick(rng, cum, n_ret)])
        return returning

    def _join_pool(self, k: int, klass: np.ndarray, weight: np.ndarray, ids: np.ndarray) -> None:
        """Day ``k``'s new users join the pool of possible returners of later days."""
        for c, tau in enumerate(self.taus):
            in_c = klass == c
            if in_c.any():
                w = weight[in_c] * math.exp(k / tau)
                cum = self.cumw[c].view()
                start = cum[-1] if len(cum) else 0.0
                self.cumw[c].append(start + np.cumsum(w))
                self.members[c].append(ids[in_c])

    def _generate_day(self, k: int) -> None:
        s = self.stream
        day = LOG_START + dt.timedelta(days=k)
        rng = np.random.default_rng(_day_seed(s.id, day))
        factor = self.weekday[day.weekday()] * self.month[day.month - 1]
        m1, slot_starts, slot_hour, slot_cum = self._day_slots(day)
        # new users
        base = s.new_users_per_day * (1 + s.growth_per_year) ** (k / 365.25)
        n_new = int(rng.poisson(base * factor))
        first_id = len(self.first_session)
        new_ids = np.arange(first_id, first_id + n_new, dtype=np.int64)
        klass = _pick(rng, self.shares_cum, n_new)
        propensity = rng.gamma(2.0, 0.5, size=n_new) * self.rates[klass]
        home = _pick(rng, self.mix_cum, n_new).astype(np.int8)
        extra = rng.poisson(s.extra_sessions_first_day, size=n_new)

        returning = self._returning_users(rng, factor, k)
        self._join_pool(k, klass, propensity, new_ids)  # only now: today's new users
        self.home_channel.append(home)
        self.relative_propensity.append(propensity / self.rates[klass])

        users = np.concatenate([np.repeat(new_ids, 1 + extra), *returning])
        n = len(users)
        slot = _pick(rng, slot_cum, n)
        instant = np.minimum(slot_starts[slot] + rng.integers(0, _HOUR, size=n), m1 - 1)
        home_ch = self.home_channel.view()[users]
        other_ch = _pick(rng, self.mix_cum, n).astype(np.int8)
        loyal, kind, left_open = rng.random((3, n))
        channel = np.where(loyal < s.channel_loyalty, home_ch, other_ch)
        interactive = kind >= s.non_interactive_share
        open_seconds = np.where(
            left_open < s.long_open_share,
            rng.integers(_HOUR, _DAY, size=n),
            60 + rng.exponential(600.0, size=n).astype(np.int64),
        ).astype(np.int32)

        outcome_rng = np.random.default_rng(_day_seed(s.id, day, salt="|outcome"))
        r = self.relative_propensity.view()[users]
        outcome = draw_outcomes(
            outcome_rng, self.outcome_w, channel, slot_hour[slot], r, interactive
        )

        order = np.argsort(instant, kind="stable")
        offset = len(self.cols["instant"])
        users = users[order]
        # first session of each new user: their earliest one today
        is_new = users >= first_id
        new_users_sorted, first_idx = np.unique(users[is_new], return_index=True)
        positions = np.flatnonzero(is_new)[first_idx] + offset
        first = np.empty(n_new, dtype=np.int64)
        first[new_users_sorted - first_id] = positions
        self.first_session.append(first)

        self.cols["instant"].append(instant[order])
        self.cols["user"].append(users)
        self.cols["channel"].append(channel[order])
        self.cols["interactive"].append(interactive[order])
        self.cols["open_seconds"].append(open_seconds[order])
        self.cols["outcome"].append(outcome[order])
        self.day_starts.append(np.array([offset + n], dtype=np.int64))


# keyed by the stream itself (a frozen dataclass), so a custom stream never shares a demo
# stream's cache just because it reuses its id
_GENERATORS: dict[DemoStream, _Generator] = {}
_LOCAL: dict[tuple[DemoStream, str], LocalView] = {}
_CACHE_LOCK = threading.Lock()


def _generator(stream: DemoStream) -> _Generator:
    with _CACHE_LOCK:
        gen = _GENERATORS.get(stream)
        if gen is None:
            gen = _GENERATORS[stream] = _Generator(stream)
        return gen


def session_arrays(stream: DemoStream | str, through: dt.date) -> SessionArrays:
    """The stream's log as arrays, generated (at least) through home-zone day ``through``.

    Cached per process and extended incrementally; the snapshot may cover more days than asked
    (a prefix of the log never changes). Days before 2025-01-01 have no sessions.

    Returns
    -------
    SessionArrays
    """
    stream = get_stream(stream)
    return _generator(stream).extend_to(max(through, LOG_START - dt.timedelta(days=1)))


def clear_cache() -> None:
    """Forget every generated log and local view (the next query generates from cold)."""
    with _CACHE_LOCK:
        _GENERATORS.clear()
        _LOCAL.clear()


# -- local wall clock, per query zone --------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LocalView:
    """Every session's local calendar day and wall-clock hour in one zone.

    Attributes
    ----------
    day : ndarray of int32
        Local calendar day as days since 1970-01-01.
    hour : ndarray of int8
        Local wall-clock hour 0..23 (a repeated fall-back hour maps to the same number).
    """

    day: np.ndarray
    hour: np.ndarray


def _to_local(instants: np.ndarray, zone: zoneinfo.ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    idx = pd.DatetimeIndex(instants.astype("datetime64[s]")).tz_localize("UTC").tz_convert(zone)
    wall = idx.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)
    return (wall // _DAY).astype(np.int32), ((wall % _DAY) // _HOUR).astype(np.int8)


def local_view(arrays: SessionArrays, tz: str) -> LocalView:
    """Local day and hour in ``tz`` of every session in ``arrays`` (cached, extended lazily)."""
    key = (arrays.stream, tz)
    n = len(arrays)
    with _CACHE_LOCK:
        cached = _LOCAL.get(key)
    if cached is not None and len(cached.day) >= n:
        return cached
    have = 0 if cached is None else len(cached.day)
    day, hour = _to_local(arrays.instant[have:n], zoneinfo.ZoneInfo(tz))
    if cached is not None:
        day = np.concatenate([cached.day, day])
        hour = np.concatenate([cached.hour, hour])
    view = LocalView(day=day, hour=hour)
    with _CACHE_LOCK:
        current = _LOCAL.get(key)
        if current is None or len(current.day) < n:
            _LOCAL[key] = view
    return view


# -- the log as a frame ----------------------------------------------------------------------


def session_log(
    stream: DemoStream | str, through: dt.date | str, *, now: float | None = None
) -> pd.DataFrame:
    """The stream's session log from 2025-01-01 through home-zone day ``through``.

    Parameters
    ----------
    stream : DemoStream or str
        A demo stream or its id.
    through : date or ``YYYY-MM-DD``
        The last home-zone day to include.
    now : float, optional
        Epoch seconds of "now": sessions after it are left out and ``status`` is as of then.
        Default: no cut-off, every session closed.

    Returns
    -------
    pandas.DataFrame
        One row per session, in time order: ``user_id`` (int64), ``instant``
        (``datetime64[s, UTC]``), ``channel`` (str), ``conversation_type``
        (``"interactive"``/``"non_interactive"``), ``status`` (``"active"``/``"closed"``),
        ``outcome`` (its ``containmentType``, :mod:`engagement_kit.demo.outcomes`).
    """
    if isinstance(through, str):
        through = dt.date.fromisoformat(through)
    stream = get_stream(stream)
    arrays = session_arrays(stream, through)
    k = (through - LOG_START).days + 1
    stop = int(arrays.day_starts[min(max(k, 0), len(arrays.day_starts) - 1)])
    instant = arrays.instant[:stop]
    keep = np.ones(stop, dtype=bool) if now is None else instant <= now
    active = (
        np.zeros(stop, dtype=bool) if now is None else (now < instant + arrays.open_seconds[:stop])
    )
    names = np.array(stream.channel_names, dtype=object)
    return pd.DataFrame(
        {
            "user_id": arrays.user[:stop][keep],
            "instant": pd.DatetimeIndex(instant[keep].astype("datetime64[s]")).tz_localize("UTC"),
            "channel": names[arrays.channel[:stop][keep]],
            "conversation_type": np.where(
                arrays.interactive[:stop][keep], "interactive", "non_interactive"
            ),
            "status": np.where(active[keep], "active", "closed"),
            "outcome": np.array(OUTCOMES, dtype=object)[arrays.outcome[:stop][keep]],
        }
    )
