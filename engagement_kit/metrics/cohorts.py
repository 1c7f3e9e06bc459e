"""True retention from sessions: cohort triangles, lifecycle, stickiness, and the UET cross-check.

Everything here takes the tidy sessions frame of :func:`engagement_kit.client.sessions.fetch_sessions`
(one row per session; ``start`` tz-aware) and works in the zone of its ``start`` column: a
session belongs to the local day, ISO week (Monday first) or calendar month in which it
*starts*, like the platform's dashboards.

Definitions (the platform's Users Dashboard and PostHog/Amplitude conventions)
---------------------------------------------------------------------------------
* **First seen**: a user's earliest session start. By default over the sessions given (so users
  first seen in the first days of the download may really be older: those cohorts are flagged
  ``possibly_censored``); pass the stored first-seen table (:class:`FirstSeenTable`) to measure
  against the whole backfilled history. ``basis="any"`` takes first-seen over every session,
  ``basis="filtered"`` over the sessions that pass the filters only (the platform's basis is
  unknown; compare both with the trend API).
* **Cohort**: the users first seen in one period. **Offset k**: the k-th period after it.
* **Retention "on"**: share of the cohort active *in* period cohort + k. **"on or after"**:
  active in that period or any later one (in the data). Offset 0 is the cohort itself (100 %).
* **Lifecycle** per period P: *new* (first seen in P), *returning* (active in P and in P - 1),
  *resurrecting* (active in P, not in P - 1, first seen before P), *dormant* (active in P - 1,
  not in P; reported as a negative count for diverging bars).
* **Stickiness histogram**: per ISO week, how many users were active on 1, 2, ... 7 days.

Developer sessions (``is_developer``) are left out everywhere unless ``include_developer=True``
(the dashboards leave them out too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from engagement_kit.errors import InvalidQueryError

__all__ = [
    "LIFECYCLE_STATUSES",
    "PERIODS",
    "cohort_retention",
    "cross_check",
    "daily_user_counts",
    "filter_sessions",
    "lifecycle",
    "stickiness_histogram",
]

PERIODS = ("day", "week", "month")
LIFECYCLE_STATUSES = ("new", "returning", "resurrecting", "dormant")
_NEEDED = ("user_id", "start", "channel", "session_type", "session_status", "is_developer")


def _check_sessions(sessions: object) -> pd.DataFrame:
    if not isinstance(sessions, pd.DataFrame):
        raise TypeError(
            f"expected the sessions frame of client.fetch_sessions(), got {type(sessions).__name__}"
        )
    missing = [c for c in _NEEDED if c not in sessions.columns]
    if missing:
        raise InvalidQueryError(
            f"sessions: missing column(s) {', '.join(missing)}; pass the frame that "
            "client.fetch_sessions() returns",
            field="sessions",
        )
    if not isinstance(sessions["start"].dtype, pd.DatetimeTZDtype):
        raise InvalidQueryError(
            "sessions: 'start' must be tz-aware (as client.fetch_sessions() returns it)",
            field="sessions",
        )
    return sessions


def check_choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, else one sentence naming the choices."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidQueryError(
            f"{name}: {value!r} is not one of {', '.join(map(repr, allowed))}", field=name
        )
    return value


def filter_sessions(
    sessions: pd.DataFrame,
    *,
    channels: str | Iterable[str] | None = None,
    session_type: str | None = None,
    status: str | None = None,
    include_developer: bool = False,
) -> pd.DataFrame:
    """The sessions that pass the filters (client-side: one download serves every combination).

    Parameters
    ----------
    channels : str, list of str or None
        Channel names (case-insensitive); ``None``/``"all"`` keeps every channel.
    session_type : {"interactive", "non-interactive"} or None
    status : {"active", "closed"} or None
    include_developer : bool
        Keep developer sessions (left out by default, as on the dashboards).
    """
    frame = _check_sessions(sessions)
    keep = np.ones(len(frame), dtype=bool)
    if not include_developer:
        keep &= ~frame["is_developer"].astype(bool).to_numpy()
    if channels is not None:
        names = [channels] if isinstance(channels, str) else list(channels)
        names = [n.strip().lower() for n in names if n.strip()]
        if names and names != ["all"]:
            keep &= frame["channel"].str.lower().isin(names).to_numpy()
    if session_type is not None and session_type != "all":
        wanted = check_choice(
            "session_type",
            session_type.lower().replace("_", "-").replace(" ", "-"),
            ("interactive", "non-interactive"),
        )
        keep &= (frame["session_type"] == wanted).to_numpy()
    if status is not None and status != "all":
        wanted = check_choice("status", status.lower(), ("active", "closed"))
        # an active session may come without sessionStatus: it has no end yet
        actual = frame["session_status"].where(
            frame["session_status"].notna(), np.where(frame["end"].isna(), "active", "closed")
        )
        keep &= (actual == wanted).to_numpy()
    out = frame[keep]
    out.attrs = dict(frame.attrs)
    return out


# -- period arithmetic (shared with metrics.outcomes) -----------------------------------------
def day_index(starts: pd.Series) -> np.ndarray:
    """Local calendar day (in the column's zone) as days since 1970-01-01."""
    wall = starts.dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    return wall.astype(np.int64)


def period_index(days: np.ndarray, period: str) -> np.ndarray:
    """Day indexes (:func:`day_index`) as period indexes (days, Monday weeks, months)."""
    if period == "day":
        return days
    if period == "week":  # 1970-01-01 was a Thursday: Monday-based weeks
        return (days + 3) // 7
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months


def period_start(index: np.ndarray, period: str) -> pd.DatetimeIndex:
    """Period indexes (:func:`period_index`) as the periods' first days."""
    if period == "day":
        values = index.astype("datetime64[D]")
    elif period == "week":
        values = (index * 7 - 3).astype("datetime64[D]")
    else:
        values = index.astype("datetime64[M]").astype("datetime64[D]")
    return pd.DatetimeIndex(values.astype("datetime64[ns]"))


def complete_periods(lo: int, hi: int, period: str) -> tuple[int, int]:
    """The first and last period lying wholly inside the local days ``lo``..``hi``."""
    first = int(period_index(np.array([lo - 1]), period)[0]) + 1
    last = int(period_index(np.array([hi + 1]), period)[0]) - 1
    return first, last


def _range_days(sessions: pd.DataFrame, days: np.ndarray) -> tuple[int, int]:
    """First and last local day the data covers (``attrs`` start/end, else the sessions')."""
    start, end = sessions.attrs.get("start"), sessions.attrs.get("end")
    lo = int(np.datetime64(start, "D").astype(np.int64)) if start else int(days.min())
    hi = int(np.datetime64(end, "D").astype(np.int64)) if end else int(days.max())
    return lo, hi


def _first_seen_days(
    sessions: pd.DataFrame,
    basis_frame: pd.DataFrame,
    first_seen: pd.DataFrame | None,
) -> pd.Series:
    """Per user, the local day index of their first session."""
    tz = sessions["start"].dt.tz
    if first_seen is not None:
        stored = first_seen.set_index("user_id")["first_start"].dt.tz_convert(tz)
        from_table = pd.Series(day_index(stored), index=stored.index)
    else:
        from_table = pd.Series(dtype=np.int64)
    days = pd.Series(day_index(basis_frame["start"]), index=basis_frame.index)
    in_data = days.groupby(basis_frame["user_id"].to_numpy()).min()
    if from_table.empty:
        return in_data
    both = pd.concat([in_data, from_table], axis=1).min(axis=1)
    return both.astype(np.int64)


def activity_pairs(
    sessions: pd.DataFrame,
    *,
    period: str,
    first_seen: pd.DataFrame | None,
    basis: str,
    filters: dict[str, Any],
) -> tuple[pd.DataFrame, pd.Series, int, int]:
    """(distinct user-period pairs of the filtered sessions, first-seen day per user, range)."""
    _check_sessions(sessions)
    check_choice("period", period, PERIODS)
    check_choice("basis", basis, ("any", "filtered"))
    include_developer = filters.get("include_developer", False)
    everything = filter_sessions(sessions, include_developer=include_developer)
    filtered = filter_sessions(sessions, **filters)
    if len(everything):
        lo, hi = _range_days(sessions, day_index(everything["start"]))
    else:
        lo, hi = _range_days(sessions, np.array([0]))
    first = _first_seen_days(sessions, everything if basis == "any" else filtered, first_seen)
    days = day_index(filtered["start"])
    pairs = (
        pd.DataFrame({"user_id": filtered["user_id"].to_numpy(), "p": period_index(days, period)})
        .drop_duplicates()
        .reset_index(drop=True)
    )
    return pairs, first, lo, hi


def cohort_retention(
    sessions: pd.DataFrame,
    period: Literal["day", "week", "month"] = "week",
    kind: Literal["on", "on_or_after"] = "on",
    horizon: int | None = None,
    *,
    first_seen: pd.DataFrame | None = None,
    basis: Literal["any", "filtered"] = "any",
    censor_days: int | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """The cohort triangle: of the users first seen in each period, how many came back.

    Parameters
    ----------
    sessions : DataFrame
        From :func:`~engagement_kit.client.sessions.fetch_sessions`.
    period : {"day", "week", "month"}
    kind : {"on", "on_or_after"}
        Active *in* the period at the offset, or in it *or any later one*.
    horizon : int, optional
        Largest offset (default: as far as the data reaches).
    first_seen : DataFrame, optional
        The stored first-seen table (:meth:`FirstSeenTable.frame`): users seen before the
        download belong to no cohort in it.
    basis : {"any", "filtered"}
        Whether first-seen counts every session or only those passing the filters.
    censor_days : int, optional
        Cohorts starting within this many days of the data's first day (or the table's
        horizon) are flagged ``possibly_censored`` (default 28; 0 for none).
    **filters
        ``channels``, ``session_type``, ``status``, ``include_developer``
        (:func:`filter_sessions`).

    Returns
    -------
    DataFrame
        One row per (cohort, offset) whose periods lie wholly inside the data: ``cohort`` (the period's first
        day), ``offset``, ``users`` (cohort size), ``retained``, ``rate`` (0..1),
        ``possibly_censored``. ``attrs``: ``period``, ``kind``, ``tz``.
    """
    check_choice("kind", kind, ("on", "on_or_after"))
    if horizon is not None and (
        isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 0
    ):
        raise InvalidQueryError(
            f"horizon: {horizon!r} must be a whole number >= 0", field="horizon"
        )
    pairs, first, lo, hi = activity_pairs(
        sessions, period=period, first_seen=first_seen, basis=basis, filters=filters
    )
    columns = ["cohort", "offset", "users", "retained", "rate", "possibly_censored"]
    first_p = pd.Series(period_index(first.to_numpy(), period), index=first.index)
    # cohorts whose first period lies inside the data
    lo_p = int(period_index(np.array([lo]), period)[0])
    hi_p = complete_periods(lo, hi, period)[1]
    in_range = first[(first >= lo) & (first <= hi)].index
    cohort_of = first_p.loc[in_range]
    pairs = pairs[pairs["user_id"].isin(cohort_of.index)]
    pairs = pairs.assign(c=cohort_of.loc[pairs["user_id"]].to_numpy())
    pairs["offset"] = pairs["p"] - pairs["c"]
    pairs = pairs[pairs["offset"] >= 0]
    sizes = cohort_of.value_counts().sort_index()
    last_offset = hi_p - lo_p
    if horizon is not None:
        last_offset = min(last_offset, horizon)
    if kind == "on_or_after":
        latest = pairs.groupby("user_id")["offset"].max()
        per_user = pd.DataFrame(
            {"c": cohort_of.loc[latest.index].to_numpy(), "max": latest.to_numpy()}
        )
    rows = []
    for cohort, size in sizes.items():
        visible = min(last_offset, hi_p - int(cohort))
        if kind == "on":
            got = pairs[pairs["c"] == cohort]["offset"].value_counts()
            retained = [int(got.get(k, 0)) for k in range(visible + 1)]
        else:
            maxes = per_user.loc[per_user["c"] == cohort, "max"].to_numpy()
            retained = [int((maxes >= k).sum()) for k in range(visible + 1)]
        for k, count in enumerate(retained):
            rows.append((int(cohort), k, int(size), count))
    frame = pd.DataFrame(rows, columns=["cohort", "offset", "users", "retained"])
    frame["rate"] = frame["retained"] / frame["users"]
    frame["cohort"] = period_start(frame["cohort"].to_numpy(dtype=np.int64), period)
    edge_day = lo
    if first_seen is not None and first_seen.attrs.get("horizon") is not None:
        edge_day = int(np.datetime64(first_seen.attrs["horizon"], "D").astype(np.int64))
    censor = 28 if censor_days is None else censor_days
    edge = pd.Timestamp(np.datetime64(edge_day + censor, "D"))
    frame["possibly_censored"] = frame["cohort"] < edge
    frame = frame[columns].astype({"offset": "int64", "users": "int64", "retained": "int64"})
    frame.attrs.update(period=period, kind=kind, tz=str(sessions["start"].dt.tz))
    return frame


def lifecycle(
    sessions: pd.DataFrame,
    period: Literal["day", "week", "month"] = "week",
    *,
    first_seen: pd.DataFrame | None = None,
    basis: Literal["any", "filtered"] = "any",
    **filters: Any,
) -> pd.DataFrame:
    """New / returning / resurrecting / dormant users per period (see the module docstring).

    Only periods lying wholly inside the data count; the first of them has no previous one
    to compare with, so it is left out.

    Returns
    -------
    DataFrame
        Long: ``period`` (first day), ``status`` (:data:`LIFECYCLE_STATUSES`), ``users``
        (dormant negative).
    """
    pairs, first, lo, hi = activity_pairs(
        sessions, period=period, first_seen=first_seen, basis=basis, filters=filters
    )
    first_p = pd.Series(period_index(first.to_numpy(), period), index=first.index)
    lo_p, hi_p = complete_periods(lo, hi, period)
    active = pairs.groupby("p")["user_id"].agg(set)
    rows = []
    for p in range(lo_p + 1, hi_p + 1):
        now_users = active.get(p, set())
        before = active.get(p - 1, set())
        new = {u for u in now_users if first_p.get(u) == p}
        returning = (now_users - new) & before
        resurrecting = now_users - new - before
        dormant = before - now_users
        for status, users in zip(
            LIFECYCLE_STATUSES, (len(new), len(returning), len(resurrecting), -len(dormant)),
            strict=True,
        ):  # fmt: skip
            rows.append((p, status, users))
    frame = pd.DataFrame(rows, columns=["period", "status", "users"])
    frame["period"] = period_start(frame["period"].to_numpy(dtype=np.int64), period)
    frame["users"] = frame["users"].astype("int64")
    frame.attrs.update(period=period, tz=str(sessions["start"].dt.tz))
    return frame


def stickiness_histogram(sessions: pd.DataFrame, **filters: Any) -> pd.DataFrame:
    """Per ISO week lying wholly inside the data, users by their number of active days (1..7).

    Returns
    -------
    DataFrame
        ``week`` (Monday), ``active_days`` (1..7), ``users``, ``share`` (of the week's users).
    """
    frame = filter_sessions(_check_sessions(sessions), **filters)
    days = day_index(frame["start"])
    pairs = pd.DataFrame({"user_id": frame["user_id"].to_numpy(), "day": days}).drop_duplicates()
    pairs["week"] = period_index(pairs["day"].to_numpy(), "week")
    if len(pairs):
        lo, hi = complete_periods(*_range_days(frame, days), "week")
        pairs = pairs[(pairs["week"] >= lo) & (pairs["week"] <= hi)]
    per_user = pairs.groupby(["week", "user_id"]).size().rename("active_days").reset_index()
    counts = per_user.groupby(["week", "active_days"]).size()
    weeks = np.unique(pairs["week"]) if len(pairs) else np.array([], dtype=np.int64)
    full = pd.MultiIndex.from_product([weeks, range(1, 8)], names=["week", "active_days"])
    out = counts.reindex(full, fill_value=0).rename("users").reset_index()
    totals = out.groupby("week")["users"].transform("sum")
    out["share"] = np.where(totals > 0, out["users"] / totals.where(totals > 0, 1), 0.0)
    out["week"] = period_start(out["week"].to_numpy(dtype=np.int64), "week")
    out["users"] = out["users"].astype("int64")
    out["active_days"] = out["active_days"].astype("int64")
    return out


def daily_user_counts(
    sessions: pd.DataFrame,
    *,
    first_seen: pd.DataFrame | None = None,
    basis: Literal["any", "filtered"] = "any",
    **filters: Any,
) -> pd.DataFrame:
    """Daily unique / new / returning users recomputed from sessions (the UET definitions).

    Returns
    -------
    DataFrame
        ``date`` (local day), ``unique``, ``new``, ``returning``, one row per day of the data's
        range (``attrs`` start/end), zeros included.
    """
    pairs, first, lo, hi = activity_pairs(
        sessions, period="day", first_seen=first_seen, basis=basis, filters=filters
    )
    pairs = pairs[(pairs["p"] >= lo) & (pairs["p"] <= hi)]
    is_new = first.reindex(pairs["user_id"]).to_numpy() == pairs["p"].to_numpy()
    n = hi - lo + 1
    unique = np.bincount(pairs["p"] - lo, minlength=n)
    new = np.bincount((pairs["p"] - lo)[is_new], minlength=n)
    return pd.DataFrame(
        {
            "date": period_start(np.arange(lo, hi + 1), "day"),
            "unique": unique.astype("int64"),
            "new": new.astype("int64"),
            "returning": (unique - new).astype("int64"),
        }
    )


def cross_check(counts: pd.DataFrame, engagement: Any) -> pd.DataFrame:
    """Compare :func:`daily_user_counts` with the trend API's daily answer, day by day.

    Parameters
    ----------
    counts : DataFrame
        From :func:`daily_user_counts`.
    engagement : Engagement
        ``client.fetch(..., aggregation="daily")`` for the same zone and filters, over days
        the sessions cover (only those days are compared).

    Returns
    -------
    DataFrame
        One row per day of the trend answer: ``date`` and per metric (``unique``, ``new``,
        ``returning``) the sessions' value, the API's (``*_api``) and the difference
        (``*_diff`` = sessions - API). ``attrs["ok"]``
        is true when every difference is zero.
    """
    from engagement_kit.tidy.frames import daily_totals

    api = daily_totals(engagement)
    api = api.reset_index() if "date" not in api.columns else api
    api = api[["date", "unique", "new", "returning"]].copy()
    api["date"] = pd.to_datetime(api["date"]).dt.tz_localize(None).dt.normalize()
    missing = set(api["date"]) - set(counts["date"])
    if missing:
        raise InvalidQueryError(
            f"cross_check: the sessions do not cover {min(missing).date()} (and "
            f"{len(missing) - 1} more day(s)) of the trend answer; fetch sessions for those days",
            field="counts",
        )
    merged = api.merge(counts, on="date", how="left", suffixes=("_api", ""))
    for metric in ("unique", "new", "returning"):
        merged[metric] = merged[metric].astype("int64")
        merged[f"{metric}_api"] = merged[f"{metric}_api"].astype("int64")
        merged[f"{metric}_diff"] = merged[metric] - merged[f"{metric}_api"]
    order = ["date"] + [
        f"{m}{s}" for m in ("unique", "new", "returning") for s in ("", "_api", "_diff")
    ]
    merged = merged[order].sort_values("date", ignore_index=True)
    merged.attrs["ok"] = bool((merged.filter(like="_diff") == 0).all().all())
    return merged
