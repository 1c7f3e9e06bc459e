"""``engagement-kit doctor``: is everything in place to fetch your streams? Checked in order.

The first command to run after filling ``.env``. Each check builds on the ones before it, so
the first ✘ is the one to fix; checks that cannot run because of it are shown as skipped:

1. **settings**: where they were read (the environment, the project folder's ``.env``),
   ``KORE_HOST``, the credentials (never shown);
2. **streams.toml**: the project's streams (or ``--config FILE``'s);
3. **host name**: ``KORE_HOST``'s name resolves (DNS);
4. **TLS handshake**: the certificate is trusted (plain ``http://`` is only allowed to a
   loopback demo or test server, where the check is that the port answers);
5. **token minted**: a JWT can be made from the client id and secret (or ``KORE_JWT`` is
   still valid);
6. **token accepted**: the platform did not answer 401/403;
7. **one row per stream**: the stream answers a one-day request (yesterday in its zone);
8. **clock**: the local clock agrees with the platform's ``Date`` header within a minute
   (tokens carry ``iat`` and ``exp``, so a wrong clock gets them refused);
9. **store**: the response store can be written.

At most one request per stream: the client runs without retries and without the store (so the
platform is really asked). The checks never print a secret or a token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import os
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    ConfigError,
    EngagementError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    StoreError,
)
from .terminal import display_path, plain_output

if TYPE_CHECKING:
    from rich.console import Console

    from .auth import Credentials
    from .config import StreamConfig
    from .settings import Settings

__all__ = [
    "CLOCK_TOLERANCE",
    "Check",
    "Diagnosis",
    "diagnose",
    "print_diagnosis",
]

#: Seconds the local clock may differ from the platform's before the check fails.
CLOCK_TOLERANCE = 60.0
#: Seconds allowed for each network step (DNS is the system's own timeout).
DEFAULT_TIMEOUT = 10.0

OK, FAIL, SKIP = "ok", "fail", "skip"
MARKS = {OK: "✔", FAIL: "✘", SKIP: "–"}
_STYLES = {OK: "green", FAIL: "bold red", SKIP: "dim"}
#: No real stream has this id: clearing its answers is a write that changes nothing.
_PROBE_STREAM = "engagement-kit-doctor-probe"

_SCOPE_FIX = (
    'publish the "User Engagement Trend" API scope for the app (the app\'s API scopes: add '
    "it, then publish the app), and check that KORE_CLIENT_ID is that app's client id (the "
    "token's appId) and KORE_CLIENT_SECRET its client secret"
)
_STREAM_FIX = (
    "check the stream id on the app's General Settings page, and that KORE_HOST is the host "
    "(region) where the app lives"
)


@dataclasses.dataclass(frozen=True)
class Check:
    """One row of the diagnosis.

    Attributes
    ----------
    name : str
        What was checked, e.g. ``"host name"`` or ``"stream Support bot"``.
    status : {"ok", "fail", "skip"}
        ``skip``: not checked, because a check before it failed.
    detail : str
        What was found (never a secret).
    fix : str
        For a failure: what to do about it.
    settings : bool
        A failure here is a settings problem (exit status 2, not 1).
    """

    name: str
    status: str
    detail: str
    fix: str = ""
    settings: bool = False

    @property
    def mark(self) -> str:
        return MARKS[self.status]


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """Every check, in order."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.status == OK for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when all passed, 2 when the settings are wrong, 1 for any other failure."""
        if self.ok:
            return 0
        return 2 if any(c.status == FAIL and c.settings for c in self.checks) else 1

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.checks)


@dataclasses.dataclass
class _Exchange:
    """One request the doctor sent: when, and what came back."""

    sent: float
    received: float | None = None
    status: int | None = None
    date: str | None = None


