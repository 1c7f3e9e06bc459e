"""The checks that ask the platform: the token minted and accepted, one row per stream, and the
local clock against the platform's ``Date`` header."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import jwt
import pandas as pd

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.client.http_status import auth_fix
from engagement_kit.config.streams import StreamConfig
from engagement_kit.config.weeks import today_in
from engagement_kit.doctor.cohorts import sessions_check
from engagement_kit.doctor.local import stream_label
from engagement_kit.doctor.model import (
    CLOCK_TOLERANCE,
    FAIL,
    OK,
    Check,
    Exchange,
    duration_text,
    skipped_check,
)
from engagement_kit.errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    ConfigError,
    EngagementError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)

_SCOPE_FIX = (
    'publish the "User Engagement Trend" API scope for the app (the app\'s API scopes: add '
    "it, then publish the app), and check that KORE_CLIENT_ID is that app's client id (the "
    "token's appId) and KORE_CLIENT_SECRET its client secret"
)
_STREAM_FIX = (
    "check the stream id on the app's General Settings page, and that KORE_HOST is the host "
    "(region) where the app lives"
)


def check_mint(credentials: Credentials, clock: Callable[[], float]) -> Check:

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
        f"expires in {duration_text(exp - now)}"
        if isinstance(exp, int | float)
        else "no expiry set"
    )
    if credentials.mode == "token":
        return Check("token minted", OK, f"KORE_JWT (not shown) is used as given; {lasts}")
    return Check(
        "token minted", OK, f"HS256 JWT for appId {credentials.client_id} (not shown); {lasts}"
    )


def ask_streams(
    host: str,
    credentials: Credentials,
    streams: Sequence[StreamConfig],
    timeout: float,
    clock: Callable[[], float],
    exchanges: list[Exchange],
) -> list[Check]:
    """One one-day request per stream (yesterday in its zone), no retries, no store."""

    def sent(request: httpx.Request) -> None:
        exchanges.append(Exchange(sent=clock()))

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
        # The Date header of each answer is needed for the clock check: the event hooks of the
        # client's httpx.Client (client.http) see every answer.
        client.http.event_hooks = {"request": [sent], "response": [answered]}
        for stream in streams:
            name = stream_label(stream)
            if stop_why:
                results.append(skipped_check(name, stop_why))
                continue
            day = today_in(stream.tz, now=dt.datetime.fromtimestamp(clock(), dt.UTC))
            day -= dt.timedelta(days=1)
            asked = f"{stream.id}, {day} in {stream.tz}"
            try:
                data = client.fetch(stream.id, day, day, **stream.filters())
            except EngagementError as exc:
                if isinstance(exc, ApiError) and exchanges:
                    exchanges[-1].message = exc.message
                check, stop_why = stream_failure(name, asked, exc)
                results.append(check)
                continue
            users = data.summary.get("unique_users")
            shown = f"{int(users):,} unique users" if _is_number(users) else "answered"
            results.append(Check(name, OK, f"{asked}: {shown}"))
            if stream.cohorts:  # opted in: sessions vs trend for the last complete week
                results.append(sessions_check(client, stream, Check))
    return results


def stream_failure(name: str, asked: str, exc: EngagementError) -> tuple[Check, str]:
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


def check_accepted(
    exchanges: Sequence[Exchange],
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
        return skipped_check(name, why)
    refused = [e for e in answered if e.status in (401, 403)]
    judged = [
        e
        for e in answered
        if e.status is not None and e.status not in (401, 403, 429) and e.status < 500
    ]
    if judged:
        return Check(name, OK, f"the platform accepted it ({len(judged)} answer(s) not 401/403)")
    if not refused:
        return skipped_check(name, "the platform answered only with errors (see the streams)")
    status = refused[0].status
    said = next((auth_fix(e.message) for e in refused if auth_fix(e.message)), None)
    fix = said or _SCOPE_FIX  # the platform's own words first, when it gave some
    if clock_check.status == FAIL:
        fix = f"first set the local clock right (see 'clock'): tokens carry exp; then {fix}"
    what = (
        f"HTTP {status}: {refused[0].message}" if said else f"HTTP {status} for every stream asked"
    )
    return Check(name, FAIL, what, fix)


def check_clock(exchanges: Sequence[Exchange]) -> Check:
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
                f"the local clock is {duration_text(abs(skew))} {side} the platform's (its Date "
                "header)",
                "set the clock right and keep it synchronised (e.g. timedatectl set-ntp true); "
                "tokens carry iat and exp, so the platform refuses tokens from a wrong clock",
            )
    return skipped_check(name, "no answer with a Date header")


def _is_number(value: Any) -> bool:
    try:
        return value is not None and not bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
