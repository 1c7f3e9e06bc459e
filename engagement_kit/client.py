"""The one place that talks to the platform: :class:`EngagementClient`.

A fetch goes: validated :class:`~engagement_kit.query.EngagementQuery` → the whole range as one
request, or calendar-aligned chunks when the platform refuses it as too long (the limit learned
per host, :mod:`engagement_kit.ranges`) → for each, the response store (a hit sends nothing) or
``POST {host}/api/public/bot/{streamId}/v2/userEngagementTrend?...`` with the JWT in the ``auth``
header, paced by a client-side rate limiter per stream and retried when a retry can succeed →
:func:`~engagement_kit.tidy.parse_response` → chunks merged with
:func:`~engagement_kit.tidy.merge_engagements`.

Retries (tenacity, exponential backoff with jitter, honouring ``Retry-After``) cover HTTP 429,
502, 503, 504, timeouts and dropped connections, bounded by ``max_retries`` and ``retry_budget``
seconds; 400, 401, 403, 404 and a malformed answer are never retried. A rate-limit answer (429)
also puts the stream in a cool-down in the shared rate limiter (:mod:`engagement_kit.ratelimit`):
until its ``Retry-After``, else for a whole minute window, no process on the machine sends for
that stream, and the retry waits there (as queued time, outside the retry budget) instead of
backing off for less than the platform's window. Statuses become the error
tree of :mod:`engagement_kit.errors`. Requests are logged at DEBUG on the ``engagement_kit.client``
logger (method, URL, status, elapsed, attempt); the token is never logged or put in a message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import html
import logging
import math
import os
import re
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import httpx

from . import __version__
from .auth import Credentials, credentials_from_env
from .config import host_from_env, normalize_host
from .errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    ConfigError,
    InvalidQueryError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    StoreError,
)
from .query import EngagementQuery
from .ratelimit import (
    DEFAULT_REQUESTS_PER_HOUR,
    DEFAULT_REQUESTS_PER_MINUTE,
    StreamRateLimiter,
    default_budget_path,
)
from .store import ResponseStore
from .weeks import ended_week, today_in, week_bounds, week_labels

if TYPE_CHECKING:
    import pandas as pd
    from tenacity import RetryCallState

    from .tidy import Engagement

__all__ = [
    "API_PATH",
    "DEFAULT_REQUESTS_PER_HOUR",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "DEFAULT_RETRY_BUDGET",
    "DEFAULT_TIMEOUT",
    "EngagementClient",
    "FetchResult",
    "StreamRateLimiter",
]

logger = logging.getLogger("engagement_kit.client")

#: The endpoint's path; ``{stream_id}`` is percent-encoded.
API_PATH = "/api/public/bot/{stream_id}/v2/userEngagementTrend"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_BUDGET = 120.0
#: Statuses worth retrying: the same request can succeed a little later.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


_PERMANENT_NETWORK_TEXT = (
    "CERTIFICATE_VERIFY_FAILED",  # a refused certificate stays refused
    "Name or service not known",  # the host name does not resolve: a typo in KORE_HOST
    "nodename nor servname provided",
    "No address associated with hostname",
)
#: A resolver that could not answer *now* (EAI_AGAIN): worth a retry like a dropped connection.
_TRANSIENT_DNS_TEXT = ("Temporary failure in name resolution",)
_EAI_AGAIN = getattr(socket, "EAI_AGAIN", -3)


def _is_transient(exc: BaseException) -> bool:
    """A network failure worth retrying: not a refused TLS certificate or a host name that does
    not exist, which no retry can cure (so a typo in KORE_HOST fails at once, not after the
    backoff). A temporary DNS failure (``EAI_AGAIN``, "Temporary failure in name resolution")
    is retried like any other transient network error."""
    if not isinstance(exc, _RETRY_EXCEPTIONS):
        return False
    seen: BaseException | None = exc
    for _ in range(5):  # the ssl / socket error sits a few causes down
        if seen is None:
            break
        text = str(seen)
        if (isinstance(seen, socket.gaierror) and seen.errno == _EAI_AGAIN) or any(
            t.lower() in text.lower() for t in _TRANSIENT_DNS_TEXT
        ):
            return True
        if isinstance(seen, ssl.SSLCertVerificationError | socket.gaierror) or any(
            t in text for t in _PERMANENT_NETWORK_TEXT
        ):
            return False
        seen = seen.__cause__ or seen.__context__
    return True


#: The platform's documented rate-limit message; treated as a 429 whatever the status.
_RATE_LIMIT_TEXT = "rate limit for this api has been reached"
_MESSAGE_LIMIT = 300
_PARSED_CACHE_SIZE = 64  # distinct parsed answers kept per client
_MIN_RETRY_WINDOW = 0.05  # seconds of budget below which no further attempt is made

_AUTH_HINT = (
    "Check that: the app is a JWT app and KORE_CLIENT_ID/KORE_CLIENT_SECRET are that app's "
    "client id and secret (or KORE_JWT is a valid, unexpired token for it); the API scope "
    '"User Engagement Trend" is added to the app and the scope change is published; the app '
    "belongs to the workspace of this stream."
)
_HINTS = {
    401: "The platform refused the token. " + _AUTH_HINT,
    403: "The token is valid but not allowed to call this API for this stream. " + _AUTH_HINT,
    404: (
        "Unknown stream on this host: check the stream id on the app's General Settings page, "
        "and that KORE_HOST is the host (region) where the app lives, e.g. "
        "https://platform.kore.ai."
    ),
    429: (
        "The platform allows 60 requests per minute and 1,800 per hour per stream, shared by "
        "everything that calls it. Wait and try again, or lower requests_per_minute."
    ),
}


# -- results -----------------------------------------------------------------------------------
def _not_sent(earlier: Exception) -> Exception:
    """The error of a batch item skipped because an earlier one failed for good."""
    note = "not sent, because an earlier request of this batch failed after its retries"
    if isinstance(earlier, ApiError):
        return type(earlier)(
            f"{note}: {earlier.message}", status=earlier.status, url="", hint=earlier.hint
        )
    return type(earlier)(f"{note}: {earlier}")


@dataclass(frozen=True)
class FetchResult:
    """One item of :meth:`EngagementClient.fetch_many`.

    Attributes
    ----------
    query : EngagementQuery or None
        ``None`` when the request itself was invalid (then ``error`` says why).
    data : Engagement or None
        The answer, or ``None`` on failure.
    error : Exception or None
        What went wrong for this item.
    request : object
        The item as it was given.
    """

    query: EngagementQuery | None
    data: Engagement | None = None
    error: Exception | None = None
    request: Any = None

    @property
    def ok(self) -> bool:
        """Whether this item was fetched."""
        return self.error is None


# -- helpers -----------------------------------------------------------------------------------
def _retry_after(response: httpx.Response, now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or ``None``."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _platform_message(response: httpx.Response) -> str:
    """The platform's own words: ``{"errors": [{"msg": ...}]}``, ``{"message": ...}`` or text."""
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list):
            parts = []
            for err in errors:
                if isinstance(err, Mapping):
                    text = err.get("msg") or err.get("message")
                    if isinstance(text, str) and text.strip():
                        parts.append(text.strip())
                elif isinstance(err, str) and err.strip():
                    parts.append(err.strip())
            message = "; ".join(parts)
        if not message:
            for key in ("message", "msg", "error_description", "error"):
                text = body.get(key)
                if isinstance(text, str) and text.strip():
                    message = text.strip()
                    break
    elif isinstance(body, str):
        message = body.strip()
    if not message:
        text = response.text
        if "<" in text and ">" in text:  # an HTML error page (proxy, load balancer): its words
            title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
            text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
            text = html.unescape(text)
        message = " ".join(text.split())
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return message or response.reason_phrase or "no message"


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code in (400, 403):
        return _RATE_LIMIT_TEXT in _platform_message(response).lower()
    return False


