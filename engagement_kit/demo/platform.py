"""The demo platform: the User Engagement Trend API v2 answered from the demo session logs.

:class:`DemoPlatform` turns an :class:`httpx.Request` into an :class:`httpx.Response`, so it can
back ``httpx.MockTransport(platform.handle)`` (in-process, no port) or the loopback server in
:mod:`engagement_kit.demo.server`. It behaves like the platform:

* ``POST /api/public/bot/{streamId}/v2/userEngagementTrend`` with the documented query
  parameters (``aggregation_type``, ``start_date``, ``end_date``, ``conversationType``,
  ``conversationStatus``, ``channels``, ``timeZoneOffset``); enum values are case-insensitive;
* header ``auth: <JWT>``, HS256-signed with :data:`DEMO_CLIENT_SECRET`, whose ``appId`` claim is
  :data:`DEMO_CLIENT_ID`; ``exp`` and ``nbf`` are honoured against the platform's clock, and with
  ``enforce_jti=True`` every token needs a fresh ``jti``;
* errors as ``{"errors": [{"msg": "...", "code": N}]}``: 400 bad parameters, 401 bad token, 404
  unknown stream or path, 405 not a POST, 429 past 60 requests in any rolling 60 s or 1,800 in
  any rolling hour per stream (pyrate-limiter sliding windows on the injected clock);
* every answer is compact JSON with ``Content-Type: application/json``.

Where the platform's behaviour is unknown (``NOTES.md``: "build for both possibilities") the demo
has a switch for each possibility, so the toolkit can be tested against every one; the defaults
are the most lenient reading:

* ``max_days``: the longest range one request may cover (``None``: unlimited; 92; 31). Past it
  the answer is a 400 whose message names the range and the limit;
* ``channels``: ``"list"`` accepts a comma-joined list in the ``channels`` parameter,
  ``"single"`` only one channel (a list is a 400), as the reference's "the specified channel";
* ``overlap``: whether one user may be new *and* returning in the same bucket (see
  :mod:`engagement_kit.demo.trend`);
* ``ignore_filter``: ``None`` applies and echoes every filter faithfully; ``"conversationType"``,
  ``"conversationStatus"`` or ``"channels"`` makes the platform ignore that filter (it counts
  every value and echoes ``"all"``), like a platform that does not know a filter's spelling.

The numbers and their meanings are documented in :mod:`engagement_kit.demo.trend`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import threading
import time
import warnings
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning
from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem

from engagement_kit.config.query import parse_date
from engagement_kit.demo.sessions import DEMO_STREAMS, DemoStream
from engagement_kit.demo.sessions_api import (
    SESSIONS_PATH,
    SessionsHttpError,
    SessionsSwitches,
    sessions_answer,
)
from engagement_kit.demo.trend import TrendRequest, trend_answer
from engagement_kit.errors import InvalidQueryError

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_HOST",
    "DEMO_REGIONS",
    "RATE_LIMIT_MESSAGE",
    "DemoPlatform",
    "DemoRegion",
    "error_response",
]

log = logging.getLogger(__name__)

#: The demo platform's host (``.invalid`` never resolves: only the in-process transport or the
#: loopback server can answer it).
DEMO_HOST = "https://demo.engagement-kit.invalid"
#: The demo app's client id (the JWT's ``appId``).
DEMO_CLIENT_ID = "cs-demo-engagement-kit"
#: The demo app's client secret. Public on purpose: it only opens the demo platform.
DEMO_CLIENT_SECRET = "demo-secret-engagement-kit-not-for-production"


@dataclasses.dataclass(frozen=True)
class DemoRegion:
    """One demo platform host with its own app (credentials) and the streams it serves."""

    name: str
    label: str
    host: str
    client_id: str
    client_secret: str
    stream_ids: tuple[str, ...]


#: The demo's two platforms, like a team with bots in two regions: the US host (the original
#: demo host and app) and an EU host with an app of its own. The public secrets open only the
#: demo. A demo stream's ``platform`` names its region.
DEMO_REGIONS: dict[str, DemoRegion] = {
    "us": DemoRegion(
        "us",
        "US",
        DEMO_HOST,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        ("st-demo-retail-in", "st-demo-hr-us"),
    ),
    "eu": DemoRegion(
        "eu",
        "EU",
        "https://eu.demo.engagement-kit.invalid",
        "cs-demo-engagement-kit-eu",
        "demo-eu-secret-engagement-kit-not-for-production",
        ("st-demo-it-de",),
    ),
}
#: The platform's documented message when a rate limit is hit.
RATE_LIMIT_MESSAGE = "Rate limit for this API has been reached. Please try again after some time."

_PATH = re.compile(r"/api/public/bot/(?P<stream>[^/]+)/v2/userEngagementTrend/?")
_CHANNEL = re.compile(r"[a-z0-9_.-]{1,64}")
#: parameter -> (allowed lower-cased values, how the error names them, default)
_ENUMS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "aggregation_type": (("daily", "hourly"), "daily, hourly", "hourly"),
    "conversationType": (
        ("all", "interactive", "non interactive"),
        "All, Interactive, Non Interactive",
        "all",
    ),
    "conversationStatus": (("all", "active", "closed"), "All, Active, Closed", "all"),
}
_FIRST_DAY = dt.date(1970, 1, 1)
_LAST_DAY = dt.date(2099, 12, 31)
#: The longest range one request may cover by default (ten years; the real limit is unknown).
DEFAULT_MAX_DAYS = 3660
#: The switch values for the platform's unknowns (see the module docstring).
MAX_DAYS_CHOICES: tuple[int | None, ...] = (None, 92, 31)
CHANNEL_MODES: tuple[str, ...] = ("list", "single")
IGNORABLE_FILTERS: tuple[str, ...] = ("conversationType", "conversationStatus", "channels")


class _HttpError(Exception):
    def __init__(self, status: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.headers = headers or {}


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return httpx.Response(
        status, content=content, headers={"content-type": "application/json", **(headers or {})}
    )


def error_response(status: int, msg: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """The platform's error answer: ``{"errors": [{"msg": msg, "code": status}]}``."""
    return _json_response(status, {"errors": [{"msg": msg, "code": status}]}, headers)


