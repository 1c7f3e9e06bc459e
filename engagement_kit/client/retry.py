"""The retry policy of every request: what is worth another attempt, how long to wait, when to
give up, and the paced, retried POST itself (:func:`post`).

Retries (tenacity, exponential backoff with jitter, honouring ``Retry-After``) cover HTTP 429,
502, 503, 504, timeouts and dropped connections, bounded by the client's ``max_retries`` and
``retry_budget`` seconds; 400, 401, 403, 404, a refused TLS certificate and a host name that does
not exist are never retried. A rate-limit answer (429) also puts the stream in a cool-down in the
shared rate limiter (:mod:`engagement_kit.client.ratelimit`): until its ``Retry-After``, else for a
whole minute window, no process on the machine sends for that stream, and the retry waits there
(as queued time, outside the retry budget) instead of backing off for less than the platform's
window. Requests are logged at DEBUG on the ``engagement_kit.client`` logger
(method, URL, status, elapsed, attempt); the token is never logged.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from engagement_kit.client.http_status import answer_text, is_rate_limited, retry_after_seconds
from engagement_kit.errors import ApiConnectionError

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from engagement_kit.client.core import EngagementClient

__all__ = ["RETRY_STATUSES", "post"]

logger = logging.getLogger("engagement_kit.client")

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


#: An ``https://`` request answered by a plain-HTTP server: no retry cures it.
_TLS_MISMATCH_TEXT = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure")
#: Seconds a closed port (connection refused) is retried for: a server that is restarting
#: answers within them; a wrong port or host never does, so the run fails quickly.
REFUSED_BUDGET = 3.0


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 6:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_refused(exc: BaseException) -> bool:
    return any(isinstance(e, ConnectionRefusedError) for e in _causes(exc)) or (
        "Connection refused" in str(exc)
    )


def _is_tls_mismatch(exc: BaseException) -> bool:
    return any(t in str(e) for e in _causes(exc) for t in _TLS_MISMATCH_TEXT)


def connection_hint(exc: BaseException, host: str) -> str:
    """What to check for a connection that failed, in the user's words."""
    if _is_tls_mismatch(exc):
        plain = host.replace("https://", "http://", 1)
        return (
            f"the server at {host} does not speak TLS: is KORE_HOST plain http? (try {plain}; "
            "plain http is only accepted for a loopback host)"
        )
    if _is_refused(exc):
        return (
            f"nothing listens at {host} (connection refused): check the port and the scheme "
            "of KORE_HOST, and that the server is running"
        )
    return "check KORE_HOST, your network or proxy, and try again later"


def _is_transient(exc: BaseException) -> bool:
    """A network failure worth retrying: not a refused TLS certificate or a host name that does
    not exist, which no retry can cure (so a typo in KORE_HOST fails at once, not after the
    backoff). A temporary DNS failure (``EAI_AGAIN``, "Temporary failure in name resolution")
    is retried like any other transient network error."""
    if not isinstance(exc, _RETRY_EXCEPTIONS):
        return False
    if _is_tls_mismatch(exc):
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


_MIN_RETRY_WINDOW = 0.05  # seconds of budget below which no further attempt is made


