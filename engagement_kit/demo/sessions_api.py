"""The demo platform's Sessions History API (``getSessions``), served from the session log.

The sessions are the very rows that :mod:`engagement_kit.demo.trend` counts, so the two APIs
agree by construction: every user's daily unique / new / returning status recomputed from
getSessions equals the trend answer (developer sessions aside: they exist only here, as on the
platform, whose dashboards leave them out).

Each log row ``i`` becomes one session, deterministically:

* ``sessionId`` 24 hex digits (8 of the start's epoch seconds, like a Mongo ObjectId, then ``i``);
  ``userId`` ``u-<8 hex of the stream>-0000-5000-8000-<12 hex of the user number>``;
* ``start_time`` the log instant plus ``i``-derived milliseconds; ``end_time`` start + open time;
* ``containmentType`` the log's outcome (:data:`engagement_kit.demo.outcomes.OUTCOMES`: its mix
  depends on the stream, channel, hour and the user's return propensity; ``selfService`` for
  non-interactive sessions); message and task counts follow;
* every ``developer_every``-th row also has a developer session (``isDeveloper`` true) by a
  developer user who never appears in the trend log.

Every unknown of the API notes is a switch of :class:`SessionsSwitches`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from engagement_kit.demo.outcomes import OUTCOMES
from engagement_kit.demo.sessions import DemoStream, session_arrays

__all__ = ["SESSIONS_PATH", "SessionsHttpError", "SessionsSwitches", "sessions_answer"]

SESSIONS_PATH = re.compile(r"/api/public/bot/(?P<stream>[^/]+)/getSessions/?")
_CONTAINMENT = OUTCOMES
_DAY_MS = 86_400_000
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


class SessionsHttpError(Exception):
    """An error answer of getSessions (status, message)."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg


@dataclass(frozen=True)
class SessionsSwitches:
    """How the demo getSessions answers where the platform's docs are silent.

    Attributes
    ----------
    max_limit : int
        Largest page (``limit``) served.
    over_limit : {"clamp", "error"}
        A ``limit`` above ``max_limit``: serve ``max_limit`` sessions, or answer 400.
    default_limit : int
        Page size when ``limit`` is missing.
    seven_days_ok : bool
        Whether a window of exactly 7 days is accepted (more is always refused).
    date_only_to : {"end_of_day", "midnight"}
        What a date-only ``dateTo`` means: that whole day, or its first instant.
    select : {"start", "overlap"}
        A window selects the sessions that start in it, or every session overlapping it.
    omitted_containment : {"all", "unlabelled"}
        Without ``containmentType``: every session with the field, or every session without it.
    active_end_time : {"missing", "null", "last_activity"}
        ``end_time`` of an active session.
    active_labels : bool
        Whether active sessions carry ``containmentType`` and ``sessionStatus``.
    developer_as : {"bool", "int"}
        ``isDeveloper`` as ``true``/``false`` or ``1``/``0``.
    developer_every : int or None
        One developer session per this many log rows (``None``: none).
    history_days : int or None
        How far back the API reaches (``None``: the whole log).
    shared_rate_limit : bool
        Whether getSessions counts against the same per-bot budget as the trend API.
    window_error_status : int
        The status of the 7-day error.
    """

    max_limit: int = 100
    over_limit: Literal["clamp", "error"] = "clamp"
    default_limit: int = 100
    seven_days_ok: bool = False
    date_only_to: Literal["end_of_day", "midnight"] = "end_of_day"
    select: Literal["start", "overlap"] = "start"
    omitted_containment: Literal["all", "unlabelled"] = "all"
    active_end_time: Literal["missing", "null", "last_activity"] = "missing"
    active_labels: bool = False
    developer_as: Literal["bool", "int"] = "bool"
    developer_every: int | None = 50
    history_days: int | None = None
    shared_rate_limit: bool = True
    window_error_status: int = 400


def _stream_hex(stream: DemoStream) -> str:
    return hashlib.sha256(stream.id.encode()).hexdigest()[:8]


def user_ids(stream: DemoStream, users: np.ndarray) -> list[str]:
    """The platform ids (``u-…``) of demo user numbers."""
    prefix = f"u-{_stream_hex(stream)}-0000-5000-8000-"
    return [f"{prefix}{int(u):012x}" for u in users]


