"""The doctor's sessions check: getSessions against the trend API for a recent week.

For a stream with ``cohorts = true`` in ``streams.toml``, ``engagement-kit doctor`` recomputes
the daily unique / new / returning users of the last complete week from the session history
and compares them with the trend API (:func:`engagement_kit.metrics.first_seen.check_recent_week`).
A refused call means the app lacks the "Bot Sessions" scope (a failure); differences are not a
failure but information: they show how the platform really counts (the first-seen basis,
developer sessions, identities per channel), so the row says on how many days and which
numbers differ.
"""

from __future__ import annotations

from typing import Any

from engagement_kit.errors import AuthError, EngagementError

__all__ = ["sessions_check"]

_SCOPE_FIX = (
    'add the "Bot Sessions" API scope to the app (Admin Console apps: "Bot Analytics > Bot '
    'Sessions") and publish the change; or set cohorts = false for this stream'
)


def sessions_check(client: Any, stream: Any, make_check: Any) -> Any:
    """One doctor row (built with ``make_check(name, status, detail, fix)``) for ``stream``."""
    from engagement_kit.metrics.first_seen import FirstSeenTable, check_recent_week
    from engagement_kit.store.location import default_store_location

    name = f"sessions {stream.name or stream.id}"
    first_seen = None
    try:
        location = default_store_location(adopt=False)
        if isinstance(location, str) or location.exists():
            table = FirstSeenTable(location)
            if table.meta(client.host, stream.id) is not None:
                first_seen = table.frame(client.host, stream.id, tz=stream.tz)
            table.close()
        result = check_recent_week(client, stream.id, tz=stream.tz, first_seen=first_seen)
    except AuthError as exc:
        return make_check(name, "fail", f"getSessions refused: {exc.message}", _SCOPE_FIX)
    except EngagementError as exc:
        return make_check(name, "fail", f"getSessions failed: {exc}", "see the message")
    week = result.attrs["week"]
    if result.attrs["ok"]:
        detail = f"{week}: daily users from sessions equal the trend API's on all 7 days"
    else:
        diffs = result.filter(like="_diff")
        days = int(diffs.ne(0).any(axis=1).sum())
        which = ", ".join(c.removesuffix("_diff") for c in diffs if diffs[c].ne(0).any())
        detail = (
            f"{week}: sessions differ from the trend API on {days} of 7 days ({which}); "
            f"first seen from {result.attrs['first_seen']}. Not an error: see "
            "notebooks/explore/04_cohorts.ipynb on what a difference means"
        )
    return make_check(name, "ok", detail)
