"""Validated, normalised parameters of one User Engagement Trend request.

:class:`EngagementQuery` is the only way a request is described inside the toolkit. It is
validated when it is built, so an invalid query never reaches the network, and it never holds
a secret (it is safe to log, store, and pass to papermill).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from engagement_kit.errors import InvalidQueryError

__all__ = [
    "AGGREGATIONS",
    "CONVERSATION_STATUSES",
    "CONVERSATION_TYPES",
    "EngagementQuery",
    "enum_key",
    "parse_date",
]

Aggregation = Literal["daily", "hourly"]
ConversationType = Literal["all", "interactive", "non_interactive"]
ConversationStatus = Literal["all", "active", "closed"]

AGGREGATIONS: tuple[str, ...] = ("daily", "hourly")
CONVERSATION_TYPES: tuple[str, ...] = ("all", "interactive", "non_interactive")
CONVERSATION_STATUSES: tuple[str, ...] = ("all", "active", "closed")

#: How the platform spells our values in the query string.
PLATFORM_CONVERSATION_TYPE = {
    "all": "All",
    "interactive": "Interactive",
    "non_interactive": "Non Interactive",
}
PLATFORM_CONVERSATION_STATUS = {"all": "All", "active": "Active", "closed": "Closed"}

_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CHANNEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_DAYS = 3660  # ten years; anything longer is a typo, not a query

_ALLOWED = {
    "aggregation": AGGREGATIONS,
    "conversation_type": CONVERSATION_TYPES,
    "conversation_status": CONVERSATION_STATUSES,
}


def enum_key(value: object) -> str:
    """Fold the platform's and our spellings together: ``"Non Interactive"`` → ``non_interactive``."""
    return re.sub(r"[\s-]+", "_", str(value).strip().lower())


def parse_date(value: object, *, field: str = "date") -> dt.date:
    """Accept a ``date`` (not a ``datetime``) or a ``YYYY-MM-DD`` string.

    Raises
    ------
    InvalidQueryError
        For anything else, naming ``field`` and the accepted forms.
    """
    if isinstance(value, dt.datetime):
        raise InvalidQueryError(
            f"{field}: got a datetime ({value!r}); pass a date or 'YYYY-MM-DD' "
            "(the platform works in whole days of the query's time zone)",
            field=field,
        )
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidQueryError(
        f"{field}: {value!r} is not a date; give it as YYYY-MM-DD (e.g. 2025-12-01)",
        field=field,
    )