def _parse_when(value: object, field: str, *, is_to: bool, switches: SessionsSwitches) -> int:
    """A ``dateFrom``/``dateTo`` value as epoch milliseconds."""
    if not isinstance(value, str):
        raise SessionsHttpError(
            400, f"Invalid {field}: give YYYY-MM-DD or YYYY-MM-DDThh:mm:ss.sssZ"
        )
    text = value.strip()
    try:
        if _STAMP.fullmatch(text):
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return round(when.timestamp() * 1000)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise SessionsHttpError(
            400, f"Invalid {field} {text[:40]!r}: give YYYY-MM-DD or YYYY-MM-DDThh:mm:ss.sssZ"
        ) from None
    ms = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
    if is_to and switches.date_only_to == "end_of_day":
        ms += _DAY_MS - 1
    return ms


def _int(body: dict[str, Any], names: tuple[str, ...], default: int) -> int:
    for name in names:
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SessionsHttpError(400, f"Invalid {name} {value!r}: give a whole number >= 0")
            return value
    return default


def _iso(ms: np.ndarray) -> list[str]:
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
    return [t + "Z" for t in text]


def sessions_answer(
    stream: DemoStream,
    body: dict[str, Any],
    containment: str | None,
    *,
    now: float,
    switches: SessionsSwitches,
) -> dict[str, Any]:
    """The getSessions answer for one request (raises :class:`SessionsHttpError`)."""
    sw = switches
    now_ms = int(now * 1000)
    lo, hi, skip, limit = _requested_window(body, containment, now, sw)

    through = dt.datetime.fromtimestamp(max(hi, 0) / 1000, dt.UTC).date() + dt.timedelta(days=1)
    arrays = session_arrays(stream, through)
    reach = _DAY_MS if sw.select == "overlap" else 0  # sessions stay open for < 1 day
    a = int(np.searchsorted(arrays.instant, (lo - reach) // 1000 - 1, side="left"))
    b = int(np.searchsorted(arrays.instant, hi // 1000 + 1, side="right"))
    idx = np.arange(a, b, dtype=np.int64)
    start_ms = arrays.instant[a:b] * 1000 + (idx * 7919) % 1000
    open_ms = arrays.open_seconds[a:b].astype(np.int64) * 1000
    active = now_ms < start_ms + open_ms
    if sw.select == "overlap":
        end_seen = np.where(active, now_ms, start_ms + open_ms)
        keep = (start_ms <= hi) & (end_seen >= lo)
    else:
        keep = (start_ms >= lo) & (start_ms <= hi)
    keep &= start_ms <= now_ms
    interactive = arrays.interactive[a:b]
    h = (idx * 2654435761) % (2**32) % 100
    kind = arrays.outcome[a:b]
    if containment is not None:
        keep &= kind == _CONTAINMENT.index(containment)
    session_type = body.get("sessionType")
    if isinstance(session_type, str) and session_type.lower() in ("interactive", "non-interactive"):
        keep &= interactive == (session_type.lower() == "interactive")
    developer = np.zeros(len(idx), dtype=bool)
    if sw.developer_every:
        developer = idx % sw.developer_every == 0
    user_filter = body.get("userId")

    # one record per (row, is this the developer copy); newest first
    rows = np.flatnonzero(keep)
    dev_rows = np.flatnonzero(keep & developer)
    pos = np.concatenate([rows, dev_rows])
    is_dev = np.concatenate([np.zeros(len(rows), bool), np.ones(len(dev_rows), bool)])
    dev_start = start_ms + 1  # the developer's test session starts a millisecond later
    starts = np.where(is_dev, dev_start[pos], start_ms[pos])
    if isinstance(user_filter, str):
        wanted = np.array(
            [u == user_filter for u in _user_texts(stream, arrays.user[a:b][pos], is_dev)]
        )
        pos, is_dev, starts = pos[wanted], is_dev[wanted], starts[wanted]
    order = np.lexsort((-pos, -starts))  # newest first
    total = len(order)
    page = order[skip : skip + limit]
    pos, is_dev, starts = pos[page], is_dev[page], starts[page]
    users = _user_texts(stream, arrays.user[a:b][pos], is_dev)
    sessions = []
    for p, dev, start_text, end_text, user in zip(
        pos.tolist(), is_dev.tolist(), _iso(starts), _iso(starts + open_ms[pos]), users, strict=True
    ):
        record = _session_record(
            stream,
            a + p,
            dev,
            start_text,
            end_text,
            user,
            is_active=bool(active[p]),
            interactive=bool(interactive[p]),
            kind=int(kind[p]),
            h=int(h[p]),
            containment=containment,
            now_ms=now_ms,
            sw=sw,
            arrays=arrays,
        )
        sessions.append(record)
    return {"total": total, "moreAvailable": skip + len(page) < total, "sessions": sessions}


def _session_record(
    stream: DemoStream,
    i: int,
    dev: bool,
    start_text: str,
    end_text: str,
    user: str,
    *,
    is_active: bool,
    interactive: bool,
    kind: int,
    h: int,
    containment: str | None,
    now_ms: int,
    sw: SessionsSwitches,
    arrays: Any,
) -> dict[str, Any]:
    """One session of the answer, as the platform writes it (``i``: its row in the log)."""
    record: dict[str, Any] = {
        "sessionId": f"{int(arrays.instant[i]) & 0xFFFFFFFF:08x}{'ff' if dev else '00'}{i:014x}",
        "botId": stream.id,
        "channel": stream.channel_names[int(arrays.channel[i])],
        "userId": user,
        "start_time": start_text,
    }
    if not is_active:
        record["end_time"] = end_text
    elif sw.active_end_time == "null":
        record["end_time"] = None
    elif sw.active_end_time == "last_activity":
        record["end_time"] = _iso(np.array([now_ms]))[0]
    record["session_lang"] = ["en"]
    record["sessionType"] = "interactive" if interactive else "non-interactive"
    record["isDeveloper"] = int(dev) if sw.developer_as == "int" else dev
    labelled = (not is_active or sw.active_labels) and not (
        containment is None and sw.omitted_containment == "unlabelled"
    )
    if not is_active or sw.active_labels:
        record["sessionStatus"] = "active" if is_active else "closed"
    record["tags"] = {"userTags": [], "sessionTags": []}
    record["noOfMessagesExchanged"] = 1 if not interactive else 2 + h % 11
    record["noOfTasksExecuted"] = 0 if kind == 1 else 1 + h % 2
    if labelled:
        record["containmentType"] = _CONTAINMENT[kind]
    return record


def _requested_window(
    body: dict[str, Any], containment: str | None, now: float, sw: SessionsSwitches
) -> tuple[int, int, int, int]:
    """The request's window in epoch milliseconds and its page, ``(lo, hi, skip, limit)``;
    the platform's refusals as :class:`SessionsHttpError`."""
    now_ms = int(now * 1000)
    has_from, has_to = "dateFrom" in body, "dateTo" in body
    lo = hi = 0
    if has_from:
        lo = _parse_when(body["dateFrom"], "dateFrom", is_to=False, switches=sw)
    if has_to:
        hi = _parse_when(body["dateTo"], "dateTo", is_to=True, switches=sw)
    if not has_from and not has_to:
        today = dt.datetime.fromtimestamp(now, dt.UTC).date()
        lo = int(dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
        hi = lo + _DAY_MS - 1
    elif not has_from:
        lo = hi - 7 * _DAY_MS
    elif not has_to:
        hi = lo + 7 * _DAY_MS
    span = hi - lo
    if span < 0:
        raise SessionsHttpError(400, "dateFrom is after dateTo; give the earlier date first.")
    if span > 7 * _DAY_MS or (span == 7 * _DAY_MS and not sw.seven_days_ok):
        raise SessionsHttpError(
            sw.window_error_status,
            "The gap between dateFrom and dateTo must be less than 7 days.",
        )
    if containment is not None and containment not in _CONTAINMENT:
        raise SessionsHttpError(
            400, f"Invalid containmentType {containment[:32]!r}: use dropOff, selfService or agent."
        )
    skip = _int(body, ("skip", "offset"), 0)
    limit = _int(body, ("limit",), sw.default_limit)
    if limit > sw.max_limit:
        if sw.over_limit == "error":
            raise SessionsHttpError(400, f"limit {limit} is above the maximum of {sw.max_limit}.")
        limit = sw.max_limit
    if sw.history_days is not None:
        lo = max(lo, now_ms - sw.history_days * _DAY_MS)
    hi = min(hi, now_ms)
    return lo, hi, skip, limit


def _user_texts(stream: DemoStream, users: np.ndarray, is_dev: np.ndarray) -> list[str]:
    texts = user_ids(stream, users)
    dev_id = f"u-{_stream_hex(stream)}-0000-5000-8000-de0e10000000"
    return [dev_id if d else t for t, d in zip(texts, is_dev.tolist(), strict=True)]
