"""What an HTTP answer of the platform means: the body of a 2xx, else the matching error of
:mod:`engagement_kit.errors` with the platform's own words and a hint how to fix it.

Shared by every endpoint the client calls (the trend API, getSessions). The token is never put in
a message, even when the platform echoes it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import math
import re
from collections.abc import Mapping

import httpx

from engagement_kit.errors import ApiError, AuthError, NotFoundError, RateLimitError, ServerError

__all__ = ["answer_text", "auth_fix", "is_rate_limited", "platform_message", "retry_after_seconds"]

#: The platform's documented rate-limit message; treated as a 429 whatever the status.
_RATE_LIMIT_TEXT = "rate limit for this api has been reached"
_MESSAGE_LIMIT = 300

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


#: The platform's own words about a token, and the fix each one points at.
_SAID = (
    (
        "signature",
        "The platform says the token's signature does not match: KORE_CLIENT_SECRET is not "
        "the client secret of this app (copy it again from the app's JWT settings), or "
        "KORE_JWT was signed with another secret.",
    ),
    (
        "appid",
        "The platform says the token names another app: KORE_CLIENT_ID must be this app's "
        "client id (the JWT's appId).",
    ),
    (
        "expired",
        "The platform says the token has expired: check the computer's clock, or get a new "
        "KORE_JWT.",
    ),
)


def auth_fix(message: str) -> str | None:
    """The fix the platform's own words point at (``the JWT signature does not match`` →
    check the client secret), or ``None`` when they say nothing specific."""
    lowered = message.lower()
    return next((fix for word, fix in _SAID if word in lowered), None)


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
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


def platform_message(response: httpx.Response) -> str:
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


def is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code in (400, 403):
        return _RATE_LIMIT_TEXT in platform_message(response).lower()
    return False


def answer_text(
    response: httpx.Response,
    describe: str,
    url: str,
    attempts: int,
    days: int | None = None,
    *,
    now: float,
) -> str:
    """Return the body of a 2xx answer; raise the matching error for anything else.

    ``describe`` names the query (for the hint of a 400), ``attempts`` how many were made,
    ``days`` the trend query's length, ``now`` the POSIX time (for an HTTP-date
    ``Retry-After``).
    """
    status = response.status_code
    if 200 <= status < 300:
        return response.text
    message = platform_message(response)
    token = response.request.headers.get("auth")
    if token and token in message:  # never echo a token, even if the platform does
        message = message.replace(token, "<token>")
    tried = f" (after {attempts} attempts)" if attempts > 1 else ""
    if is_rate_limited(response):
        retry_after = retry_after_seconds(response, now)
        hint = _HINTS[429]
        if retry_after is not None:
            hint += f" The platform asks to wait {retry_after:.0f}s."
        raise RateLimitError(
            message + tried, status=status, url=url, hint=hint, retry_after=retry_after
        )
    if status in (401, 403):
        hint = (auth_fix(message) if status == 401 else None) or _HINTS[status]
        raise AuthError(message, status=status, url=url, hint=hint)
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
