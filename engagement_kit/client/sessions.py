"""The Sessions History API (``getSessions``): one row per session, as a tidy frame.

:func:`fetch_sessions` (also :meth:`EngagementClient.fetch_sessions`) follows the recommended
algorithm of the API notes, because so much of the API is undocumented:

1. The requested local days (``start``..``end`` in ``tz``) become a UTC range, covered by
   windows of ``window_days`` (< 7; default 6) on a fixed UTC grid (so two fetches of
   overlapping ranges ask for the same windows and the store serves both). Each window is sent
   as full UTC timestamps (``2025-12-01T00:00:00.000Z`` .. ``2025-12-06T23:59:59.999Z``), never
   as dates, so neither the 7-day rule nor the "is a date-only dateTo inclusive" question
   matters.
2. Each window is paged with ``skip``/``limit`` until ``moreAvailable`` is false or a page is
   empty; ``skip`` advances by the sessions actually received (a server may clamp ``limit``).
3. ``containmentType`` is left out by default; when an answer has sessions without it (or with
   ``containment="each"``) the window is asked three times, once per value.
4. Everything is merged, de-duplicated by ``sessionId`` (a window that reaches "now" or an
   overlap-selecting server repeats sessions), kept only when it *starts* in the range and
   sorted by start.

Requests go through the client's JWT, retries and rate limiter: by default under the stream's
own key, so getSessions and the trend API share one budget per bot (``shared_rate_limit=False``
gives getSessions its own). A window that ended more than ``settle_hours`` ago is *closed*: its
sessions are kept for good in the store's ``session_windows`` table (see
:mod:`engagement_kit.metrics.first_seen`) and never asked again; Ctrl-C during a long backfill
returns what was fetched (the closed windows stay stored, so the next run resumes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import pandas as pd

from engagement_kit.config.query import parse_date
from engagement_kit.errors import AuthError, ConfigError, InvalidQueryError, ResponseFormatError

if TYPE_CHECKING:
    from engagement_kit.client import EngagementClient

__all__ = [
    "CONTAINMENT_TYPES",
    "SESSIONS_PATH",
    "SESSION_COLUMNS",
    "SessionsConfig",
    "Window",
    "fetch_sessions",
    "parse_sessions_page",
    "sessions_frame",
    "windows_for",
]

logger = logging.getLogger("engagement_kit.client.sessions")

#: The per-bot endpoint; ``{stream_id}`` is percent-encoded.
SESSIONS_PATH = "/api/public/bot/{stream_id}/getSessions"
#: The documented ``containmentType`` values, in the platform's spelling.
CONTAINMENT_TYPES = ("selfService", "dropOff", "agent")
#: The tidy frame's columns, in order.
SESSION_COLUMNS = (
    "session_id",
    "user_id",
    "channel",
    "start",
    "end",
    "session_type",
    "session_status",
    "containment",
    "messages",
    "tasks",
    "is_developer",
)
_MS = dt.timedelta(milliseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SCOPE_HINT = (
    'getSessions needs the API scope "Bot Sessions" (Admin Console apps: "Bot Analytics > Bot '
    'Sessions") on the same JWT app as "User Engagement Trend", and the scope change must be '
    "published."
)


@dataclass(frozen=True)
class SessionsConfig:
    """The client's answers to the API's unknowns (see the module docstring).

    Attributes
    ----------
    window_days : float
        Width of one request's UTC window; must stay under 7 (the platform refuses 7 or more).
    page_size : int
        ``limit`` per page (the maximum is unknown; samples use 100).
    containment : {"auto", "omit", "each"}
        ``"auto"``: leave ``containmentType`` out and fall back to one call per value when the
        answer lacks the field; ``"omit"``: never ask per value; ``"each"``: always ask per value.
    shared_rate_limit : bool
        ``True``: one budget per bot shared with the trend API (the safe default); ``False``: a
        budget of its own (if the platform counts per API).
    settle_hours : float
        A window is closed (stored for good) once it ended this long ago: sessions still open
        at its end have closed by then.
    """

    window_days: float = 6.0
    page_size: int = 100
    containment: Literal["auto", "omit", "each"] = "auto"
    shared_rate_limit: bool = True
    settle_hours: float = 24.0

    def __post_init__(self) -> None:
        if not isinstance(self.window_days, int | float) or not 0 < self.window_days < 7:
            raise ConfigError(
                f"window_days: {self.window_days!r} must be more than 0 and less than 7 "
                "(the platform refuses windows of 7 days or more)"
            )
        if isinstance(self.page_size, bool) or not isinstance(self.page_size, int):
            raise ConfigError(f"page_size: {self.page_size!r} must be a whole number >= 1")
        if self.page_size < 1:
            raise ConfigError(f"page_size: {self.page_size!r} must be a whole number >= 1")
        if self.containment not in ("auto", "omit", "each"):
            raise ConfigError(f"containment: {self.containment!r} must be 'auto', 'omit' or 'each'")
        if not isinstance(self.settle_hours, int | float) or self.settle_hours < 0:
            raise ConfigError(f"settle_hours: {self.settle_hours!r} must be a number >= 0")


@dataclass(frozen=True)
class Window:
    """One request window ``[start, end)`` in UTC (sent as ``start`` .. ``end - 1 ms``)."""

    start: dt.datetime
    end: dt.datetime

    def body(self) -> dict[str, str]:
        """``dateFrom``/``dateTo`` as full UTC timestamps with milliseconds."""
        return {"dateFrom": _stamp(self.start), "dateTo": _stamp(self.end - _MS)}

    def closed(self, now: dt.datetime, settle_hours: float) -> bool:
        """Whether nothing in the window can change any more."""
        return self.end + dt.timedelta(hours=settle_hours) <= now


def _stamp(when: dt.datetime) -> str:
    return (
        when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    )


def windows_for(start: dt.datetime, end: dt.datetime, window_days: float) -> list[Window]:
    """Grid windows (anchored at 1970-01-01 UTC) covering the UTC range ``[start, end)``."""
    width = dt.timedelta(days=window_days)
    first = math.floor((start - _EPOCH) / width)
    last = math.ceil((end - _EPOCH) / width)
    return [Window(_EPOCH + k * width, _EPOCH + (k + 1) * width) for k in range(first, last)]


# -- parsing ---------------------------------------------------------------------------------
def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1) and isinstance(value, int):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "0", "1"):
        return value.strip().lower() in ("true", "1")
    raise ResponseFormatError(f"expected true/false or 1/0, got {value!r}", field=where)


def _count(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ResponseFormatError(f"expected a count, got {value!r}", field=where)
    return int(value)


def _text(value: object, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ResponseFormatError(f"expected text, got {value!r}", field=where)
    return value.strip()


def _containment(value: object, where: str) -> str | None:
    if value is None:
        return None
    text = _text(value, where)
    assert text is not None
    for known in CONTAINMENT_TYPES:  # the prose once writes 'selfservice'
        if text.lower() == known.lower():
            return known
    return text


def session_row(raw: object, where: str = "sessions[]") -> list[Any]:
    """One raw session object as a row of the compact stored form (see :func:`sessions_frame`).

    Parsed by name, extra keys ignored; ``sessionStatus``, ``containmentType``, ``end_time``,
    the counts and ``isDeveloper`` may be missing (active sessions, older platforms).
    """
    if not isinstance(raw, Mapping):
        raise ResponseFormatError(f"expected an object, got {type(raw).__name__}", field=where)
    start = _text(raw.get("start_time"), f"{where}.start_time")
    end = _text(raw.get("end_time"), f"{where}.end_time", required=False)
    kind = _text(raw.get("sessionType"), f"{where}.sessionType", required=False)
    status = _text(raw.get("sessionStatus"), f"{where}.sessionStatus", required=False)
    return [
        _text(raw.get("sessionId"), f"{where}.sessionId"),
        _text(raw.get("userId"), f"{where}.userId"),
        (_text(raw.get("channel"), f"{where}.channel") or "").lower(),
        start,
        end,
        kind.lower() if kind else None,
        status.lower() if status else None,
        _containment(raw.get("containmentType"), f"{where}.containmentType"),
        _count(raw.get("noOfMessagesExchanged"), f"{where}.noOfMessagesExchanged"),
        _count(raw.get("noOfTasksExecuted"), f"{where}.noOfTasksExecuted"),
        _bool(raw.get("isDeveloper", False), f"{where}.isDeveloper"),
    ]


def parse_sessions_page(text: str | bytes | Mapping[str, Any]) -> tuple[list[list[Any]], bool]:
    """One getSessions answer → (rows in the compact form, ``moreAvailable``).

    Raises
    ------
    ResponseFormatError
        Not JSON, not an object (e.g. an encrypted payload), or a session without its id,
        user or start time.
    """
    if isinstance(text, Mapping):
        body: Any = text
    else:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ResponseFormatError(
                f"the getSessions answer is not JSON ({exc}); if the app enforces payload "
                "encryption, turn it off for this app (encrypted answers are not supported)"
            ) from None
    if not isinstance(body, Mapping) or "sessions" not in body:
        keys = ", ".join(sorted(body)[:5]) if isinstance(body, Mapping) else type(body).__name__
        raise ResponseFormatError(
            f"the getSessions answer has no 'sessions' list (got {keys}); an encrypted payload "
            "(an app that enforces payload encryption) is not supported",
            field="sessions",
        )
    sessions = body["sessions"]
    if sessions is None:
        sessions = []
    if not isinstance(sessions, list):
        raise ResponseFormatError("expected a list", field="sessions")
    more = body.get("moreAvailable", False)
    if not isinstance(more, bool):
        more = _bool(more, "moreAvailable")
    rows = [session_row(raw, f"sessions[{i}]") for i, raw in enumerate(sessions)]
    return rows, more


def sessions_frame(rows: Iterable[list[Any]], *, tz: str = "UTC") -> pd.DataFrame:
    """Rows of the compact form → the tidy frame (:data:`SESSION_COLUMNS`), times in ``tz``.

    Sorted by start (then id); ``end`` is ``NaT`` when the platform gave none (active sessions);
    ``session_status`` and ``containment`` may be ``None``; ``messages``/``tasks`` are ``Int64``.
    """
    frame = pd.DataFrame(list(rows), columns=list(SESSION_COLUMNS))
    for name in ("start", "end"):
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").dt.tz_convert(tz)
    if frame["start"].isna().any():
        raise ResponseFormatError("a session has no readable start_time", field="start_time")
    for name in ("messages", "tasks"):
        frame[name] = frame[name].astype("Float64").astype("Int64")
    frame["is_developer"] = frame["is_developer"].astype(bool)
    for name in ("session_id", "user_id", "channel", "session_type"):
        frame[name] = frame[name].astype(object)
    frame = frame.sort_values(["start", "session_id"], kind="stable", ignore_index=True)
    return frame


# -- fetching --------------------------------------------------------------------------------
def _local_range(
    start: dt.date | str, end: dt.date | str, tz: str
) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    first = parse_date(start, field="start")
    last = parse_date(end, field="end")
    if first > last:
        raise InvalidQueryError(
            f"start {first} is after end {last}; give the earlier day first", field="start"
        )
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidQueryError(
            f"tz: {tz!r} is not an IANA time zone; use a name such as 'Asia/Kolkata' or 'UTC'",
            field="tz",
        ) from None
    lo = dt.datetime.combine(first, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return first, last, lo, hi.astimezone(dt.UTC)


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]getSessions[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("windows, {task.fields[sessions]} sessions"),
        TimeRemainingColumn(),
        transient=True,
    )
    bar.start()
    bar.add_task("", total=total, sessions=0)
    return bar


def _fetch_window(
    client: EngagementClient,
    stream_id: str,
    window: Window,
    config: SessionsConfig,
) -> list[list[Any]]:
    """Every session of one window, paged and (if needed) asked once per containment type."""
    url = client.host + SESSIONS_PATH.format(stream_id=quote(stream_id, safe=""))
    key = stream_id if config.shared_rate_limit else f"{stream_id}#getSessions"

    def pages(containment: str | None) -> list[list[Any]]:
        full_url = url + (f"?containmentType={containment}" if containment else "")
        rows: list[list[Any]] = []
        skip = 0
        while True:
            body = {"skip": skip, "limit": config.page_size, **window.body()}
            describe = f"getSessions {stream_id} {body['dateFrom']}..{body['dateTo']} skip {skip}"
            try:
                text = client.post(full_url, limiter_key=key, describe=describe, body=body)
            except AuthError as exc:
                raise AuthError(
                    exc.message, status=exc.status, url=exc.url, hint=_SCOPE_HINT
                ) from exc
            try:
                page, more = parse_sessions_page(text)
            except ResponseFormatError as exc:
                raise ResponseFormatError(f"{exc} ({describe})", field=exc.field) from exc
            rows.extend(page)
            skip += len(page)
            if not more or not page:
                return rows

    if config.containment == "each":
        return [row for value in CONTAINMENT_TYPES for row in pages(value)]
    rows = pages(None)
    # active sessions may lack the field (unknown); a closed one without it means the platform
    # only labels sessions when asked per type
    if config.containment == "auto" and any(
        row[7] is None and (row[6] == "closed" or (row[6] is None and row[4] is not None))
        for row in rows
    ):
        logger.info(
            "getSessions %s: sessions without containmentType; asking once per type", stream_id
        )
        return [row for value in CONTAINMENT_TYPES for row in pages(value)]
    return rows


def fetch_sessions(
    client: EngagementClient,
    stream_id: str,
    start: dt.date | str,
    end: dt.date | str,
    *,
    tz: str = "UTC",
    config: SessionsConfig | None = None,
    refresh: bool = False,
    progress: bool | None = None,
    cache: Any = None,
) -> pd.DataFrame:
    """Every session of ``stream_id`` that started on the local days ``start``..``end`` in ``tz``.

    Parameters
    ----------
    client : EngagementClient
        Its host, JWT, retries and rate limiter are used.
    stream_id : str
    start, end : date or 'YYYY-MM-DD'
        First and last local day in ``tz`` (both included).
    tz : str
        IANA zone of the days and of the frame's ``start``/``end``.
    config : SessionsConfig, optional
        Window, page size, containment and rate-limit settings (default: the client's
        ``sessions_config`` option, as the demo client has, else
        ``SessionsConfig()``).
    refresh : bool
        Ask the platform again even for stored (closed) windows.
    progress : bool, optional
        Show a progress bar; default: when more than 3 windows must be asked.
    cache : SessionCache, None or False
        Where closed windows are kept; default: a :class:`~engagement_kit.metrics.first_seen.SessionCache`
        on the client's store file (``False``: none).

    Returns
    -------
    pandas.DataFrame
        :data:`SESSION_COLUMNS`, one row per session, sorted by start. ``attrs``: ``stream_id``,
        ``tz``, ``start``, ``end``, ``complete`` (``False`` after Ctrl-C), ``windows``,
        ``requested_windows``, ``earliest`` (the earliest session start received, or ``None``).
    """
    from engagement_kit.store.session_windows import SessionCache

    config = config or client.sessions_config or SessionsConfig()
    first, last, lo, hi = _local_range(start, end, tz)
    if not isinstance(stream_id, str) or not stream_id.strip():
        raise InvalidQueryError("stream_id: give the app's stream id (st-…)", field="stream_id")
    if cache is None:
        cache = SessionCache(client.store.location) if client.store is not None else None
    elif cache is False:
        cache = None
    now = client.now()
    windows = [w for w in windows_for(lo, hi, config.window_days) if w.start <= now]
    found: dict[Window, list[list[Any]]] = {}
    if cache is not None and not refresh:
        found = cache.get_windows(client.host, stream_id, windows, config.window_days)
    todo = [w for w in windows if w not in found]
    show = progress if progress is not None else len(todo) > 3
    complete = _ask_windows(client, stream_id, todo, found, config, cache, show=show)
    frame = _sessions_between(windows, found, lo, hi, tz)
    frame.attrs.update(
        stream_id=stream_id,
        tz=tz,
        start=first.isoformat(),
        end=last.isoformat(),
        complete=complete,
        windows=len(windows),
        requested_windows=len(todo),
        earliest=frame["start"].min().isoformat() if len(frame) else None,
    )
    return frame


def _ask_windows(
    client: EngagementClient,
    stream_id: str,
    todo: Sequence[Window],
    found: dict[Window, list[list[Any]]],
    config: SessionsConfig,
    cache: Any,
    *,
    show: bool,
) -> bool:
    """Ask the platform for each window of ``todo`` into ``found``, storing the closed ones;
    ``False`` when Ctrl-C stopped it (what was received is kept)."""
    bar = _progress(show, len(todo))
    received = sum(len(rows) for rows in found.values())
    try:
        for window in todo:
            rows = _fetch_window(client, stream_id, window, config)
            found[window] = rows
            received += len(rows)
            if cache is not None and window.closed(client.now(), config.settle_hours):
                cache.put_window(client.host, stream_id, window, config.window_days, rows)
            if bar is not None:
                bar.update(bar.task_ids[0], advance=1, sessions=received)
    except KeyboardInterrupt:
        logger.warning(
            "getSessions %s: interrupted after %d of %d windows; the closed ones are stored, "
            "run again to resume",
            stream_id,
            sum(w in found for w in todo),
            len(todo),
        )
        return False
    finally:
        if bar is not None:
            bar.stop()
    return True


def _sessions_between(
    windows: Sequence[Window],
    found: dict[Window, list[list[Any]]],
    lo: dt.datetime,
    hi: dt.datetime,
    tz: str,
) -> pd.DataFrame:
    """The windows' sessions, each once, that started in ``[lo, hi)``, with times in ``tz``."""
    unique: dict[str, list[Any]] = {}
    for window in windows:
        for row in found.get(window, ()):
            unique.setdefault(row[0], row)
    frame = sessions_frame(unique.values(), tz="UTC")
    frame = frame[(frame["start"] >= lo) & (frame["start"] < hi)].reset_index(drop=True)
    for name in ("start", "end"):
        frame[name] = frame[name].dt.tz_convert(tz)
    return frame


def with_config(config: SessionsConfig | None, **changes: Any) -> SessionsConfig:
    """``config`` (or the defaults) with some settings changed."""
    return dataclasses.replace(config or SessionsConfig(), **changes)
