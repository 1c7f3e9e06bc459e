"""The one place that talks to the platform: :class:`EngagementClient`.

A fetch goes: validated :class:`~engagement_kit.query.EngagementQuery` → split into chunks of at
most ``max_days_per_request`` days → for each chunk, the response store (a hit sends nothing) or
``POST {host}/api/public/bot/{streamId}/v2/userEngagementTrend?...`` with the JWT in the ``auth``
header, paced by a client-side rate limiter per stream and retried when a retry can succeed →
:func:`~engagement_kit.tidy.parse_response` → chunks merged with
:func:`~engagement_kit.tidy.merge_engagements`.

Retries (tenacity, exponential backoff with jitter, honouring ``Retry-After``) cover HTTP 429,
502, 503, 504, timeouts and dropped connections, bounded by ``max_retries`` and ``retry_budget``
seconds; 400, 401, 403, 404 and a malformed answer are never retried. Statuses become the error
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
)
from .query import EngagementQuery
from .store import ResponseStore
from .weeks import ended_week, today_in, week_bounds, week_labels

if TYPE_CHECKING:
    import pandas as pd
    from pyrate_limiter import InMemoryBucket, Rate
    from tenacity import RetryCallState

    from .tidy import Engagement

__all__ = [
    "API_PATH",
    "DEFAULT_MAX_DAYS",
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
#: The platform's real cap on one request's range is unknown; longer ranges are split.
DEFAULT_MAX_DAYS = 31
#: The documented analytics limits, per stream: 60 in any rolling minute, 1,800 in any hour.
DEFAULT_REQUESTS_PER_MINUTE = 60
DEFAULT_REQUESTS_PER_HOUR = 1800
#: Statuses worth retrying: the same request can succeed a little later.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


_PERMANENT_NETWORK_TEXT = (
    "CERTIFICATE_VERIFY_FAILED",  # a refused certificate stays refused
    "Name or service not known",  # the host name does not resolve: a typo in KORE_HOST
    "nodename nor servname provided",
)


def _is_transient(exc: BaseException) -> bool:
    """A network failure worth retrying: not a refused TLS certificate or an unknown host name,
    which no retry can cure (so a typo in KORE_HOST fails at once, not after the backoff)."""
    if not isinstance(exc, _RETRY_EXCEPTIONS):
        return False
    seen: BaseException | None = exc
    for _ in range(5):  # the ssl / socket error sits a few causes down
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError | socket.gaierror) or any(
            text in str(seen) for text in _PERMANENT_NETWORK_TEXT
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


# -- rate limiting -----------------------------------------------------------------------------
def _check_limits(per_minute: int | None, per_hour: int | None) -> None:
    for name, value in (("requests_per_minute", per_minute), ("requests_per_hour", per_hour)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"{name}: {value!r} must be a whole number >= 1 (or None: no limit)")


def _rates(per_minute: int | None, per_hour: int | None) -> list[Rate]:
    # imported on the first request, not with the client: answers from the store need neither
    from pyrate_limiter import Duration, Rate

    rates = []
    # pyrate-limiter wants a "generous-before-tight" list; drop a limit the other one implies.
    if per_minute is not None and not (per_hour is not None and per_hour <= per_minute):
        rates.append(Rate(per_minute, Duration.MINUTE))
    if per_hour is not None and not (per_minute is not None and per_hour >= per_minute * 60):
        rates.append(Rate(per_hour, Duration.HOUR))
    return rates


class StreamRateLimiter:
    """Client-side pacing: at most ``per_minute`` requests per stream in any rolling minute and
    ``per_hour`` in any rolling hour. :meth:`acquire` blocks until a slot is free.

    It keeps one pyrate-limiter :class:`~pyrate_limiter.InMemoryBucket` (sliding-window log)
    per stream. It drives the bucket directly instead of through ``pyrate_limiter.Limiter``
    because the limiter's blocking path calls ``time.sleep``/``time.monotonic`` itself and its
    leak thread reads the bucket's own clock; here the timestamps come from the injected
    ``clock`` and the waits go through the injected ``sleep``, so tests need no real sleeping.
    Thread-safe; the lock is never held while sleeping.

    Parameters
    ----------
    per_minute, per_hour : int or None
        The limits; ``None`` switches one off.
    clock : callable
        Current time in seconds (``time.time``).
    sleep : callable
        Waits a number of seconds (``time.sleep``).
    """

    def __init__(
        self,
        per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        per_hour: int | None = DEFAULT_REQUESTS_PER_HOUR,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        _check_limits(per_minute, per_hour)
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._rates: list[Rate] | None = None  # built on the first acquire
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, InMemoryBucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take a slot for ``key`` (a stream id), waiting as needed. Returns seconds waited."""
        from pyrate_limiter import InMemoryBucket, RateItem

        if self._rates is None:
            self._rates = _rates(self.per_minute, self.per_hour)
        if not self._rates:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = InMemoryBucket(self._rates)
                now_ms = int(self._clock() * 1000)
                bucket.leak(now_ms)
                item = RateItem(key, now_ms)
                if bucket.put(item):
                    return waited
                wait_ms = bucket.waiting(item)
            assert isinstance(wait_ms, int) and wait_ms >= 0  # weight 1 always fits eventually
            delay = max(wait_ms, 1) / 1000
            if waited == 0.0:
                logger.debug("rate limit: stream %s waits %.3fs for a free slot", key, delay)
            self._sleep(delay)
            waited += delay


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
    max_days_per_request : int
        Longer ranges are split into chunks of this many days and merged.
    requests_per_minute, requests_per_hour : int or None
        Client-side limits per stream (the platform's: 60 and 1,800); ``None`` disables one.
    retry_budget : float
        Seconds one request may spend on attempts and backoff (time queued in the client-side
        rate limiter does not count). A ``Retry-After`` longer than what is left ends the
        retries at once with :class:`~engagement_kit.errors.RateLimitError`.
    clock : callable, optional
        Current time as POSIX seconds (default ``time.time``): rate limiting, the retry budget,
        store freshness and "today" all read it.
    sleep : callable, optional
        Waits a number of seconds (default ``time.sleep``).

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
        max_days_per_request: int = DEFAULT_MAX_DAYS,
        requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        requests_per_hour: int | None = DEFAULT_REQUESTS_PER_HOUR,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
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
        _check_int("max_days_per_request", max_days_per_request, minimum=1)
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_budget = float(retry_budget)
        self.max_days_per_request = max_days_per_request
        self._clock: Callable[[], float] = clock or time.time
        self._sleep: Callable[[float], Any] = sleep or time.sleep
        self.rate_limiter = StreamRateLimiter(
            requests_per_minute, requests_per_hour, clock=self._clock, sleep=self._sleep
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
        channels : str, list of str or None
            ``None`` means every channel.
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

        Ranges longer than ``max_days_per_request`` are fetched in chunks, in order, and merged
        into one continuous trend whose summary keeps new users and sets unique and returning
        users to ``<NA>``.
        """
        if not isinstance(query, EngagementQuery):
            raise TypeError(f"expected an EngagementQuery, got {type(query).__name__}")
        from .tidy import merge_engagements

        if query.days <= self.max_days_per_request:
            return self._fetch_chunk(query, refresh=refresh)
        parts = query.split(self.max_days_per_request)
        logger.debug(
            "%s: %d chunks of <= %d days", query.describe(), len(parts), self.max_days_per_request
        )
        return merge_engagements([self._fetch_chunk(p, refresh=refresh) for p in parts], query)

    def fetch_many(
        self,
        requests: Iterable[EngagementQuery | Mapping[str, Any]],
        *,
        max_workers: int = 4,
        refresh: bool = False,
    ) -> list[FetchResult]:
        """Fetch several queries at once with a small thread pool.

        Parameters
        ----------
        requests : iterable of EngagementQuery or dict
            Queries, or dicts of :meth:`fetch` keyword arguments (``stream_id``, ``start``,
            ``end``, ...; a ``refresh`` key overrides ``refresh`` for that item).
        max_workers : int
            Threads (the per-stream rate limiter still paces the requests).

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
        items = list(requests)
        failed: dict[str | None, Exception] = {}  # stream id (None: the host) -> first failure

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
            earlier = failed.get(None) or failed.get(query.stream_id)
            if earlier is not None:
                return FetchResult(query, None, _not_sent(earlier), item)
            try:
                return FetchResult(query, self.fetch_query(query, refresh=item_refresh), None, item)
            except Exception as exc:
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
                    return data
        text = self._request(query)
        try:
            data = self._parse(text, query)
        except ResponseFormatError as exc:
            raise ResponseFormatError(
                f"{exc} (answer for {query.describe()} from {self.host})", field=exc.field
            ) from exc
        if self.store is not None:
            # the store keeps every distinct answer but may keep using an earlier one, when
            # this one loses data it had (e.g. zeros for days the platform no longer keeps)
            in_use = self.store.put(self.host, query, text, final=final, now=self._now())
            if in_use != text:
                data = self._parse(in_use, query)
        return data

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
        from tenacity import Retrying, retry_if_exception, retry_if_result
        from tenacity.wait import wait_exponential_jitter

        credentials = self.credentials  # ConfigError here, before anything is sent
        url = self.url_for(query.stream_id)
        full_url = url + "?" + urlencode(query.to_params(), quote_via=quote, safe="")
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
            logger.info(
                "POST %s: %s; retrying in %.2fs (attempt %d of %d)",
                url,
                why,
                state.upcoming_sleep,
                state.attempt_number + 1,
                self.max_retries + 1,
            )

        def send() -> httpx.Response:
            nonlocal attempts, queued
            attempts += 1
            queued += self.rate_limiter.acquire(query.stream_id)
            headers = {"auth": credentials.token(now=self._clock())}
            t0 = time.perf_counter()
            try:
                response = self._http.post(full_url, headers=headers)
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
            return response

        retrying = Retrying(
            sleep=self._sleep,
            stop=stop,
            wait=wait,
            retry=retry_if_exception(_is_transient) | retry_if_result(_should_retry_response),
            before_sleep=before_sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        try:
            response = retrying(send)
        except httpx.TransportError as exc:
            spent = self._clock() - started - queued
            raise ApiConnectionError(
                f"could not reach {self.host} (POST {full_url}): "
                f"{_describe_failure(exc, self.timeout)}; gave up after {attempts} attempt(s) in "
                f"{spent:.1f}s. Check KORE_HOST, your network or proxy, and try again later."
            ) from exc
        return self._check(response, query, full_url, attempts)

    def _check(
        self,
        response: httpx.Response,
        query: EngagementQuery,
        url: str,
        attempts: int,
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
                f"The platform refused the query ({query.describe()}); check the dates, the "
                "filters and the time zone."
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