class EngagementQuery(BaseModel):
    """One request's parameters, validated and normalised.

    Build it with these fields as keyword arguments.

    Attributes
    ----------
    stream_id : str
        The app (stream) id: letters, digits, ``-`` and ``_`` only.
    start, end : date or str
        First and last day, both inclusive, in the query's time zone (``YYYY-MM-DD``).
    aggregation : {"daily", "hourly"}
        Also accepts the platform's ``"Daily"``/``"Hourly"``.
    conversation_type : {"all", "interactive", "non_interactive"}
        Also accepts ``"Non Interactive"`` and any case.
    conversation_status : {"all", "active", "closed"}
    channels : str, iterable of str or None
        One channel (``"rtm"``), a comma-separated string or a list; ``None``/``"all"`` = every channel.
    tz : str
        An IANA time-zone name such as ``"Asia/Kolkata"``; always sent to the platform.

    Raises
    ------
    InvalidQueryError
        Naming the field and the allowed values. Nothing is ever sent for an invalid query.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream_id: str
    start: dt.date
    end: dt.date
    aggregation: Aggregation = "daily"
    conversation_type: ConversationType = "all"
    conversation_status: ConversationStatus = "all"
    channels: tuple[str, ...] = ()
    tz: str = "UTC"

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _to_invalid_query(exc) from None

    # -- field normalisation -------------------------------------------------------------
    @field_validator("stream_id", mode="before")
    @classmethod
    def _check_stream_id(cls, value: object) -> str:
        if not isinstance(value, str) or not _STREAM_ID.fullmatch(value):
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            raise InvalidQueryError(
                f"stream_id: {shown} is not a valid stream id; use the app's id from its "
                "General Settings page (letters, digits, '-' and '_' only, at most 128)",
                field="stream_id",
            )
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _check_date(cls, value: object, info: Any) -> dt.date:
        return parse_date(value, field=info.field_name)

    @field_validator("aggregation", "conversation_type", "conversation_status", mode="before")
    @classmethod
    def _check_enum(cls, value: object, info: Any) -> str:
        allowed = _ALLOWED[info.field_name]
        key = enum_key(value) if isinstance(value, str) else None
        if key not in allowed:
            raise InvalidQueryError(
                f"{info.field_name}: {value!r} is not allowed; use one of "
                + ", ".join(repr(a) for a in allowed),
                field=info.field_name,
            )
        return key

    @field_validator("channels", mode="before")
    @classmethod
    def _check_channels(cls, value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            items: Iterable[object] = value.split(",")
        elif isinstance(value, Iterable):
            items = value
        else:
            items = [value]
        out: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidQueryError(
                    f"channels: {item!r} is not a channel name; give names such as 'rtm' or 'msteams'",
                    field="channels",
                )
            name = item.strip().lower()
            if not name:
                continue
            if not _CHANNEL.fullmatch(name):
                raise InvalidQueryError(
                    f"channels: {item!r} is not a channel name; use names such as 'rtm', "
                    "'msteams', 'whatsapp' (letters, digits, '.', '-', '_')",
                    field="channels",
                )
            if name not in out:
                out.append(name)
        if "all" in out:
            if len(out) > 1:
                raise InvalidQueryError(
                    "channels: 'all' cannot be combined with named channels; give either 'all' "
                    "(or nothing) or a list of channels",
                    field="channels",
                )
            return ()
        return tuple(sorted(out))

    @field_validator("tz", mode="before")
    @classmethod
    def _check_tz(cls, value: object) -> str:
        if isinstance(value, zoneinfo.ZoneInfo):
            value = value.key
        if isinstance(value, str) and value.strip():
            name = value.strip()
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                pass
            else:
                return name
        raise InvalidQueryError(
            f"tz: {value!r} is not an IANA time-zone name; use one such as 'UTC', "
            "'Asia/Kolkata', 'America/New_York' or 'Europe/Berlin'",
            field="tz",
        )

    @model_validator(mode="after")
    def _check_range(self) -> EngagementQuery:
        if self.start > self.end:
            raise InvalidQueryError(
                f"start: {self.start.isoformat()} is after end {self.end.isoformat()}; "
                "the range is inclusive and start must not be later than end",
                field="start",
            )
        if self.days > _MAX_DAYS:
            raise InvalidQueryError(
                f"end: the range {self.start} to {self.end} spans {self.days} days; "
                f"at most {_MAX_DAYS} are allowed",
                field="end",
            )
        return self

    # -- derived values ------------------------------------------------------------------
    @property
    def days(self) -> int:
        """Number of days in the range, both ends included."""
        return (self.end - self.start).days + 1

    def replace(self, **changes: Any) -> EngagementQuery:
        """A new, validated query with some fields changed."""
        return EngagementQuery(**{**self.model_dump(), **changes})

    def to_params(self) -> dict[str, str]:
        """The query-string parameters, spelled as the platform documents them."""
        params = {
            "aggregation_type": self.aggregation,
            "start_date": self.start.isoformat(),
            "end_date": self.end.isoformat(),
            "conversationType": PLATFORM_CONVERSATION_TYPE[self.conversation_type],
            "conversationStatus": PLATFORM_CONVERSATION_STATUS[self.conversation_status],
            "timeZoneOffset": self.tz,
        }
        if self.channels:
            params["channels"] = ",".join(self.channels)
        return params

    def key(self) -> str:
        """A canonical, secret-free text for this query (used as a store key)."""
        p = self.to_params()
        return f"{self.stream_id}?" + "&".join(f"{k}={p[k]}" for k in sorted(p))

    def split(self, max_days: int) -> list[EngagementQuery]:
        """Consecutive sub-queries of at most ``max_days`` days covering this range."""
        if max_days < 1:
            raise InvalidQueryError("max_days_per_request must be at least 1", field="max_days")
        parts: list[EngagementQuery] = []
        first = self.start
        while first <= self.end:
            last = min(self.end, first + dt.timedelta(days=max_days - 1))
            parts.append(self.replace(start=first, end=last))
            first = last + dt.timedelta(days=1)
        return parts

    def describe(self) -> str:
        """A short human sentence: ``stream st-1, 2025-12-01 to 2025-12-07 (daily, UTC)``."""
        filters = []
        if self.conversation_type != "all":
            filters.append(self.conversation_type.replace("_", "-"))
        if self.conversation_status != "all":
            filters.append(self.conversation_status)
        if self.channels:
            filters.append("channels " + ", ".join(self.channels))
        extra = "; " + "; ".join(filters) if filters else ""
        return (
            f"stream {self.stream_id}, {self.start} to {self.end} "
            f"({self.aggregation}, {self.tz}{extra})"
        )


def _to_invalid_query(exc: ValidationError) -> InvalidQueryError:
    """Turn pydantic's report into one readable :class:`InvalidQueryError`."""
    err = exc.errors()[0]
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, InvalidQueryError):
        return inner
    loc = ".".join(str(p) for p in err.get("loc", ())) or None
    if err.get("type") == "missing":
        return InvalidQueryError(f"{loc}: this parameter is required", field=loc)
    if err.get("type") == "extra_forbidden":
        allowed = ", ".join(EngagementQuery.model_fields)
        return InvalidQueryError(
            f"{loc}: unknown parameter; the parameters are {allowed}", field=loc
        )
    return InvalidQueryError(f"{loc}: {err.get('msg', 'invalid value')}", field=loc)


def channel_list(channels: object) -> list[str]:
    """Channel names of a breakdown (a list, or one comma-separated text), each checked as a
    query's channel would be, in order, without repeats."""
    if isinstance(channels, str):
        channels = channels.split(",")
    if not isinstance(channels, Iterable):
        raise InvalidQueryError(
            "channels: give a list of channel names, e.g. ['rtm', 'msteams']", field="channels"
        )
    names: list[str] = []
    for name in channels:
        # each one validated as a query's channel would be
        one = EngagementQuery(stream_id="x", start="2000-01-01", end="2000-01-01", channels=name)
        if not one.channels:
            raise InvalidQueryError(
                "channels: 'all' is not a channel of a breakdown; list the channels to compare",
                field="channels",
            )
        if one.channels[0] not in names:
            names.append(one.channels[0])
    if not names:
        raise InvalidQueryError(
            "channels: give at least one channel name, e.g. ['rtm', 'msteams']", field="channels"
        )
    return names