def _should_retry_response(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES or is_rate_limited(response)


def _describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({exc.__class__.__name__}, timeout {timeout:g}s)"
    detail = str(exc).strip()
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__


def _backoff_refused(state: RetryCallState) -> float:
    """The wait before retrying a refused connection: 0.25 s, 0.5 s, then 1 s."""
    return min(1.0, 0.25 * 2 ** (state.attempt_number - 1))


class _RetriedPost:
    """One POST's attempts: the time they may take, what to wait between them, when to stop.

    tenacity calls :meth:`send`, :meth:`wait`, :meth:`stop` and :meth:`before_sleep`; the
    counters (attempts, seconds queued in the client-side rate limiter) live here.
    """

    def __init__(
        self,
        client: EngagementClient,
        full_url: str,
        limiter_key: str,
        body: Mapping[str, Any] | None,
    ) -> None:
        from tenacity.wait import wait_exponential_jitter

        self.client = client
        self.full_url = full_url
        self.url = full_url.split("?", 1)[0]
        self.limiter_key = limiter_key
        self.body = body
        self.credentials = client.credentials  # ConfigError here, before anything is sent
        self.started = client.clock()
        self.queued = 0.0  # seconds spent waiting for the client-side rate limiter
        self.attempts = 0
        self.backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)

    def remaining(self) -> float:
        """Seconds of the retry budget left (time queued in the rate limiter does not count)."""
        return self.client.retry_budget - (self.client.clock() - self.started - self.queued)

    def spent(self) -> float:
        return max(0.0, self.client.clock() - self.started - self.queued)  # no "-0.0s"

    def retry_after_of(self, state: RetryCallState) -> float | None:
        outcome = state.outcome
        if outcome is None or outcome.failed:
            return None
        return retry_after_seconds(outcome.result(), self.client.clock())

    def wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed and is_rate_limited(outcome.result()):
            # send() recorded a cool-down in the rate limiter (shared by every process on the
            # machine): the next attempt waits there, as queued time
            return 0.0
        if outcome is not None and outcome.failed and _is_refused(outcome.exception()):  # type: ignore[arg-type]
            return max(0.0, min(_backoff_refused(state), self.remaining()))
        hinted = self.retry_after_of(state)
        delay = hinted if hinted is not None else self.backoff(state)
        return max(0.0, min(delay, self.remaining()))

    def stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self.client.max_retries:
            return True
        outcome = state.outcome
        refused = outcome is not None and outcome.failed and _is_refused(outcome.exception())  # type: ignore[arg-type]
        if refused and self.spent() + _backoff_refused(state) > REFUSED_BUDGET:
            return True  # a closed port: a short bounded wait, not the whole budget
        left = self.remaining()
        hinted = self.retry_after_of(state)
        # a last sliver of budget is not worth an attempt (and float rounding of epoch
        # seconds must not turn it into a run of zero-length waits)
        return left <= _MIN_RETRY_WINDOW or (hinted is not None and hinted > left)

    def before_sleep(self, state: RetryCallState) -> None:
        outcome = state.outcome
        assert outcome is not None
        if outcome.failed:
            why = _describe_failure(outcome.exception(), self.client.timeout)  # type: ignore[arg-type]
        else:
            why = f"HTTP {outcome.result().status_code}"
        when = f"in {state.upcoming_sleep:.2f}s"
        if not outcome.failed and is_rate_limited(outcome.result()):
            when = "after the stream's cool-down in the rate limiter"
        logger.info(
            "POST %s: %s; retrying %s (attempt %d of %d)",
            self.url,
            why,
            when,
            state.attempt_number + 1,
            self.client.max_retries + 1,
        )
        notice = getattr(self.client, "retry_notice", None)
        if notice is not None:  # the command line says so as it waits
            notice(
                f"waiting: {self.client.host} {why}; retrying {when} "
                f"(attempt {state.attempt_number + 1} of {self.client.max_retries + 1})"
            )

    def send(self) -> httpx.Response:
        client = self.client
        self.attempts += 1
        self.queued += client.rate_limiter.acquire(self.limiter_key)
        headers = {"auth": self.credentials.token(now=client.clock())}
        t0 = time.perf_counter()
        try:
            response = client.http.post(self.full_url, headers=headers, json=self.body)
        except httpx.TransportError as exc:
            logger.debug(
                "POST %s failed after %.3fs (attempt %d): %s",
                self.full_url,
                time.perf_counter() - t0,
                self.attempts,
                exc.__class__.__name__,
            )
            raise
        logger.debug(
            "POST %s -> %d in %.3fs (attempt %d)",
            self.full_url,
            response.status_code,
            time.perf_counter() - t0,
            self.attempts,
        )
        if is_rate_limited(response):
            # the platform's window is full, whatever our send log says (another machine, a
            # restarted process without the budget file): nobody sends for this stream until
            # its Retry-After, else a whole window, has passed
            hinted = retry_after_seconds(response, client.clock())
            client.rate_limiter.cool_down(
                self.limiter_key, hinted if hinted is not None else client.rate_limiter.window
            )
        return response


def post(
    client: EngagementClient,
    full_url: str,
    *,
    limiter_key: str,
    describe: str,
    body: Mapping[str, Any] | None = None,
    days: int | None = None,
) -> str:
    """POST ``full_url`` (with a JSON ``body``, if any) for ``client``, paced by its rate limiter
    under ``limiter_key`` and retried; return the body of a 2xx answer or raise. ``days`` is the
    trend query's length (for the hint of a 400)."""
    from tenacity import Retrying, retry_if_exception, retry_if_result

    attempt = _RetriedPost(client, full_url, limiter_key, body)
    retrying = Retrying(
        # a zero wait (after a 429 the rate limiter does the waiting) is no sleep at all
        sleep=lambda seconds: client.sleep(seconds) if seconds > 0 else None,
        stop=attempt.stop,
        wait=attempt.wait,
        retry=retry_if_exception(_is_transient) | retry_if_result(_should_retry_response),
        before_sleep=attempt.before_sleep,
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
    try:
        response = retrying(attempt.send)
    except httpx.TransportError as exc:
        hint = connection_hint(exc, client.host)
        raise ApiConnectionError(
            f"could not reach {client.host}: {_describe_failure(exc, client.timeout)}; gave up "
            f"after {attempt.attempts} attempt(s) in {attempt.spent():.1f}s: {hint}"
        ) from exc
    return answer_text(response, describe, full_url, attempt.attempts, days, now=client.clock())