def _should_retry_response(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES or _is_rate_limited(response)


def _describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({exc.__class__.__name__}, timeout {timeout:g}s)"
    detail = str(exc).strip()
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__


# -- the client --------------------------------------------------------------------------------
class EngagementClient:
    """Fetch User Engagement Trend (v2) data as :class:`~engagement_kit.tidy.Engagement`.

    Parameters
    ----------
    host : str, optional
        ``https://platform.kore.ai`` or just ``platform.kore.ai`` (default ``$KORE_HOST``).
        Only ``https://``, except loopback hosts, which may use ``http://``. TLS certificates
        are always verified.
    credentials : Credentials, optional
        Default: :func:`~engagement_kit.auth.credentials_from_env`, read at the first request
        (so a client can be built, and answer from its store, without credentials).
    store : ResponseStore, None or False
        ``None`` uses the default :class:`~engagement_kit.store.ResponseStore`; ``False`` none.
    timeout : float
        Seconds per request (connect, read, write, pool).
    max_retries : int
        Retries after the first attempt (429, 502-504, timeouts, dropped connections).
    transport : httpx.BaseTransport, optional
        For tests and the demo platform (``httpx.MockTransport``, a WSGI transport...).
    max_days_per_request : int or None
        A known limit of the platform: longer ranges are split at once (see
        :meth:`fetch_query`). ``None`` (default): ask for the whole range and learn the limit
        from the platform's refusal.
    requests_per_minute, requests_per_hour : int or None
        Client-side limits per stream, as sent (default 57 and 1,750: the platform's 60 and
        1,800, counted on arrival by its clock, less a safety margin); ``None`` disables one.
    shared_rate_limit : bool, str, Path or None
        Share those limits with every process on the machine through a SQLite file (see
        :mod:`engagement_kit.ratelimit`): ``True`` uses
        :func:`~engagement_kit.ratelimit.default_budget_path`, a path names the file,
        ``False`` paces this client alone. ``None`` (default): shared unless a ``clock`` is
        given (a simulated time cannot be shared).
    retry_budget : float
        Seconds one request may spend on attempts and backoff (time queued in the client-side
        rate limiter does not count). A ``Retry-After`` longer than what is left ends the
        retries at once with :class:`~engagement_kit.errors.RateLimitError`.
    clock : callable, optional
        Current time as POSIX seconds (default ``time.time``): rate limiting, the retry budget,
        store freshness and "today" all read it.
    sleep : callable, optional
        Waits a number of seconds (default ``time.sleep``).
    on_filter_mismatch : {"error", "warn"}
        When an answer's ``filters`` echo says a filter of the query was not applied (see
        :mod:`engagement_kit.echo`): raise :class:`~engagement_kit.errors.ResponseFormatError`
        naming it (default), or warn with :class:`~engagement_kit.echo.FilterEchoWarning` and
        keep the answer, for users who know their platform's quirks.

    Raises
    ------
    ConfigError
        No host, or an unusable one (plain ``http://`` to a non-loopback host...).
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        credentials: Credentials | None = None,
        store: ResponseStore | Literal[False] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        max_days_per_request: int | None = None,
        requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        requests_per_hour: int | None = DEFAULT_REQUESTS_PER_HOUR,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Any] | None = None,
        on_filter_mismatch: str = "error",
        shared_rate_limit: bool | str | os.PathLike[str] | None = None,
    ) -> None:
        from .echo import FILTER_MODES

        if on_filter_mismatch not in FILTER_MODES:
            raise ConfigError(
                f"on_filter_mismatch: {on_filter_mismatch!r} must be one of "
                + ", ".join(repr(m) for m in FILTER_MODES)
            )
        self.on_filter_mismatch = on_filter_mismatch
        self.host = normalize_host(host) if host is not None else host_from_env()
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError(
                "credentials must be a Credentials (e.g. Credentials(client_id, client_secret) "
                "or Credentials(token=...)) or None to read them from the environment"
            )
        if store is None:
            self.store: ResponseStore | None = ResponseStore()
            self._owns_store = True
        elif store is False:
            self.store = None
            self._owns_store = False
        elif isinstance(store, ResponseStore):
            self.store = store
            self._owns_store = False
        else:
            raise TypeError("store must be a ResponseStore, None (the default store) or False")
        _check_number("timeout", timeout, minimum=0.001)
        _check_number("retry_budget", retry_budget, minimum=0.0)
        _check_int("max_retries", max_retries, minimum=0)
        if max_days_per_request is not None:
            _check_int("max_days_per_request", max_days_per_request, minimum=1)
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_budget = float(retry_budget)
        self.max_days_per_request = max_days_per_request
        self._limits: dict[str, int | None] = {}  # aggregation -> learned max days, this host
        self._limits_lock = threading.Lock()
        self._clock: Callable[[], float] = clock or time.time
        self._sleep: Callable[[float], Any] = sleep or time.sleep
        if shared_rate_limit is None:
            shared_rate_limit = clock is None
        budget = (
            default_budget_path()
            if shared_rate_limit is True
            else (None if shared_rate_limit is False else shared_rate_limit)
        )
        self.rate_limiter = StreamRateLimiter(
            requests_per_minute,
            requests_per_hour,
            clock=self._clock,
            sleep=self._sleep,
            shared=budget,
            scope=self.host,
        )
        self._credentials = credentials
        self._credentials_lock = threading.Lock()
        # parsed answers by (query, exact JSON text): a store hit of bytes already parsed in this
        # process skips the parse; callers get copy-on-write views, so nothing they do to the
        # frames reaches the cache
        self._parsed: OrderedDict[tuple[EngagementQuery, str], Engagement] = OrderedDict()
        self._parsed_lock = threading.Lock()
        self._http = httpx.Client(
            transport=transport,
            timeout=self.timeout,
            headers={
                "User-Agent": f"engagement-kit/{__version__}",
                "Accept": "application/json",
            },
            follow_redirects=False,
        )

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP connection pool (and the default store's connections)."""
        self._http.close()
        self.rate_limiter.close()
        if self._owns_store and self.store is not None:
            self.store.close()

    def __enter__(self) -> EngagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        store = "no store" if self.store is None else f"store={str(self.store.path)!r}"
        return f"<EngagementClient {self.host} {store}>"

    @property
    def credentials(self) -> Credentials:
        """The credentials, read from the environment on first use when none were given."""
        if self._credentials is None:
            with self._credentials_lock:
                if self._credentials is None:
                    self._credentials = credentials_from_env()
        return self._credentials

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def url_for(self, stream_id: str) -> str:
        """The endpoint URL for a stream (the id percent-encoded), without the query string."""
        return self.host + API_PATH.format(stream_id=quote(stream_id, safe=""))

    # -- fetching -----------------------------------------------------------------------------
    def fetch(
        self,
        stream_id: str,
        start: dt.date | str,
        end: dt.date | str,
        *,
        aggregation: str = "daily",
        conversation_type: str = "all",
        conversation_status: str = "all",
        channels: str | Iterable[str] | None = None,
        tz: str = "UTC",
        refresh: bool = False,
    ) -> Engagement:
        """Fetch one stream's engagement over ``start``..``end`` (both inclusive).

        Parameters
        ----------
        stream_id : str
            The app (stream) id from its General Settings page.
        start, end : date or 'YYYY-MM-DD'
            First and last day in ``tz``.
        aggregation : {"daily", "hourly"}
        conversation_type : {"all", "interactive", "non_interactive"}
        conversation_status : {"all", "active", "closed"}
        channels : str or None
            One channel (``"rtm"``); ``None`` means every channel. The API filters by one
            channel per request: for several, see :meth:`fetch_channels`.
        tz : str
            IANA zone the platform aggregates in; always sent.
        refresh : bool
            Ignore stored answers and ask the platform (the new answer is stored).

        Returns
        -------
        Engagement
            ``summary`` (Series) and ``trend`` (``stream_id``, ``metric``, ``date``, ``hour``,
            ``start``, ``users``).

        Raises
        ------
        InvalidQueryError
            Before any request, for an invalid parameter.
        ConfigError, AuthError, NotFoundError, RateLimitError, ServerError, ApiError,
        ApiConnectionError, ResponseFormatError, StoreError
        """
        query = EngagementQuery(
            stream_id=stream_id,
            start=start,
            end=end,
            aggregation=aggregation,
            conversation_type=conversation_type,
            conversation_status=conversation_status,
            channels=channels,
            tz=tz,
        )
        return self.fetch_query(query, refresh=refresh)

    def fetch_query(self, query: EngagementQuery, *, refresh: bool = False) -> Engagement:
        """Fetch an already built :class:`EngagementQuery` (see :meth:`fetch`).

        The whole range goes in one request, so the summary is the platform's own. When the
        platform refuses the range as too long (400), or it is longer than the limit learned
        for this host or set as ``max_days_per_request``, it is fetched in calendar-aligned
        chunks (months; weeks for hourly data) and merged into one continuous trend whose
        summary keeps new users and sets unique and returning users to ``<NA>``, with the
        reason in ``summary_notes`` (see :mod:`engagement_kit.ranges`).
        """
        if not isinstance(query, EngagementQuery):
            raise TypeError(f"expected an EngagementQuery, got {type(query).__name__}")
        if len(query.channels) > 1:
            raise InvalidQueryError(
                f"channels: {', '.join(query.channels)} are {len(query.channels)} channels; the "
                "API filters by one channel per request. For a breakdown by channel use "
                "client.fetch_channels(stream_id, start, end, channels=[...]), one request "
                "per channel (unique users do not add up across channels).",
                field="channels",
            )
        from .ranges import split_note
        from .tidy import merge_engagements

        parts = self._fetch_range(query, refresh=refresh, level=0)
        if len(parts) == 1:
            return parts[0]
        logger.debug("%s: merged from %d chunks", query.describe(), len(parts))
        limit = self._max_days(query.aggregation)
        return merge_engagements(parts, query, note=split_note(query, len(parts), limit))

    def _max_days(self, aggregation: str) -> int | None:
        """The longest range per request: the learned one for this host, or the setting."""
        with self._limits_lock:
            if aggregation not in self._limits:
                learned = None
                if self.store is not None:
                    try:
                        learned = self.store.max_days(self.host, aggregation)
                    except StoreError as exc:
                        logger.warning("cannot read the learned range limit: %s", exc)
                self._limits[aggregation] = learned
            known = [d for d in (self._limits[aggregation], self.max_days_per_request) if d]
        return min(known) if known else None

    def _learn_max_days(self, aggregation: str, days: int) -> None:
        with self._limits_lock:
            current = self._limits.get(aggregation)
            if current is not None and current <= days:
                return
            self._limits[aggregation] = days
        logger.info(
            "%s answers at most %d days per %s request; longer ranges are split from now on",
            self.host,
            days,
            aggregation,
        )
        if self.store is not None:
            try:
                self.store.set_max_days(self.host, aggregation, days)
            except StoreError as exc:
                logger.warning("cannot remember the range limit: %s", exc)

    def _fetch_range(
        self, query: EngagementQuery, *, refresh: bool, level: int
    ) -> list[Engagement]:
        """The answers covering ``query``: one request when allowed, else calendar chunks."""
        from .ranges import CHUNK_UNITS, calendar_chunks, is_range_refusal, limit_from_message

        limit = self._max_days(query.aggregation)
        units = CHUNK_UNITS[query.aggregation]
        if limit is None or query.days <= limit:
            try:
                return [self._fetch_chunk(query, refresh=refresh)]
            except ApiError as exc:
                if (
                    exc.status != 400
                    or type(exc) is not ApiError
                    or query.days == 1
                    or not is_range_refusal(exc.message)
                ):
                    raise
                refused = exc
        else:
            refused = None
        # cut at the coarsest calendar unit that splits the range
        for depth in range(level, len(units)):
            chunks = calendar_chunks(query, units[depth])
            if len(chunks) > 1:
                break
        else:  # pragma: no cover - a range of several days always splits into days
            raise refused or AssertionError(query)
        if refused is not None:
            logger.info(
                "%s: refused as one request (%s); fetching %d %s chunks",
                query.describe(),
                refused.message,
                len(chunks),
                units[depth],
            )
            named = limit_from_message(refused.message)
            self._learn_max_days(
                query.aggregation, named if named and named < query.days else query.days - 1
            )
        parts: list[Engagement] = []
        for chunk in chunks:
            try:
                parts += self._fetch_range(chunk, refresh=refresh, level=depth + 1)
            except ApiError as exc:
                if refused is not None and exc.status == 400:
                    raise refused from exc  # the range was not the problem: the first error
                raise
        return parts

    def fetch_channels(
        self,
        stream_id: str,
        start: dt.date | str,
        end: dt.date | str,
        *,
        channels: Iterable[str] | str,
        **options: Any,
    ) -> pd.DataFrame:
        """A breakdown by channel: one request per channel, one tidy frame.

        See :func:`engagement_kit.channels.fetch_channels` (``options`` are :meth:`fetch`'s:
        ``aggregation``, ``conversation_type``, ``conversation_status``, ``tz``, ``refresh``).
        Unique users do not add up across channels.
        """
        from .channels import fetch_channels

        return fetch_channels(self, stream_id, start, end, channels=channels, **options)

    def fetch_sessions(
        self,
        stream_id: str,
        start: dt.date | str,
        end: dt.date | str,
        *,
        tz: str = "UTC",
        **options: Any,
    ) -> pd.DataFrame:
        """Every session that started on the local days ``start``..``end`` in ``tz``, from the
        Sessions History API (getSessions): one row per session. See
        :func:`engagement_kit.sessions.fetch_sessions` for the options (``config``,
        ``refresh``, ``progress``, ``cache``) and the columns."""
        from .sessions import fetch_sessions

        return fetch_sessions(self, stream_id, start, end, tz=tz, **options)

    def fetch_many(
        self,
        requests: Iterable[EngagementQuery | Mapping[str, Any]],
        *,
        max_workers: int = 4,
        refresh: bool = False,
        per_stream: int = 1,
    ) -> list[FetchResult]:
        """Fetch several queries at once with a small thread pool.

        Parameters
        ----------
        requests : iterable of EngagementQuery or dict
            Queries, or dicts of :meth:`fetch` keyword arguments (``stream_id``, ``start``,
            ``end``, ...; a ``refresh`` key overrides ``refresh`` for that item).
        max_workers : int
            Threads (the per-stream rate limiter still paces the requests).
        per_stream : int
            Requests in flight at once for one stream (default 1, as the platform asks: no
            overlapping requests); different streams still go in parallel.

        Returns
        -------
        list of FetchResult
            In input order; each carries its own ``error`` instead of raising. Once a request
            has failed after all its retries with a connection error, the items not started
            yet are not sent (the host is down); after a 401/403 or 5xx, neither are the
            items of that stream. Those items carry an error of the same type whose message
            starts "not sent". A batch against a dead host therefore ends in one request's
            retries, not in every item's.
        """
        _check_int("max_workers", max_workers, minimum=1)
        _check_int("per_stream", per_stream, minimum=1)
        items = list(requests)
        failed: dict[str | None, Exception] = {}  # stream id (None: the host) -> first failure
        slots: dict[str, threading.Semaphore] = {}
        slots_lock = threading.Lock()

        def slot(stream_id: str) -> threading.Semaphore:
            with slots_lock:
                return slots.setdefault(stream_id, threading.BoundedSemaphore(per_stream))

        def run(item: Any) -> FetchResult:
            try:
                if isinstance(item, EngagementQuery):
                    query, item_refresh = item, refresh
                elif isinstance(item, Mapping):
                    fields = dict(item)
                    item_refresh = bool(fields.pop("refresh", refresh))
                    query = EngagementQuery(**fields)
                else:
                    raise InvalidQueryError(
                        f"fetch_many: {type(item).__name__} is not a request; give an "
                        "EngagementQuery or a dict of fetch() arguments",
                        field="requests",
                    )
            except Exception as exc:
                return FetchResult(None, None, exc, item)
            # after a failure that retries could not cure, do not pile more requests on the
            # same stream (401/403, 5xx) or, for a network failure, on the host at all
            with slot(query.stream_id):
                earlier = failed.get(None) or failed.get(query.stream_id)
                if earlier is not None:
                    return FetchResult(query, None, _not_sent(earlier), item)
                try:
                    data = self.fetch_query(query, refresh=item_refresh)
                except Exception as exc:
                    return failure(query, item, exc)
                return FetchResult(query, data, None, item)

        def failure(query: EngagementQuery, item: Any, exc: Exception) -> FetchResult:
            logger.debug("fetch_many: %s failed: %s", query.describe(), exc)
            if isinstance(exc, ApiConnectionError):
                failed.setdefault(None, exc)
            elif isinstance(exc, AuthError | ServerError):
                failed.setdefault(query.stream_id, exc)
            return FetchResult(query, None, exc, item)

        if not items:
            return []
        workers = min(max_workers, len(items))
        if workers == 1:
            return [run(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engagement-kit") as pool:
            return list(pool.map(run, items))

    def fetch_weeks(
        self,
        stream_id: str,
        weeks: int = 12,
        *,
        end_week: str | None = None,
        tz: str = "UTC",
        refresh: bool = False,
        max_workers: int = 4,
        **filters: Any,
    ) -> pd.DataFrame:
        """One row per complete ISO week: the platform's own summary of each week.

        One daily request per week, so every week's unique and returning users are exact (they
        do not add up across weeks), and closed weeks are reused from the store for good.

        Parameters
        ----------
        stream_id : str
        weeks : int
            How many weeks, ending with ``end_week``.
        end_week : str, optional
            ``'YYYY-Www'``; default the last complete ISO week in ``tz``. A week that has not
            ended yet in ``tz`` is refused.
        tz : str
            IANA zone of the weeks.
        **filters
            ``conversation_type``, ``conversation_status``, ``channels``.

        Returns
        -------
        pandas.DataFrame
            Oldest week first: ``week`` ('YYYY-Www'), ``start``, ``end`` (Monday and Sunday,
            ``datetime64``), ``days``, ``unique_users``, ``new_users``, ``returning_users``
            (``Int64``), ``avg_unique_users_per_day``, ``avg_new_users_per_day``,
            ``avg_returning_users_per_day`` (``Float64``). ``attrs`` holds ``stream_id``, ``tz``
            and the filters.

        Raises
        ------
        InvalidQueryError
            Before any request: a bad week label, an incomplete ``end_week``, bad filters.
        EngagementError
            The first failure among the weeks (see :meth:`fetch`).
        """
        import pandas as pd

        if "aggregation" in filters:
            raise InvalidQueryError(
                "aggregation: fetch_weeks always asks for daily data; drop the argument",
                field="aggregation",
            )
        probe = EngagementQuery(
            stream_id=stream_id, start="2000-01-03", end="2000-01-03", tz=tz, **filters
        )
        today = today_in(probe.tz, now=self._now())
        end_week = ended_week(end_week, probe.tz, today=today, field="end_week")
        labels = week_labels(end_week, weeks)
        bounds = [week_bounds(label) for label in labels]
        queries = [probe.replace(start=monday, end=sunday) for monday, sunday in bounds]
        results = self.fetch_many(queries, max_workers=max_workers, refresh=refresh)
        for result in results:
            if result.error is not None:
                raise result.error
        from .tidy import SUMMARY_FIELDS

        columns = list(SUMMARY_FIELDS.values())  # the summary's own fields, in its order
        rows = []
        for label, (monday, sunday), result in zip(labels, bounds, results, strict=True):
            assert result.data is not None
            summary = result.data.summary
            rows.append(
                {
                    "week": label,
                    "start": monday,
                    "end": sunday,
                    "days": (sunday - monday).days + 1,
                    **{name: summary[name] for name in columns},
                }
            )
        frame = pd.DataFrame(rows, columns=["week", "start", "end", "days", *columns])
        frame["start"] = pd.to_datetime(frame["start"])
        frame["end"] = pd.to_datetime(frame["end"])
        frame["days"] = frame["days"].astype("int64")
        for name in columns:
            dtype = "Float64" if name.startswith("avg_") else "Int64"
            frame[name] = frame[name].astype("Float64").astype(dtype)
        frame.attrs.update(
            stream_id=probe.stream_id,
            tz=probe.tz,
            filters={
                "conversation_type": probe.conversation_type,
                "conversation_status": probe.conversation_status,
                "channels": list(probe.channels),
            },
        )
        return frame

    # -- one chunk ----------------------------------------------------------------------------
    def _fetch_chunk(self, query: EngagementQuery, *, refresh: bool) -> Engagement:
        now = self._now()
        final = query.end < today_in(query.tz, now=now)
        if self.store is not None and not refresh:
            payload = self.store.get(self.host, query, now=now)
            if payload is not None:
                try:
                    data = self._parse(payload, query)
                except ResponseFormatError as exc:
                    logger.warning(
                        "stored answer for %s does not parse (%s); asking the platform again",
                        query.describe(),
                        exc,
                    )
                else:
                    logger.debug("store hit: %s", query.describe())
                    self._check_echo(data, query)
                    return data
        text = self._request(query)
        try:
            data = self._parse(text, query)
        except ResponseFormatError as exc:
            raise ResponseFormatError(
                f"{exc} (answer for {query.describe()} from {self.host})", field=exc.field
            ) from exc
        self._check_echo(data, query)
        if self.store is not None:
            # the store keeps every distinct answer but may keep using an earlier one, when
            # this one loses data it had (e.g. zeros for days the platform no longer keeps)
            in_use = self.store.put(self.host, query, text, final=final, now=self._now())
            if in_use != text:
                data = self._parse(in_use, query)
        return data

    def _check_echo(self, data: Engagement, query: EngagementQuery) -> None:
        """Raise (or warn) when the answer's ``filters`` say a filter was not applied."""
        from .echo import FilterEchoWarning, filter_mismatches

        found = filter_mismatches(data.filters, query)
        if not found:
            return
        text = (
            f"{found[0].describe()} (answer for {query.describe()} from {self.host}). "
            "If your platform is known to echo this filter differently, create the client "
            "with on_filter_mismatch='warn'."
        )
        if self.on_filter_mismatch == "warn":
            import warnings

            logger.warning("%s", text)
            warnings.warn(text, FilterEchoWarning, stacklevel=4)
            return
        raise ResponseFormatError(text, field=f"filters.{found[0].key}")

    def _parse(self, text: str, query: EngagementQuery) -> Engagement:
        """``parse_response``, remembered for the last few distinct answers (same bytes only)."""
        from .tidy import parse_response

        key = (query, text)
        with self._parsed_lock:
            data = self._parsed.get(key)
            if data is not None:
                self._parsed.move_to_end(key)
        if data is None:
            data = parse_response(text, query=query)
            with self._parsed_lock:
                self._parsed[key] = data
                while len(self._parsed) > _PARSED_CACHE_SIZE:
                    self._parsed.popitem(last=False)
        # pandas' copy-on-write: shallow copies share memory until either side is written
        return dataclasses.replace(
            data,
            trend=data.trend.copy(deep=False),
            summary=data.summary.copy(deep=False),
            filters=dict(data.filters),
        )

    def _request(self, query: EngagementQuery) -> str:
        """POST the query with retries; return the body of a 2xx answer or raise."""
        url = self.url_for(query.stream_id)
        full_url = url + "?" + urlencode(query.to_params(), quote_via=quote, safe="")
        return self._post(
            full_url, limiter_key=query.stream_id, describe=query.describe(), days=query.days
        )

    def _post(
        self,
        full_url: str,
        *,
        limiter_key: str,
        describe: str,
        body: Mapping[str, Any] | None = None,
        days: int | None = None,
    ) -> str:
        """POST ``full_url`` (with a JSON ``body``, if any) paced by the rate limiter under
        ``limiter_key`` and retried; return the body of a 2xx answer or raise. Shared by every
        endpoint (the trend API here, getSessions in :mod:`engagement_kit.sessions`); ``days``
        is the trend query's length (for the hint of a 400)."""
        from tenacity import Retrying, retry_if_exception, retry_if_result
        from tenacity.wait import wait_exponential_jitter

        credentials = self.credentials  # ConfigError here, before anything is sent
        url = full_url.split("?", 1)[0]
        started = self._clock()
        queued = 0.0  # seconds spent waiting for the client-side rate limiter
        attempts = 0

        def remaining() -> float:
            return self.retry_budget - (self._clock() - started - queued)

        def retry_after_of(state: RetryCallState) -> float | None:
            outcome = state.outcome
            if outcome is None or outcome.failed:
                return None
            return _retry_after(outcome.result(), self._clock())

        backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and not outcome.failed and _is_rate_limited(outcome.result()):
                # send() recorded a cool-down in the rate limiter (shared by every process on
                # the machine): the next attempt waits there, as queued time
                return 0.0
            hinted = retry_after_of(state)
            delay = hinted if hinted is not None else backoff(state)
            return max(0.0, min(delay, remaining()))

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number > self.max_retries:
                return True
            left = remaining()
            hinted = retry_after_of(state)
            # a last sliver of budget is not worth an attempt (and float rounding of epoch
            # seconds must not turn it into a run of zero-length waits)
            return left <= _MIN_RETRY_WINDOW or (hinted is not None and hinted > left)

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            assert outcome is not None
            if outcome.failed:
                why = _describe_failure(outcome.exception(), self.timeout)  # type: ignore[arg-type]
            else:
                why = f"HTTP {outcome.result().status_code}"
            when = f"in {state.upcoming_sleep:.2f}s"
            if not outcome.failed and _is_rate_limited(outcome.result()):
                when = "after the stream's cool-down in the rate limiter"
            logger.info(
                "POST %s: %s; retrying %s (attempt %d of %d)",
                url,
                why,
                when,
                state.attempt_number + 1,
                self.max_retries + 1,
            )

        def send() -> httpx.Response:
            nonlocal attempts, queued
            attempts += 1
            queued += self.rate_limiter.acquire(limiter_key)
            headers = {"auth": credentials.token(now=self._clock())}
            t0 = time.perf_counter()
            try:
                response = self._http.post(full_url, headers=headers, json=body)
            except httpx.TransportError as exc:
                logger.debug(
                    "POST %s failed after %.3fs (attempt %d): %s",
                    full_url,
                    time.perf_counter() - t0,
                    attempts,
                    exc.__class__.__name__,
                )
                raise
            logger.debug(
                "POST %s -> %d in %.3fs (attempt %d)",
                full_url,
                response.status_code,
                time.perf_counter() - t0,
                attempts,
            )
            if _is_rate_limited(response):
                # the platform's window is full, whatever our send log says (another machine,
                # a restarted process without the budget file): nobody sends for this stream
                # until its Retry-After, else a whole window, has passed
                hinted = _retry_after(response, self._clock())
                self.rate_limiter.cool_down(
                    limiter_key, hinted if hinted is not None else self.rate_limiter.window
                )
            return response

        retrying = Retrying(
            # a zero wait (after a 429 the rate limiter does the waiting) is no sleep at all
            sleep=lambda seconds: self._sleep(seconds) if seconds > 0 else None,
            stop=stop,
            wait=wait,
            retry=retry_if_exception(_is_transient) | retry_if_result(_should_retry_response),
            before_sleep=before_sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        try:
            response = retrying(send)
        except httpx.TransportError as exc:
            spent = max(0.0, self._clock() - started - queued)  # no "-0.0s" from rounding
            raise ApiConnectionError(
                f"could not reach {self.host} (POST {full_url}): "
                f"{_describe_failure(exc, self.timeout)}; gave up after {attempts} attempt(s) in "
                f"{spent:.1f}s. Check KORE_HOST, your network or proxy, and try again later."
            ) from exc
        return self._check(response, describe, full_url, attempts, days)

    def _check(
        self,
        response: httpx.Response,
        describe: str,
        url: str,
        attempts: int,
        days: int | None = None,
    ) -> str:
        """Return the body of a 2xx answer; raise the matching error for anything else."""
        status = response.status_code
        if 200 <= status < 300:
            return response.text
        message = _platform_message(response)
        token = response.request.headers.get("auth")
        if token and token in message:  # never echo a token, even if the platform does
            message = message.replace(token, "<token>")
        tried = f" (after {attempts} attempts)" if attempts > 1 else ""
        if _is_rate_limited(response):
            retry_after = _retry_after(response, self._clock())
            hint = _HINTS[429]
            if retry_after is not None:
                hint += f" The platform asks to wait {retry_after:.0f}s."
            raise RateLimitError(
                message + tried, status=status, url=url, hint=hint, retry_after=retry_after
            )
        if status in (401, 403):
            raise AuthError(message, status=status, url=url, hint=_HINTS[status])
        if status == 404:
            raise NotFoundError(message, status=status, url=url, hint=_HINTS[404])
        if status >= 500:
            raise ServerError(
                message + tried,
                status=status,
                url=url,
                hint="The platform had a problem answering; try again later.",
            )
        if 300 <= status < 400:
            where = response.headers.get("location", "elsewhere")
            raise ApiError(
                f"unexpected redirect to {where}",
                status=status,
                url=url,
                hint="Check KORE_HOST: give the platform's API host, e.g. https://platform.kore.ai.",
            )
        hint = ""
        if status == 400:
            hint = (
                f"The platform refused the query ({describe}); check the dates, the "
                "filters and the time zone."
            )
            if days is not None and days > 1:
                hint += (
                    " If the platform limits the days per request, create the client with "
                    "max_days_per_request=N to split longer ranges."
                )
        raise ApiError(message, status=status, url=url, hint=hint)


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: {value!r} must be a whole number >= {minimum}")


def _check_number(name: str, value: object, *, minimum: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
    ):
        raise ConfigError(f"{name}: {value!r} must be a number >= {minimum:g}")
