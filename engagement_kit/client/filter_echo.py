"""Trust the echo: compare an answer's ``filters`` with the query that was sent.

The platform echoes what it applied (``filters``, lower-cased: ``"all"``, ``"daily"``). A filter
it ignored, or knew under another spelling, shows up there as a different value, and the numbers
are then *not* what the query asked for. :func:`filter_mismatches` lists those differences;
the client raises :class:`~engagement_kit.errors.ResponseFormatError` naming the first (or, with
``on_filter_mismatch="warn"``, warns with :class:`FilterEchoWarning` and keeps the answer).

Only echoed keys are compared: a filter the answer does not mention cannot be checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engagement_kit.config.query import EngagementQuery

__all__ = ["FILTER_MODES", "FilterEchoWarning", "FilterMismatch", "filter_mismatches"]

#: What the client does when the echo disagrees with the query.
FILTER_MODES: tuple[str, ...] = ("error", "warn")
_ZONE_KEYS = ("timeZoneOffset", "timeZone", "timezone")


class FilterEchoWarning(UserWarning):
    """The answer's ``filters`` say a filter of the query was not applied."""


@dataclass(frozen=True)
class FilterMismatch:
    """One filter the answer says it applied differently.

    Attributes
    ----------
    key : str
        The ``filters`` key, e.g. ``"conversationType"``.
    asked, applied : str
        What the query sent and what the answer echoes.
    """

    key: str
    asked: str
    applied: str

    def describe(self) -> str:
        return (
            f"the platform did not apply the filter {self.key}={self.asked!r}: its answer says "
            f"it applied {self.applied!r}, so the numbers are not filtered as asked"
        )


def _fold(value: object) -> str:
    return re.sub(r"[\s_-]+", " ", str(value).strip().lower())


def _channel_set(value: object) -> frozenset[str]:
    names = {n.strip().lower() for n in str(value).split(",") if n.strip()}
    return frozenset() if names in (set(), {"all"}) else frozenset(names)


def filter_mismatches(filters: Mapping[str, Any], query: EngagementQuery) -> list[FilterMismatch]:
    """The echoed filters that disagree with ``query`` (empty when all agree)."""
    from engagement_kit.config.query import PLATFORM_CONVERSATION_STATUS, PLATFORM_CONVERSATION_TYPE

    out: list[FilterMismatch] = []
    asked = {
        "aggregationType": query.aggregation,
        "conversationType": PLATFORM_CONVERSATION_TYPE[query.conversation_type],
        "conversationStatus": PLATFORM_CONVERSATION_STATUS[query.conversation_status],
    }
    for key, want in asked.items():
        got = filters.get(key)
        if got is not None and _fold(got) != _fold(want):
            out.append(FilterMismatch(key, want, str(got)))
    if "channels" in filters and _channel_set(filters["channels"]) != frozenset(query.channels):
        out.append(
            FilterMismatch("channels", ",".join(query.channels) or "all", str(filters["channels"]))
        )
    for key in _ZONE_KEYS:
        got = filters.get(key)
        if not isinstance(got, str):
            continue
        looks_like_a_name = "/" in got or got.strip().upper() == "UTC"
        if looks_like_a_name and got.strip().lower() != query.tz.lower():
            out.append(FilterMismatch(key, query.tz, got))
    return out
