"""The exception tree of engagement-kit.

Every error the toolkit raises on purpose is an :class:`EngagementError`::

    EngagementError
    ├── ConfigError            missing host/credentials, unreadable settings: names what to set
    ├── InvalidQueryError      (also ValueError) bad dates, enums, zone, stream id: before any request
    ├── ApiError               carries status, message and request URL (never the token)
    │   ├── AuthError          401/403: hints at the JWT app, the API scope, publishing
    │   ├── NotFoundError      404: unknown stream
    │   ├── RateLimitError     429 after retries: carries retry_after
    │   └── ServerError        5xx after retries
    ├── ApiConnectionError     network failures after retries
    ├── ResponseFormatError    the answer is not the documented shape: says which field
    ├── StoreError             the response store file is unreadable or corrupt: names file and fix
    ├── ReportError            a report could not be written: says which stream and why
    ├── WriteError             (also OSError) a file could not be written (full disk, read-only
    │                          folder): names the file and the cause; the file is unchanged
    └── DashboardError         the Voilà dashboard could not start: port taken, Voilà failed

Messages are written for an analyst: what was wrong and how to fix it. They never contain
a client secret or a JWT.
"""

from __future__ import annotations

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AuthError",
    "ConfigError",
    "DashboardError",
    "EngagementError",
    "InvalidQueryError",
    "NotFoundError",
    "RateLimitError",
    "ReportError",
    "ResponseFormatError",
    "ServerError",
    "StoreError",
    "WriteError",
]


class EngagementError(Exception):
    """Base class of every error engagement-kit raises on purpose."""


class ConfigError(EngagementError):
    """Settings are missing or unusable (host, credentials, ``streams.toml``)."""


class InvalidQueryError(EngagementError, ValueError):
    """A query parameter is invalid; raised before any request is sent.

    Attributes
    ----------
    field : str or None
        The offending parameter, e.g. ``"tz"``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ApiError(EngagementError):
    """The platform answered with an error status.

    Attributes
    ----------
    status : int
        The HTTP status code.
    message : str
        The platform's own message, when it sent one.
    url : str
        The request URL (it never carries the token: that travels in a header).
    """

    def __init__(self, message: str, *, status: int, url: str = "", hint: str = "") -> None:
        self.status = status
        self.message = message
        self.url = url
        self.hint = hint
        text = f"HTTP {status}: {message}"
        if url:
            text += f" (POST {url})"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


class AuthError(ApiError):
    """401/403: the token was refused or the app lacks the API scope."""


class NotFoundError(ApiError):
    """404: the stream (app) id is unknown to this host."""


class RateLimitError(ApiError):
    """429 after all retries. ``retry_after`` is seconds to wait, when known."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        url: str = "",
        hint: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url, hint=hint)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx after all retries."""


class ApiConnectionError(EngagementError):
    """The platform could not be reached (DNS, refused, reset, timeout) after all retries."""


class ResponseFormatError(EngagementError):
    """The answer is not the documented shape.

    Attributes
    ----------
    field : str or None
        Dotted path of the offending field, e.g. ``"uniqueUsersTrend.dataPoints[3].date"``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        if field and field not in message:
            message = f"{field}: {message}"
        super().__init__(message)
        self.field = field


class StoreError(EngagementError):
    """The response store cannot be opened or read; the message names the file and the fix."""


class ReportError(EngagementError):
    """A report could not be produced; the message names the stream and the cause."""


class WriteError(EngagementError, OSError):
    """A file could not be written (out of space, a read-only folder, any ``OSError``): the
    message names the file and the cause; the file keeps the bytes it had before."""

    def __init__(self, message: str, *, path: str = "", errno_: int | None = None) -> None:
        Exception.__init__(self, message)
        self.path = path
        self.errno = errno_

    def __str__(self) -> str:
        return str(self.args[0])


class DashboardError(EngagementError):
    """The dashboard could not start: port taken, Voilà missing or exited, or too slow."""