class DemoPlatform:
    """The demo User Engagement Trend API, answering ``httpx.Request`` objects.

    Parameters
    ----------
    clock : callable, default ``time.time``
        Returns "now" as epoch seconds: used for the data ("today" is partial, later days are
        empty, recent sessions are active), token expiry and rate limiting.
    streams : iterable of DemoStream
        The streams it knows (default :data:`DEMO_STREAMS`).
    client_id, client_secret : str
        The credentials a token must be made with.
    per_minute, per_hour : int or None
        Requests allowed per stream in any rolling 60 s / 3,600 s; ``None`` disables that one.
    windows : (float, float)
        Lengths in seconds of that "minute" and "hour" (shorter ones make fast tests).
    rate_limit : bool
        ``False`` disables rate limiting altogether.
    enforce_jti : bool
        Require a ``jti`` claim never seen before (like an app set to enforce JTI).
    max_days : int or None
        Longest range one request may cover (400 beyond); ``None``: no limit.
    channels : {"list", "single"}
        Whether ``channels`` may hold a comma-joined list or only one channel.
    overlap : bool
        Whether a user may be new and returning in the same bucket.
    ignore_filter : {None, "conversationType", "conversationStatus", "channels"}
        A filter the platform ignores (counting every value and echoing ``"all"``).
    sessions : SessionsSwitches
        How getSessions (``POST /api/public/bot/{streamId}/getSessions``, served from the same
        session log) answers where the platform's docs are silent; see
        :mod:`engagement_kit.demo.sessions_api`.
    scopes : iterable of str
        The API scopes the demo app has: "User Engagement Trend" and "Bot Sessions" (a call
        without its scope gets 401).

    Examples
    --------
    >>> platform = DemoPlatform()
    >>> http = httpx.Client(transport=httpx.MockTransport(platform.handle), base_url=DEMO_HOST)
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        streams: Iterable[DemoStream] = DEMO_STREAMS,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        per_minute: int | None = 60,
        per_hour: int | None = 1800,
        rate_limit: bool = True,
        enforce_jti: bool = False,
        max_days: int | None = DEFAULT_MAX_DAYS,
        channels: str = "list",
        overlap: bool = False,
        ignore_filter: str | None = None,
        windows: tuple[float, float] = (60.0, 3600.0),
        sessions: SessionsSwitches | None = None,
        scopes: Iterable[str] = ("User Engagement Trend", "Bot Sessions"),
    ) -> None:
        if max_days is not None and (isinstance(max_days, bool) or max_days < 1):
            raise ValueError(f"max_days must be a whole number >= 1 or None, got {max_days!r}")
        if channels not in CHANNEL_MODES:
            raise ValueError(
                f"channels must be one of {', '.join(CHANNEL_MODES)}, got {channels!r}"
            )
        if ignore_filter is not None and ignore_filter not in IGNORABLE_FILTERS:
            raise ValueError(
                f"ignore_filter must be None or one of {', '.join(IGNORABLE_FILTERS)}, "
                f"got {ignore_filter!r}"
            )
        self.clock = clock
        self.sessions = sessions if sessions is not None else SessionsSwitches()
        self.scopes = frozenset(scopes)
        self.streams = {s.id: s for s in streams}
        self.client_id = client_id
        self._secret = client_secret
        self.enforce_jti = enforce_jti
        self.max_days = max_days
        self.channel_mode = channels
        self.overlap = bool(overlap)
        self.ignore_filter = ignore_filter
        self._rates = []
        minute_ms, hour_ms = (round(w * 1000) for w in windows)
        if rate_limit and per_minute is not None:
            self._rates.append(Rate(per_minute, minute_ms))
        if rate_limit and per_hour is not None:
            self._rates.append(Rate(per_hour, hour_ms))
        self._buckets: dict[str, InMemoryBucket] = {}
        self._seen_jti: set[str] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        limits = ", ".join(f"{r.limit}/{Duration.readable(r.interval)}" for r in self._rates)
        unknowns = (
            f"max_days={self.max_days} channels={self.channel_mode} overlap={self.overlap} "
            f"ignore_filter={self.ignore_filter}"
        )
        return f"<DemoPlatform streams={list(self.streams)} limits=[{limits or 'off'}] {unknowns}>"

    # -- the entry point ----------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the ``httpx.MockTransport`` handler)."""
        try:
            return _json_response(200, self._answer(request))
        except _HttpError as exc:
            return error_response(exc.status, exc.msg, exc.headers)
        except Exception:  # a bug here must look like a platform fault, not a network one
            log.exception("the demo platform failed on %s %s", request.method, request.url.path)
            return error_response(500, "Internal Server Error")

    def _answer(self, request: httpx.Request) -> dict[str, Any]:
        """The decoded JSON body of a successful answer; raises ``_HttpError`` otherwise."""
        sessions_match = SESSIONS_PATH.fullmatch(request.url.path)
        if sessions_match is not None:
            return self._answer_sessions(request, sessions_match["stream"])
        match = _PATH.fullmatch(request.url.path)
        if match is None:
            raise _HttpError(
                404,
                f"Not found: {request.url.path}. The endpoint is "
                "POST /api/public/bot/{streamId}/v2/userEngagementTrend",
            )
        if request.method != "POST":
            raise _HttpError(
                405,
                f"Method {request.method} is not allowed on this endpoint; use POST",
                {"allow": "POST"},
            )
        now = self.clock()
        self._authenticate(request, now)
        stream = self.streams.get(match["stream"])
        if stream is None:
            raise _HttpError(
                404,
                f"Bot not found: no app with streamId {match['stream']!r} on this host. "
                "Check the App ID on the app's General Settings page.",
            )
        self._check_scope("User Engagement Trend")
        self._check_rate(stream.id, now)
        return trend_answer(self._parse(stream, request.url.params), now=now, overlap=self.overlap)

    def _answer_sessions(self, request: httpx.Request, stream_id: str) -> dict[str, Any]:
        if request.method != "POST":
            raise _HttpError(
                405, f"Method {request.method} is not allowed on getSessions; use POST",
                {"allow": "POST"},
            )  # fmt: skip
        now = self.clock()
        self._authenticate(request, now)
        stream = self._stream(stream_id)
        self._check_scope("Bot Sessions")
        shared = self.sessions.shared_rate_limit
        self._check_rate(stream.id if shared else f"{stream.id}#getSessions", now)
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise _HttpError(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _HttpError(400, "The request body must be a JSON object.")
        containment = request.url.params.get("containmentType")
        try:
            return sessions_answer(stream, body, containment, now=now, switches=self.sessions)
        except SessionsHttpError as exc:
            raise _HttpError(exc.status, exc.msg) from None

    def _stream(self, stream_id: str) -> DemoStream:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise _HttpError(
                404,
                f"Bot not found: no app with streamId {stream_id!r} on this host. "
                "Check the App ID on the app's General Settings page.",
            )
        return stream

    def _check_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _HttpError(
                401,
                f"Unauthorized: the app does not have the API scope {scope!r}; add it to the "
                "app and publish the change.",
            )

    # -- pieces ----------------------------------------------------------------------------
    def _authenticate(self, request: httpx.Request, now: float) -> None:
        token = request.headers.get("auth")
        if not token:
            hint = (
                " (found an Authorization header: this API reads the token from 'auth')"
                if "authorization" in request.headers
                else ""
            )
            raise _HttpError(
                401, "Unauthorized: the 'auth' header with a JWT is missing" + hint + "."
            )
        try:
            with warnings.catch_warnings():  # a short demo secret is the user's choice
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims = jwt.decode(
                    token,
                    self._secret,
                    algorithms=["HS256"],
                    options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
                )
        except jwt.InvalidSignatureError:
            raise _HttpError(
                401,
                "Unauthorized: the JWT signature does not match; sign it (HS256) with the "
                "app's client secret.",
            ) from None
        except jwt.InvalidTokenError:
            raise _HttpError(401, "Unauthorized: the 'auth' header is not a valid JWT.") from None
        if claims.get("appId") != self.client_id:
            raise _HttpError(
                401,
                "Unauthorized: the JWT's appId claim does not name this app; put the app's "
                "client id in 'appId'.",
            )
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is not None and (not isinstance(exp, int | float) or now >= exp):
            raise _HttpError(401, "Unauthorized: the JWT has expired; create a new one.")
        if nbf is not None and (not isinstance(nbf, int | float) or now < nbf):
            raise _HttpError(401, "Unauthorized: the JWT is not valid yet (nbf).")
        if self.enforce_jti:
            jti = claims.get("jti")
            with self._lock:
                if not isinstance(jti, str) or not jti or jti in self._seen_jti:
                    raise _HttpError(
                        401,
                        "Unauthorized: this app enforces JTI; every JWT needs a new, unique "
                        "'jti' claim.",
                    )
                self._seen_jti.add(jti)

    def _check_rate(self, stream_id: str, now: float) -> None:
        if not self._rates:
            return
        now_ms = int(now * 1000)
        with self._lock:
            bucket = self._buckets.get(stream_id)
            if bucket is None:
                bucket = self._buckets[stream_id] = InMemoryBucket(list(self._rates))
            bucket.leak(now_ms)
            allowed = bucket.put(RateItem(stream_id, now_ms))
        if not allowed:
            raise _HttpError(429, RATE_LIMIT_MESSAGE)

    def _parse(self, stream: DemoStream, params: httpx.QueryParams) -> TrendRequest:
        aggregation = _enum(params, "aggregation_type")
        conversation_type = _enum(params, "conversationType")
        conversation_status = _enum(params, "conversationStatus")
        start = _date(params, "start_date")
        end = _date(params, "end_date")
        if start > end:
            raise _HttpError(
                400,
                f"start_date {start.isoformat()} is after end_date {end.isoformat()}; "
                "start_date must not be later than end_date.",
            )
        days = (end - start).days + 1
        if self.max_days is not None and days > self.max_days:
            raise _HttpError(
                400,
                f"The range {start.isoformat()} to {end.isoformat()} spans {days} days; "
                f"at most {self.max_days} days are allowed per request.",
            )
        tz = params.get("timeZoneOffset", "").strip() or "UTC"
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise _HttpError(
                400,
                f"Invalid timeZoneOffset {tz[:64]!r}: use an IANA time zone name such as "
                "'Asia/Kolkata', 'America/New_York' or 'UTC'.",
            ) from None
        channels, echo = _channels(params)
        if self.channel_mode == "single" and channels is not None and len(channels) > 1:
            raise _HttpError(
                400,
                f"Invalid channels {params.get('channels', '')[:64]!r}: give one channel, "
                "such as rtm or msteams, or All.",
            )
        if self.ignore_filter == "conversationType":
            conversation_type = "all"
        elif self.ignore_filter == "conversationStatus":
            conversation_status = "all"
        elif self.ignore_filter == "channels" and channels is not None:
            channels, echo = None, "all"
        return TrendRequest(
            stream=stream,
            start=start,
            end=end,
            aggregation=aggregation,
            conversation_type=conversation_type,
            conversation_status=conversation_status,
            channels=channels,
            channels_echo=echo,
            tz=tz,
        )


def _enum(params: httpx.QueryParams, name: str) -> str:
    """A case-insensitive enum parameter, in the platform's lower-cased spelling."""
    allowed, shown, default = _ENUMS[name]
    raw = params.get(name)
    if raw is None or not raw.strip():
        return default
    value = " ".join(raw.split()).lower()
    if value not in allowed:
        raise _HttpError(400, f"Invalid {name} {raw[:64]!r}: allowed values are {shown}.")
    return value


def _date(params: httpx.QueryParams, name: str) -> dt.date:
    raw = params.get(name)
    if raw is None or not raw.strip():
        raise _HttpError(400, f"{name} is required: give a date in YYYY-MM-DD format.")
    try:
        value = parse_date(raw, field=name)
    except InvalidQueryError:
        raise _HttpError(
            400, f"Invalid {name} {raw[:64]!r}: give a date in YYYY-MM-DD format (e.g. 2025-12-01)."
        ) from None
    if not _FIRST_DAY <= value <= _LAST_DAY:
        raise _HttpError(
            400, f"Invalid {name} {raw!r}: dates must lie between 1970-01-01 and 2099-12-31."
        )
    return value


def _channels(params: httpx.QueryParams) -> tuple[tuple[str, ...] | None, str | None]:
    """(channel names or ``None`` for all, the ``filters.channels`` echo or ``None``)."""
    if "channels" not in params:
        return None, None
    raw = params.get("channels", "")
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    bad = [n for n in names if not _CHANNEL.fullmatch(n)]
    if bad:
        raise _HttpError(
            400,
            f"Invalid channels {bad[0][:64]!r}: give channel names such as rtm, msteams or "
            "whatsapp, separated by commas, or All.",
        )
    if not names or names == ["all"]:
        return None, "all"
    if "all" in names:
        raise _HttpError(400, "Invalid channels: All cannot be combined with channel names.")
    return tuple(dict.fromkeys(names)), ",".join(dict.fromkeys(names))