def diagnose(
    *,
    config: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> Diagnosis:
    """Run every check in order (see the module docstring) and return them all.

    Parameters
    ----------
    config : path, optional
        The ``streams.toml`` to check (default the project folder's).
    timeout : float
        Seconds for each network step.
    clock : callable
        The local clock (POSIX seconds); for tests.

    Returns
    -------
    Diagnosis
    """
    checks: list[Check] = []
    add = checks.append

    # 1. settings -----------------------------------------------------------------------------
    settings, host, credentials, settings_check = _settings()
    add(settings_check)
    streams, streams_check = _streams(config, settings)
    add(streams_check)

    # 3-4. the way to the host ------------------------------------------------------------------
    reachable = False
    if host is None:
        add(_skipped("host name", "no usable KORE_HOST (see settings)"))
        add(_skipped("TLS handshake", "no usable KORE_HOST (see settings)"))
    else:
        parts = urlsplit(host)
        hostname = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = _proxy_for(parts.scheme, hostname)
        if proxy:
            where = f"through the proxy {_without_credentials(proxy)}"
            add(Check("host name", OK, f"{hostname}: resolved by the proxy ({where})"))
            add(Check("TLS handshake", OK, f"{where}: checked by the stream requests below"))
            reachable = True
        else:
            resolved = _resolve(hostname, port)
            add(resolved)
            if resolved.status == OK:
                connected = _connect(parts.scheme, hostname, port, timeout)
                add(connected)
                reachable = connected.status == OK
            else:
                add(_skipped("TLS handshake", "the host name does not resolve"))

    # 5. the token ------------------------------------------------------------------------------
    minted = False
    if credentials is None:
        add(_skipped("token minted", "no credentials (see settings)"))
    else:
        token_check = _mint(credentials, clock)
        add(token_check)
        minted = token_check.status == OK

    # 6-8. the platform: one request per stream -------------------------------------------------
    exchanges: list[_Exchange] = []
    accepted_at = len(checks)
    add(_skipped("token accepted", "not asked"))  # replaced below
    if host is None or credentials is None or not minted:
        why = "the checks above failed"
        checks.extend(_skipped(_stream_name(s), why) for s in streams)
    elif not reachable:
        checks.extend(_skipped(_stream_name(s), f"{host} cannot be reached") for s in streams)
    else:
        checks.extend(_ask_streams(host, credentials, streams, timeout, clock, exchanges))
    clock_check = _clock_check(exchanges)
    checks[accepted_at] = _accepted(exchanges, streams, clock_check, reachable)
    add(clock_check)

    # 9. the store ------------------------------------------------------------------------------
    add(_store_check())
    return Diagnosis(tuple(checks))


# -- the checks ------------------------------------------------------------------------------------
def _skipped(name: str, why: str) -> Check:
    return Check(name, SKIP, f"not checked: {why}")


def _settings() -> tuple[Settings | None, str | None, Credentials | None, Check]:
    from .auth import credentials_from_env
    from .config import host_from_env
    from .settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        return None, None, None, Check("settings", FAIL, "cannot read them", str(exc), True)
    if settings.env_file is not None:
        found = [f"read {display_path(settings.env_file)}"]
    else:
        found = [f"no .env read: {settings.where()}"]
    problems: list[str] = []
    host: str | None = None
    credentials = None
    try:
        host = host_from_env()
        found.append(f"KORE_HOST={host}")
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        credentials = credentials_from_env()
        if credentials.client_id is not None:
            found.append(f"client id {credentials.client_id} + secret (not shown)")
        else:
            found.append("KORE_JWT (not shown)")
    except ConfigError as exc:
        problems.append(str(exc))
    detail = "; ".join(found)
    if problems:
        check = Check("settings", FAIL, detail, "; ".join(problems), settings=True)
        return settings, host, credentials, check
    return settings, host, credentials, Check("settings", OK, detail)


def _streams(
    config: str | os.PathLike[str] | None, settings: Settings | None
) -> tuple[list[StreamConfig], Check]:
    from .config import load_streams, project_streams

    path = Path(config) if config is not None else (settings.streams_file if settings else None)
    try:
        if config is not None:
            streams = load_streams(config)
        elif settings is None:
            raise ConfigError("no settings to find the project's streams.toml (see settings)")
        else:
            streams = project_streams(settings)
    except ConfigError as exc:
        shown = f"cannot use {display_path(path)}" if path is not None else "no streams.toml"
        return [], Check("streams.toml", FAIL, shown, str(exc), True)
    names = ", ".join(s.name for s in streams)
    count = f"{len(streams)} stream{'s' if len(streams) != 1 else ''}"
    return streams, Check("streams.toml", OK, f"{count} in {display_path(path)} ({names})")


def _stream_name(stream: StreamConfig) -> str:
    return f"stream {stream.name}"


def _proxy_for(scheme: str, hostname: str) -> str | None:
    """The proxy httpx would use for this host (from ``HTTPS_PROXY`` and friends), if any."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(hostname):
        return None
    return proxy


def _without_credentials(url: str) -> str:
    """A proxy URL without the user and password it may carry."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _resolve(hostname: str, port: int) -> Check:
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Check(
            "host name",
            FAIL,
            f"{hostname} does not resolve ({exc})",
            "check KORE_HOST for a typo and the region (e.g. https://platform.kore.ai), then "
            "your network, VPN or DNS",
        )
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    shown = ", ".join(addresses[:3]) + (" …" if len(addresses) > 3 else "")
    return Check("host name", OK, f"{hostname} → {shown}")


def _connect(scheme: str, hostname: str, port: int, timeout: float) -> Check:
    name = "TLS handshake"
    where = f"{hostname}:{port}"
    try:
        with socket.create_connection((hostname, port), timeout=timeout) as sock:
            if scheme != "https":
                return Check(
                    name,
                    OK,
                    f"{where} answers; plain http:// to a loopback demo or test server, so "
                    "there is no TLS to check",
                )
            import httpx

            context = httpx.create_ssl_context()  # what the client verifies with
            with context.wrap_socket(sock, server_hostname=hostname) as tls:
                version = tls.version() or "TLS"
                cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return Check(
            name,
            FAIL,
            f"{where}: the certificate is not trusted ({exc.verify_message or exc})",
            "check that KORE_HOST is the platform's API host; if your company inspects TLS, "
            "point SSL_CERT_FILE at its CA bundle",
        )
    except ssl.SSLError as exc:
        return Check(
            name,
            FAIL,
            f"{where}: TLS failed ({exc.reason or exc})",
            "check that KORE_HOST is the platform's https:// API host and that nothing on "
            "the way (proxy, firewall) intercepts the connection",
        )
    except ConnectionRefusedError:
        fix = (
            "nothing listens there: check the port in KORE_HOST, or start the server "
            "(engagement-kit serve-demo for the demo platform)"
            if scheme == "http"
            else "check KORE_HOST (host and port) and that a firewall lets you reach it"
        )
        return Check(name, FAIL, f"{where}: connection refused", fix)
    except TimeoutError:
        return Check(
            name,
            FAIL,
            f"{where}: no answer within {timeout:g} s",
            "check your network, firewall or VPN; behind a proxy, set HTTPS_PROXY",
        )
    except OSError as exc:
        return Check(
            name,
            FAIL,
            f"{where}: cannot connect ({exc.strerror or exc})",
            "check KORE_HOST and your network",
        )
    until = cert.get("notAfter")
    expires = f", certificate valid until {until}" if until else ""
    return Check(name, OK, f"{where}: {version}{expires}")


def _mint(credentials: Credentials, clock: Callable[[], float]) -> Check:
    import jwt

    now = clock()
    try:
        token = credentials.token(now=now)
    except ConfigError as exc:
        return Check("token minted", FAIL, "the ready-made token cannot be used", str(exc), True)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        claims = {}
    exp = claims.get("exp")
    lasts = (
        f"expires in {_duration(exp - now)}" if isinstance(exp, int | float) else "no expiry set"
    )
    if credentials.mode == "token":
        return Check("token minted", OK, f"KORE_JWT (not shown) is used as given; {lasts}")
    return Check(
        "token minted", OK, f"HS256 JWT for appId {credentials.client_id} (not shown); {lasts}"
    )


def _ask_streams(
    host: str,
    credentials: Credentials,
    streams: Sequence[StreamConfig],
    timeout: float,
    clock: Callable[[], float],
    exchanges: list[_Exchange],
) -> list[Check]:
    """One one-day request per stream (yesterday in its zone), no retries, no store."""
    import httpx

    from .client import EngagementClient
    from .weeks import today_in

    def sent(request: httpx.Request) -> None:
        exchanges.append(_Exchange(sent=clock()))

    def answered(response: httpx.Response) -> None:
        exchange = exchanges[-1]
        exchange.received = clock()
        exchange.status = response.status_code
        exchange.date = response.headers.get("date")

    results: list[Check] = []
    stop_why = ""
    with EngagementClient(
        host,
        credentials=credentials,
        store=False,  # really ask
        max_retries=0,  # one request per stream, whatever happens
        timeout=timeout,
        clock=clock,
    ) as client:
        # The Date header of each answer is needed for the clock check; the client keeps its
        # httpx.Client private, and its event hooks are the one way to see the answers.
        client._http.event_hooks = {"request": [sent], "response": [answered]}
        for stream in streams:
            name = _stream_name(stream)
            if stop_why:
                results.append(_skipped(name, stop_why))
                continue
            day = today_in(stream.tz, now=dt.datetime.fromtimestamp(clock(), dt.UTC))
            day -= dt.timedelta(days=1)
            asked = f"{stream.id}, {day} in {stream.tz}"
            try:
                data = client.fetch(stream.id, day, day, **stream.filters())
            except EngagementError as exc:
                check, stop_why = _stream_failure(name, asked, exc)
                results.append(check)
                continue
            users = data.summary.get("unique_users")
            shown = f"{int(users):,} unique users" if _is_number(users) else "answered"
            results.append(Check(name, OK, f"{asked}: {shown}"))
    return results


def _stream_failure(name: str, asked: str, exc: EngagementError) -> tuple[Check, str]:
    """The row of a stream whose request failed, and why later streams are not asked ("")."""
    if isinstance(exc, ApiError):
        said = f"{asked}: HTTP {exc.status}: {exc.message}"
        if isinstance(exc, AuthError) and exc.status == 401:
            return Check(name, FAIL, said, "see 'token accepted'"), "the platform refused the token"
        if isinstance(exc, AuthError):
            return Check(name, FAIL, said, _SCOPE_FIX + "; and that the app owns this stream"), ""
        if isinstance(exc, NotFoundError):
            return Check(name, FAIL, said, _STREAM_FIX), ""
        if isinstance(exc, RateLimitError):
            return Check(
                name,
                FAIL,
                said,
                "the stream's rate limit (60 requests a minute) is used up by something else "
                "calling it; run doctor again in a minute",
            ), ""
        if isinstance(exc, ServerError):
            return Check(name, FAIL, said, "the platform had a problem; try again later"), ""
        return Check(name, FAIL, said, exc.hint or "check the stream's filters and zone"), ""
    if isinstance(exc, ApiConnectionError):
        return Check(
            name, FAIL, f"{asked}: {exc}", "check KORE_HOST and your network"
        ), "the host stopped answering"
    if isinstance(exc, ResponseFormatError):
        return Check(
            name,
            FAIL,
            f"{asked}: the answer is not the API's JSON ({exc})",
            "KORE_HOST may point at a web page or a proxy's sign-in page; give the "
            "platform's API host, e.g. https://platform.kore.ai",
        ), ""
    return Check(name, FAIL, f"{asked}: {exc}", "see the message"), ""


def _accepted(
    exchanges: Sequence[_Exchange],
    streams: Sequence[StreamConfig],
    clock_check: Check,
    reachable: bool,
) -> Check:
    name = "token accepted"
    answered = [e for e in exchanges if e.status is not None]
    if not answered:
        why = "no stream was asked" if reachable and not streams else "no answer from the platform"
        if not reachable:
            why = "the host cannot be reached"
        return _skipped(name, why)
    refused = [e for e in answered if e.status in (401, 403)]
    judged = [e for e in answered if e.status not in (401, 403, 429) and e.status < 500]
    if judged:
        return Check(name, OK, f"the platform accepted it ({len(judged)} answer(s) not 401/403)")
    if not refused:
        return _skipped(name, "the platform answered only with errors (see the streams)")
    status = refused[0].status
    fix = _SCOPE_FIX
    if clock_check.status == FAIL:
        fix = f"first set the local clock right (see 'clock'): tokens carry exp; then {fix}"
    return Check(name, FAIL, f"HTTP {status} for every stream asked", fix)


def _clock_check(exchanges: Sequence[_Exchange]) -> Check:
    name = "clock"
    for exchange in exchanges:
        if exchange.date and exchange.received is not None:
            try:
                theirs = email.utils.parsedate_to_datetime(exchange.date)
            except (TypeError, ValueError, IndexError):
                continue
            if theirs.tzinfo is None:
                theirs = theirs.replace(tzinfo=dt.UTC)
            ours = (exchange.sent + exchange.received) / 2
            skew = ours - theirs.timestamp()  # > 0: ours is ahead
            # the Date header has whole seconds: allow the rounding and the round trip
            slack = 1.0 + (exchange.received - exchange.sent) / 2
            if abs(skew) <= CLOCK_TOLERANCE + slack:
                return Check(name, OK, f"within {abs(skew):.0f} s of the platform's Date header")
            side = "ahead of" if skew > 0 else "behind"
            return Check(
                name,
                FAIL,
                f"the local clock is {_duration(abs(skew))} {side} the platform's (its Date "
                "header)",
                "set the clock right and keep it synchronised (e.g. timedatectl set-ntp true); "
                "tokens carry iat and exp, so the platform refuses tokens from a wrong clock",
            )
    return _skipped(name, "no answer with a Date header")


def _store_check() -> Check:
    from .store import ResponseStore

    name = "store"
    try:
        store = ResponseStore()
    except (StoreError, ValueError) as exc:
        return Check(name, FAIL, str(exc), "set ENGAGEMENT_KIT_STORE to a writable file path")
    try:
        with store:
            store.clear(stream_id=_PROBE_STREAM)  # a write transaction that deletes nothing
    except StoreError as exc:
        return Check(
            name,
            FAIL,
            f"{display_path(store.path)} cannot be written",
            str(exc),
        )
    return Check(name, OK, f"{display_path(store.path)} is writable")


# -- helpers ---------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    try:
        import pandas as pd

        return value is not None and not bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = abs(float(seconds))
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def print_diagnosis(diagnosis: Diagnosis, console: Console) -> None:
    """A table of ✔/✘ with the fix of each ✘ (plain lines when not writing to a terminal)."""
    from rich.table import Table
    from rich.text import Text

    if plain_output(console):
        for check in diagnosis:
            line = f"{check.mark} {check.name}: {check.detail}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
            if check.fix:
                console.print(f"  fix: {check.fix}", markup=False, highlight=False, soft_wrap=True)
    else:
        table = Table(title="engagement-kit doctor", header_style="bold", show_lines=True)
        table.add_column("", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("result", overflow="fold")
        for check in diagnosis:
            result = Text(check.detail)
            if check.fix:
                result.append("\nfix: ", style="bold")
                result.append(check.fix)
            table.add_row(Text(check.mark, style=_STYLES[check.status]), Text(check.name), result)
        console.print(table)
    failed = sum(c.status == FAIL for c in diagnosis)
    skipped = sum(c.status == SKIP for c in diagnosis)
    if diagnosis.ok:
        console.print("All checks passed.", style="green", highlight=False)
    else:
        console.print(
            f"{failed} check(s) failed, {skipped} not checked: fix the first ✘ and run "
            "engagement-kit doctor again.",
            style="red",
            highlight=False,
            soft_wrap=plain_output(console),
        )
