"""The one place that talks to the platform: :class:`EngagementClient`.

A fetch goes: validated :class:`~engagement_kit.config.query.EngagementQuery` → the whole range as one
request, or calendar-aligned chunks when the platform refuses it as too long (the limit learned
per host, :mod:`engagement_kit.client.ranges`) → for each, the response store (a hit sends nothing) or
``POST {host}/api/public/bot/{streamId}/v2/userEngagementTrend?...`` with the JWT in the ``auth``
header, paced by a client-side rate limiter per stream and retried when a retry can succeed →
:func:`~engagement_kit.tidy.parse_response` → chunks merged with
:func:`~engagement_kit.tidy.merge_engagements`.

Retries (:mod:`engagement_kit.client.retry`) cover HTTP 429, 502, 503, 504, timeouts and dropped
connections, bounded by ``max_retries`` and ``retry_budget`` seconds; 400, 401, 403, 404 and a
malformed answer are never retried. Statuses become the error tree of :mod:`engagement_kit.errors`
(:mod:`engagement_kit.client.http_status`). Many queries at once: :mod:`engagement_kit.client.batch`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import httpx

from engagement_kit import __version__
from engagement_kit.client.auth import Credentials, credentials_from_env
from engagement_kit.client.batch import FetchResult, fetch_many, fetch_weeks
from engagement_kit.client.channels import fetch_channels
from engagement_kit.client.options import check_int, check_number
from engagement_kit.client.range_limits import LearnedLimits
from engagement_kit.client.ratelimit import (
    DEFAULT_REQUESTS_PER_HOUR,
    DEFAULT_REQUESTS_PER_MINUTE,
    StreamRateLimiter,
    default_budget_path,
)
from engagement_kit.client.retry import post
from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.streams import host_from_env, normalize_host
from engagement_kit.config.weeks import today_in
from engagement_kit.errors import ApiError, ConfigError, InvalidQueryError, ResponseFormatError
from engagement_kit.store import ResponseStore

if TYPE_CHECKING:
    import pandas as pd

    from engagement_kit.client.sessions import SessionsConfig
    from engagement_kit.tidy import Engagement

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
_PARSED_CACHE_SIZE = 64  # distinct parsed answers kept per client


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
        Default: :func:`~engagement_kit.client.auth.credentials_from_env`, read at the first request
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
        :mod:`engagement_kit.client.ratelimit`): ``True`` uses
        :func:`~engagement_kit.client.ratelimit.default_budget_path` (with a PostgreSQL store:
        that database, shared by every machine using it), a path names the file,
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
        :mod:`engagement_kit.client.filter_echo`): raise :class:`~engagement_kit.errors.ResponseFormatError`
        naming it (default), or warn with :class:`~engagement_kit.client.filter_echo.FilterEchoWarning` and
        keep the answer, for users who know their platform's quirks.
    close_store : bool, optional
        Close the store when the client is closed. Default: only the default store the client
        opened itself (``store=None``); ``True`` hands a given store over to the client.
    sessions_config : SessionsConfig, optional
        The getSessions paging and settling of :meth:`fetch_sessions` when it is given none
        (default :class:`~engagement_kit.client.sessions.SessionsConfig`'s).

    Attributes
    ----------
    store : ResponseStore or None
        The response store (``None`` with ``store=False``).
    clock, sleep : callable
        The clock and the wait the client uses (the options, or ``time.time``/``time.sleep``).
    http : httpx.Client
        The HTTP connection pool every request goes through; its ``event_hooks`` let a caller
        watch the exchanges (``engagement-kit doctor`` reads the ``Date`` headers that way).
    rate_limiter : StreamRateLimiter
        The client-side pacing per stream.

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
        close_store: bool | None = None,
        sessions_config: SessionsConfig | None = None,
    ) -> None:
        from engagement_kit.client.filter_echo import FILTER_MODES

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
            self.close_store = True
        elif store is False:
            self.store = None
            self.close_store = False
        elif isinstance(store, ResponseStore):
            self.store = store
            self.close_store = False
        else:
            raise TypeError("store must be a ResponseStore, None (the default store) or False")
        if close_store is not None:
            self.close_store = bool(close_store)
        self.sessions_config = sessions_config
        check_number("timeout", timeout, minimum=0.001)
        check_number("retry_budget", retry_budget, minimum=0.0)
        check_int("max_retries", max_retries, minimum=0)
        if max_days_per_request is not None:
            check_int("max_days_per_request", max_days_per_request, minimum=1)
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_budget = float(retry_budget)
        #: Called with one sentence before each wait for a retry (the command line prints it,
        #: so a run waiting on retries says so); ``None``: logged at INFO only.
        self.retry_notice: Callable[[str], None] | None = None
        self.max_days_per_request = max_days_per_request
        self._limits = LearnedLimits(self.host, self.store)
        self.clock: Callable[[], float] = clock or time.time
        self.sleep: Callable[[float], Any] = sleep or time.sleep
        if shared_rate_limit is None:
            shared_rate_limit = clock is None
        budget = (
            default_budget_path()
            if shared_rate_limit is True
            else (None if shared_rate_limit is False else shared_rate_limit)
        )
        if shared_rate_limit is True and self.store is not None and self.store.url:
            budget = self.store.url  # a team's store: the budget is shared by every machine
        self.rate_limiter = StreamRateLimiter(
            requests_per_minute,
            requests_per_hour,
            clock=self.clock,
            sleep=self.sleep,
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
        self.http = httpx.Client(
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
        self.http.close()
        self.rate_limiter.close()
        if self.close_store and self.store is not None:
            self.store.close()

    def __enter__(self) -> EngagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        store = "no store" if self.store is None else f"store={self.store.shown!r}"
        return f"<EngagementClient {self.host} {store}>"

    @property
    def credentials(self) -> Credentials:
        """The credentials, read from the environment on first use when none were given."""
        if self._credentials is None:
            with self._credentials_lock:
                if self._credentials is None:
                    self._credentials = credentials_from_env()
        return self._credentials

    def now(self) -> dt.datetime:
        """The client's clock (the ``clock`` option) as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

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
        reason in ``summary_notes`` (see :mod:`engagement_kit.client.ranges`).
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
        from engagement_kit.client.ranges import split_note
        from engagement_kit.tidy import merge_engagements

        parts = self._fetch_range(query, refresh=refresh, level=0)
        if len(parts) == 1:
            return parts[0]
        logger.debug("%s: merged from %d chunks", query.describe(), len(parts))
        limit = self._max_days(query.aggregation)
        return merge_engagements(parts, query, note=split_note(query, len(parts), limit))

    def _max_days(self, aggregation: str) -> int | None:
        """The longest range per request: the learned one for this host, or the setting."""
        known = [d for d in (self._limits.get(aggregation), self.max_days_per_request) if d]
        return min(known) if known else None

    def _fetch_range(
        self, query: EngagementQuery, *, refresh: bool, level: int
    ) -> list[Engagement]:
        """The answers covering ``query``: one request when allowed, else calendar chunks."""
        from engagement_kit.client.ranges import (
            CHUNK_UNITS,
            calendar_chunks,
            is_range_refusal,
            limit_from_message,
        )

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
            self._limits.learn(
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

    #: A breakdown by channel: one request per channel, one tidy frame (unique users do not
    #: add up across channels); see :func:`engagement_kit.client.channels.fetch_channels`.
    fetch_channels = fetch_channels

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
        :func:`engagement_kit.client.sessions.fetch_sessions` for the options (``config``,
        ``refresh``, ``progress``, ``cache``) and the columns."""
        from engagement_kit.client.sessions import fetch_sessions

        return fetch_sessions(self, stream_id, start, end, tz=tz, **options)

    #: Several queries at once; see :func:`engagement_kit.client.batch.fetch_many`.
    fetch_many = fetch_many
    #: One row per complete ISO week; see :func:`engagement_kit.client.batch.fetch_weeks`.
    fetch_weeks = fetch_weeks

    # -- one chunk ----------------------------------------------------------------------------
    def _fetch_chunk(self, query: EngagementQuery, *, refresh: bool) -> Engagement:
        now = self.now()
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
            in_use = self.store.put(self.host, query, text, final=final, now=self.now())
            if in_use != text:
                data = self._parse(in_use, query)
        return data

    def _check_echo(self, data: Engagement, query: EngagementQuery) -> None:
        """Raise (or warn) when the answer's ``filters`` say a filter was not applied."""
        from engagement_kit.client.filter_echo import FilterEchoWarning, filter_mismatches

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
        from engagement_kit.tidy import parse_response

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
        return self.post(
            full_url, limiter_key=query.stream_id, describe=query.describe(), days=query.days
        )

    #: POST paced and retried, shared by every endpoint (the trend API here, getSessions in
    #: :mod:`engagement_kit.client.sessions`); see :func:`engagement_kit.client.retry.post`.
    post = post
