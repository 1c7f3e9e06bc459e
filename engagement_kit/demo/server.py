"""The demo platform over real HTTP on 127.0.0.1, with latency and fault injection.

:class:`DemoServer` serves a :class:`~engagement_kit.demo.platform.DemoPlatform` with the
standard library's threading HTTP server: for the same request it answers the same bytes as the
in-process ``httpx.MockTransport``. It listens on loopback only.

Faults (for reliability tests, and for users who want to watch the retries work). With
``fault_rate=p`` each request has probability ``p`` of a fault, drawn from ``faults`` by a
seedable RNG; ``script`` forces the faults of the first requests (``None`` = no fault):

=====================  ========================================================================
``"503"``              503 with a JSON error body, the platform is not asked
``"slow"``             the right answer, after ``slow_seconds`` (set it above the client timeout)
``"drop"``             headers and half the body, then the connection is closed
``"429"``              a burst: this and the next ``burst_429 - 1`` requests get the platform's
                       429 (no ``Retry-After``)
``"429_retry_after"``  one 429 with a ``Retry-After: <retry_after>`` header
``"truncated"``        200 whose JSON body is cut in half (``Content-Length`` matches the cut)
``"not_json"``         200, ``application/json``, but the body is not JSON
``"html_200"``         200 with an HTML page (a captive portal or a wrong host)
``"html_502"``         502 with a proxy's HTML error page
``"wrong_content_type"``  the right JSON body labelled ``text/plain``
=====================  ========================================================================

Use :func:`running_server` in tests (it stops cleanly, idle keep-alive connections included) and
:func:`serve` for ``engagement-kit serve-demo``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from engagement_kit.demo.platform import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    RATE_LIMIT_MESSAGE,
    DemoPlatform,
    error_response,
)

__all__ = [
    "DEFAULT_FAULTS",
    "FAULT_KINDS",
    "DemoServer",
    "ServerStats",
    "running_server",
    "serve",
]

log = logging.getLogger(__name__)

#: Every fault the server can inject.
FAULT_KINDS: tuple[str, ...] = (
    "503",
    "slow",
    "drop",
    "429",
    "429_retry_after",
    "truncated",
    "not_json",
    "html_200",
    "html_502",
    "wrong_content_type",
)
#: The faults drawn at random by default: the ones a healthy client should retry through.
DEFAULT_FAULTS: tuple[str, ...] = ("503", "slow", "drop", "429")
_LOOPBACK = "127.0.0.1"
_HTML_200 = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><h1>Please sign in to continue</h1></body></html>"
)
_HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


class ServerStats:
    """Thread-safe counts of what the server did.

    Attributes
    ----------
    requests : int
        Requests received.
    by_status : dict[int, int]
        Answers sent, per HTTP status (429s from the rate limit and from faults included).
    faults : dict[str, int]
        Faults injected, per kind.
    dropped : int
        Connections closed mid-answer.

    Each read is a consistent snapshot taken under the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._status: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._dropped = 0

    def record(self, *, request: bool = False, status: int | None = None, fault: str = "") -> None:
        """Count one request, answer status or fault (the server calls it for each)."""
        with self._lock:
            self._requests += request
            if status is not None:
                self._status[status] += 1
            if fault:
                self._faults[fault] += 1
                self._dropped += fault == "drop"

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def by_status(self) -> dict[int, int]:
        with self._lock:
            return dict(self._status)

    @property
    def faults(self) -> dict[str, int]:
        with self._lock:
            return dict(self._faults)

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._dropped

    def count(self, status: int) -> int:
        """Answers sent with this status."""
        with self._lock:
            return self._status[status]

    def __repr__(self) -> str:
        return (
            f"<ServerStats requests={self.requests} by_status={self.by_status} "
            f"faults={self.faults}>"
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "engagement-kit-demo"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    # headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers (~40 ms per keep-alive request on Linux loopback)
    disable_nagle_algorithm = True
    server: _HTTPServer
    body = b""

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # the Date header tells the platform's time: its clock (which a test may set wrong)
        if timestamp is None:
            timestamp = self.server.owner.platform.clock()
        return super().date_time_string(timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.owner.answer(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True

    def __init__(self, owner: DemoServer, port: int) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((_LOOPBACK, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away (timeout, reset) or a stop mid-answer: not worth a traceback
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class DemoServer:
    """A :class:`DemoPlatform` served over HTTP on 127.0.0.1.

    Parameters
    ----------
    platform : DemoPlatform, optional
        What answers (default: a new one on the real clock).
    port : int
        0 picks a free port.
    latency_ms : float
        Added before every answer.
    fault_rate : float
        Probability that a request gets a fault (0..1).
    faults : sequence of str
        The kinds drawn from (see :data:`FAULT_KINDS`); default :data:`DEFAULT_FAULTS`.
    script : sequence of str or None
        Faults forced on the first ``len(script)`` requests, in order (``None`` = answer
        normally); after them ``fault_rate`` applies.
    seed : int, optional
        Seeds the fault RNG.
    slow_seconds : float
        How long a ``"slow"`` answer takes.
    burst_429 : int
        Length of a ``"429"`` burst.
    retry_after : int
        Seconds in the ``Retry-After`` header of ``"429_retry_after"``.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT`` once started.
    stats : ServerStats
    platform : DemoPlatform
    """

    def __init__(
        self,
        platform: DemoPlatform | None = None,
        *,
        port: int = 0,
        latency_ms: float = 0,
        fault_rate: float = 0.0,
        faults: Sequence[str] = DEFAULT_FAULTS,
        script: Sequence[str | None] = (),
        seed: int | None = None,
        slow_seconds: float = 5.0,
        burst_429: int = 3,
        retry_after: int = 1,
    ) -> None:
        unknown = [f for f in [*faults, *script] if f is not None and f not in FAULT_KINDS]
        if unknown:
            raise ValueError(
                f"unknown fault kind {unknown[0]!r}; choose from {', '.join(FAULT_KINDS)}"
            )
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        if fault_rate > 0 and not faults:
            raise ValueError("fault_rate > 0 needs at least one fault kind in 'faults'")
        if latency_ms < 0 or slow_seconds < 0 or burst_429 < 1 or retry_after < 0:
            raise ValueError("latency_ms, slow_seconds, retry_after >= 0 and burst_429 >= 1")
        self.platform = platform if platform is not None else DemoPlatform()
        self.port = port
        self.latency_ms = latency_ms
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.slow_seconds = slow_seconds
        self.burst_429 = burst_429
        self.retry_after = retry_after
        self.stats = ServerStats()
        self._script = list(script)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._burst_left = 0
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._httpd is None:
            raise RuntimeError("the demo server is not running; call start() first")
        return f"http://{_LOOPBACK}:{self._httpd.server_address[1]}"

    def start(self) -> DemoServer:
        """Bind and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("the demo server is already running")
        self._stop.clear()
        self._httpd = _HTTPServer(self, self.port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="engagement-kit-demo-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stop.set()  # ends latency and "slow" waits at once
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"<DemoServer {where} fault_rate={self.fault_rate} faults={self.faults}>"

    # -- answering ---------------------------------------------------------------------------
    def _next_fault(self) -> str | None:
        with self._lock:
            if self._burst_left > 0:
                self._burst_left -= 1
                return "429"
            if self._script:
                fault = self._script.pop(0)
            elif self.fault_rate > 0 and self._rng.random() < self.fault_rate:
                fault = self._rng.choice(self.faults)
            else:
                fault = None
            if fault == "429":
                self._burst_left = self.burst_429 - 1
            return fault

    def answer(self, handler: _Handler) -> None:
        """Answer one request of ``handler`` (the request handler calls it), faults included."""
        self.stats.record(request=True)
        fault = self._next_fault()
        if fault:
            self.stats.record(fault=fault)
        if self.latency_ms:
            self._stop.wait(self.latency_ms / 1000)

        if fault in ("503", "429", "429_retry_after"):
            status = int(fault[:3])
            msg = RATE_LIMIT_MESSAGE if status == 429 else "Service Unavailable"
            extra = {"Retry-After": str(self.retry_after)} if fault == "429_retry_after" else None
            response = error_response(status, msg, extra)
        elif fault == "html_200":
            response = httpx.Response(200, content=_HTML_200, headers={"Content-Type": "text/html"})
        elif fault == "html_502":
            response = httpx.Response(502, content=_HTML_502, headers={"Content-Type": "text/html"})
        else:
            response = self.platform.handle(
                httpx.Request(
                    handler.command,
                    f"http://{_LOOPBACK}:{handler.server.server_address[1]}{handler.path}",
                    headers=list(handler.headers.items()),
                    content=handler.body,
                )
            )
        status, body = response.status_code, response.content
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        if fault == "slow":
            if self._stop.wait(self.slow_seconds):
                return  # the server is stopping: the late answer is abandoned, not sent
        elif fault == "drop":
            return self._drop(handler, status, body, headers)
        elif fault == "truncated":
            body = body[: len(body) // 2]
        elif fault == "not_json":
            body = b"Service temporarily unavailable, please retry"
        elif fault == "wrong_content_type":
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
        # counted before sending: a client that has read the answer must find it in the stats
        self.stats.record(status=status)
        handler.send(status, body, headers)

    @staticmethod
    def _drop(
        handler: _Handler, status: int, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> None:
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def running_server(**options: Any) -> Iterator[DemoServer]:
    """Run a :class:`DemoServer` for the ``with`` block; it stops cleanly on exit.

    ``options`` are :class:`DemoServer`'s (``platform``, ``port``, ``latency_ms``,
    ``fault_rate``, ``faults``, ``script``, ``seed``, ...).

    Examples
    --------
    >>> with running_server(fault_rate=0.2, seed=1) as server:  # doctest: +SKIP
    ...     client = EngagementClient(server.url, credentials=...)
    """
    server = DemoServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


def serve(
    port: int = 8765,
    *,
    latency_ms: float = 0,
    fault_rate: float = 0.0,
    faults: Sequence[str] = DEFAULT_FAULTS,
    seed: int | None = None,
    platform: DemoPlatform | None = None,
    echo: Callable[[str], Any] = print,
    stop: threading.Event | None = None,
) -> ServerStats:
    """Serve the demo platform on ``http://127.0.0.1:PORT`` until Ctrl-C (or ``stop`` is set).

    Prints the host, client id and client secret to use (they open only the demo platform).

    Returns
    -------
    ServerStats
        What the server did, once it has stopped.
    """
    from engagement_kit.demo.sessions import DEMO_STREAMS

    stop = stop if stop is not None else threading.Event()
    with running_server(
        platform=platform,
        port=port,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        faults=faults,
        seed=seed,
    ) as server:
        echo(f"Demo platform listening on {server.url} (Ctrl-C to stop)")
        echo(f"  KORE_HOST={server.url}")
        echo(f"  KORE_CLIENT_ID={DEMO_CLIENT_ID}")
        echo(f"  KORE_CLIENT_SECRET={DEMO_CLIENT_SECRET}")
        echo("  streams: " + ", ".join(f"{s.id} ({s.name}, {s.tz})" for s in DEMO_STREAMS))
        if fault_rate:
            echo(f"  faults: {fault_rate:.0%} of requests get one of {', '.join(faults)}")
        p = server.platform
        echo(
            f"  unknowns: max days per request {p.max_days or 'unlimited'}, channels "
            f"{p.channel_mode}, new/returning overlap {'on' if p.overlap else 'off'}, "
            f"ignored filter {p.ignore_filter or 'none'}"
        )
        try:
            while not stop.wait(0.25):
                pass
        except KeyboardInterrupt:
            echo("Stopping the demo platform ...")
    echo(f"Stopped after {server.stats.requests} requests.")
    return server.stats
