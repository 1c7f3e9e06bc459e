"""Do users come back after the bot failed them? Retention by the outcome of the first session.

Everything here takes the tidy sessions frame of :func:`engagement_kit.client.sessions.fetch_sessions`
(its ``containment`` column is the platform's ``containmentType``) and follows the conventions of
:mod:`engagement_kit.metrics.cohorts`: local days, ISO weeks (Monday first) and calendar months
in the zone of ``start``; only periods lying wholly inside the data count; developer sessions
are left out unless ``include_developer=True``.

Definitions
-----------
* **First session**: a first-seen user's earliest session (not their first *day*: a user who
  dropped off and retried five minutes later has the outcome of the drop-off). Its
  **outcome** is its ``containment``: ``selfService``, ``dropOff`` or ``agent``
  (:data:`OUTCOMES`); **unknown** is an outcome of its own, never guessed: the platform left
  the field out (active sessions, some platforms), gave a value the toolkit does not know, or
  the user's first session lies outside the sessions given (the first-seen table knows an
  earlier start than the frame holds). Its **channel** is the first session's channel.
* **First-seen users** and their **cohorts** are those of
  :func:`~engagement_kit.metrics.cohorts.cohort_retention` (pass the stored ``first_seen``
  table so that older users are not counted new); a cohort's users split by first outcome add
  up to its size (the cross-check: new users by outcome = the period's first-seen users).
* **Active again at offset k**: active (any session passing the filters) in the k-th period
  after the cohort's; a share counts only the cohorts whose period at k lies inside the data
  (right-censored cohorts are left out of that offset, never counted as lost).
* **Returned within 7 / 28 days**: a session on one of the 7 (28) local days after the
  first-seen day (a retry the same day is not a return); only users first seen at least that
  many days before the data's last day count.
* **Next session** (:func:`outcome_transitions`): a returning user's first session on a later
  local day than the first session.
* **New / returning sessions** (:func:`outcome_mix`): a session is *new* when its user was first
  seen in the same period, else *returning*.
* **Intervals**: Wilson score intervals (95 % by default) for every share, so that a bot with
  30 users is not over-read; :func:`compare_outcomes` says whether two shares differ beyond
  chance (:mod:`engagement_kit.metrics.proportions`: two-sided z test, pooled variance; Fisher's
  exact test when an expected count is below 5).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import pandas as pd

from engagement_kit.client.sessions import CONTAINMENT_TYPES
from engagement_kit.errors import InvalidQueryError
from engagement_kit.formatting import count_text, p_value_text, ratio_text, share_text
from engagement_kit.metrics.cohorts import (
    activity_pairs,
    check_choice,
    complete_periods,
    day_index,
    filter_sessions,
    period_index,
    period_start,
)
from engagement_kit.metrics.proportions import two_proportion_test, wilson_interval

__all__ = [
    "OUTCOMES",
    "OUTCOME_LABELS",
    "OutcomeRetention",
    "compare_outcomes",
    "comparison_sentence",
    "first_outcomes",
    "outcome_mix",
    "outcome_transitions",
    "retention_by_outcome",
]

#: The first outcomes, in display order: the platform's three and ``unknown``.
OUTCOMES = (*CONTAINMENT_TYPES, "unknown")
#: How people read them.
OUTCOME_LABELS = {
    "selfService": "self-service",
    "dropOff": "drop-off",
    "agent": "handed to an agent",
    "unknown": "unknown",
}
#: The "returned within" windows, in days.
WITHIN_DAYS = (7, 28)


# -- first outcomes --------------------------------------------------------------------------
def _outcome_of(values: pd.Series) -> np.ndarray:
    known = set(CONTAINMENT_TYPES)
    return np.array([v if v in known else "unknown" for v in values], dtype=object)


def _since_day(value: Any) -> int | None:
    if value is None:
        return None
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def _firsts(
    sessions: pd.DataFrame,
    first_seen: pd.DataFrame | None,
    period: str,
    filters: dict[str, Any],
    since: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """(first-seen users in range with outcome/channel/cohort, activity pairs, lo, hi)."""
    pairs, first_day, lo, hi = activity_pairs(
        sessions, period=period, first_seen=first_seen, basis="filtered", filters=filters
    )
    frame = filter_sessions(sessions, **filters)
    ordered = frame.sort_values(["start", "session_id"], kind="stable")
    earliest = ordered.drop_duplicates("user_id").set_index("user_id")
    in_range = first_day[(first_day >= max(lo, since or lo)) & (first_day <= hi)]
    users = pd.DataFrame({"user_id": in_range.index, "first_day": in_range.to_numpy()})
    own = earliest.reindex(users["user_id"])
    outcome = _outcome_of(own["containment"])
    channel = own["channel"].to_numpy(dtype=object)
    start = own["start"].reset_index(drop=True)
    outside = start.isna().to_numpy().copy()
    if len(own):  # the first session is not the frame's earliest one of the user: not in data
        outside |= day_index(own["start"]) != users["first_day"].to_numpy()
        if first_seen is not None and len(first_seen):
            stored = first_seen.set_index("user_id")["first_start"].reindex(users["user_id"])
            outside |= (stored.notna() & (stored < own["start"])).to_numpy()
    users["outcome"] = np.where(outside, "unknown", outcome)
    users["channel"] = np.where(outside, None, channel)
    users["first_start"] = start.where(~outside)
    users["cohort"] = period_index(users["first_day"].to_numpy(dtype=np.int64), period)
    return users, pairs, lo, hi


def first_outcomes(
    sessions: pd.DataFrame,
    *,
    first_seen: pd.DataFrame | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """Every user first seen within the data, with the outcome and channel of their first session.

    Parameters
    ----------
    sessions : DataFrame
        From :func:`~engagement_kit.client.sessions.fetch_sessions`.
    first_seen : DataFrame, optional
        The stored first-seen table (:meth:`FirstSeenTable.frame`): users first seen before the
        data belong to no cohort; a first session the table knows but the frame lacks is
        ``unknown``.
    **filters
        ``channels``, ``session_type``, ``status``, ``include_developer``
        (:func:`~engagement_kit.metrics.cohorts.filter_sessions`): the sessions looked at,
        first sessions included.

    Returns
    -------
    DataFrame
        ``user_id``, ``first_day`` (local date), ``first_start`` (``NaT`` when not in the data),
        ``channel`` (``None`` likewise), ``outcome`` (one of :data:`OUTCOMES`).
    """
    users, _pairs, _lo, _hi = _firsts(sessions, first_seen, "day", filters)
    out = users[["user_id", "first_day", "first_start", "channel", "outcome"]].copy()
    out["first_day"] = period_start(users["first_day"].to_numpy(dtype=np.int64), "day").date
    out["channel"] = pd.Series(
        [c if isinstance(c, str) else None for c in out["channel"]], index=out.index, dtype=object
    )
    return out.sort_values(["first_day", "user_id"], kind="stable", ignore_index=True)


@dataclasses.dataclass(frozen=True, eq=False)
class OutcomeRetention:
    """What :func:`retention_by_outcome` returns: three frames (keys first).

    Attributes
    ----------
    cohorts : DataFrame
        ``cohort`` (period start), ``outcome`` [, ``channel``], ``users`` (first-seen users of
        the cohort with that first outcome), ``possibly_censored``; every outcome of
        :data:`OUTCOMES` appears (zeros included), so a cohort's rows add up to its size.
    retention : DataFrame
        ``outcome`` [, ``channel``], ``offset`` (1, 2, …), ``cohorts`` (cohorts observed at the
        offset), ``users`` (their first-seen users), ``retained`` (active again in that
        period), ``rate``, ``low``, ``high`` (Wilson; NaN without users).
    within : DataFrame
        ``outcome`` [, ``channel``], ``days`` (7, 28), ``users`` (first seen at least that many
        days before the data's end), ``returned``, ``rate``, ``low``, ``high``.
    period, tz : str
    confidence : float
    by_channel : bool
    """

    cohorts: pd.DataFrame
    retention: pd.DataFrame
    within: pd.DataFrame
    period: str
    tz: str
    confidence: float
    by_channel: bool = False

    def at(self, offset: int) -> pd.DataFrame:
        """The :attr:`retention` rows of one offset, indexed by outcome (and channel)."""
        keys = ["outcome", "channel"] if self.by_channel else ["outcome"]
        rows = self.retention[self.retention["offset"] == offset]
        return rows.set_index(keys)


def _with_intervals(frame: pd.DataFrame, hits: str, confidence: float) -> pd.DataFrame:
    users = frame["users"].to_numpy(dtype=float)
    count = frame[hits].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rate"] = np.where(users > 0, count / np.where(users > 0, users, 1), np.nan)
    frame["low"], frame["high"] = wilson_interval(count, users, confidence)
    return frame


def retention_by_outcome(
    sessions: pd.DataFrame,
    period: Literal["day", "week", "month"] = "week",
    horizon: int | None = None,
    *,
    first_seen: pd.DataFrame | None = None,
    by_channel: bool = False,
    censor_days: int | None = None,
    confidence: float = 0.95,
    cohorts_since: Any = None,
    **filters: Any,
) -> OutcomeRetention:
    """Retention of first-seen users split by the outcome of their first session.

    Parameters
    ----------
    sessions : DataFrame
        From :func:`~engagement_kit.client.sessions.fetch_sessions`.
    period : {"day", "week", "month"}
        Cohort and offset period.
    horizon : int, optional
        Largest offset (default: as far as the data reaches).
    first_seen : DataFrame, optional
        The stored first-seen table (see :func:`first_outcomes`).
    by_channel : bool
        Split every row by the first session's channel as well.
    censor_days : int, optional
        Cohorts starting within this many days of the data's first day (or the table's
        horizon) are flagged ``possibly_censored`` (default 28).
    confidence : float
        Of the Wilson intervals.
    cohorts_since : date or 'YYYY-MM-DD', optional
        Only the users first seen on or after this day (e.g. the cohorts a report shows; the
        sessions before it still tell who is new).
    **filters
        As :func:`first_outcomes`.

    Returns
    -------
    OutcomeRetention
    """
    check_choice("period", period, ("day", "week", "month"))
    if horizon is not None and (
        isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1
    ):
        raise InvalidQueryError(
            f"horizon: {horizon!r} must be a whole number >= 1", field="horizon"
        )
    wilson_interval(0, 1, confidence)  # checks it
    since = _since_day(cohorts_since)
    users, pairs, lo, hi = _firsts(sessions, first_seen, period, filters, since)
    keys = ["outcome", "channel"] if by_channel else ["outcome"]
    if by_channel:  # a first session outside the data has no channel either
        users["channel"] = users["channel"].where(users["channel"].notna(), "unknown")
    first = lo if since is None else max(lo, since)
    lo_p = int(period_index(np.array([first]), period)[0])
    hi_p = complete_periods(lo, hi, period)[1]
    last = hi_p - lo_p if horizon is None else min(horizon, hi_p - lo_p)

    channels = sorted(users["channel"].dropna().unique()) if by_channel else []
    cohorts = _cohort_sizes(users, keys, channels, period, lo, first_seen, censor_days)
    retention = _retained_by_offset(users, pairs, keys, channels, last, hi_p, confidence)
    within = _returned_within(sessions, users, keys, channels, hi, first_seen, filters, confidence)
    return OutcomeRetention(
        cohorts=cohorts,
        retention=retention,
        within=within,
        period=period,
        tz=str(sessions["start"].dt.tz),
        confidence=confidence,
        by_channel=by_channel,
    )


def _cohort_sizes(
    users: pd.DataFrame,
    keys: list[str],
    channels: list[str],
    period: str,
    lo: int,
    first_seen: pd.DataFrame | None,
    censor_days: int | None,
) -> pd.DataFrame:
    """Users per cohort and outcome (every outcome listed), flagged when possibly censored."""
    sizes = users.groupby(["cohort", *keys]).size().rename("users")
    levels = [sorted(users["cohort"].unique()), list(OUTCOMES)] + (
        [channels] if len(keys) > 1 else []
    )
    full = pd.MultiIndex.from_product(levels, names=["cohort", *keys])
    cohorts = sizes.reindex(full, fill_value=0).reset_index()
    edge_day = lo
    if first_seen is not None and first_seen.attrs.get("horizon") is not None:
        edge_day = int(np.datetime64(first_seen.attrs["horizon"], "D").astype(np.int64))
    edge = pd.Timestamp(np.datetime64(edge_day + (28 if censor_days is None else censor_days), "D"))
    cohorts["cohort"] = period_start(cohorts["cohort"].to_numpy(dtype=np.int64), period)
    cohorts["possibly_censored"] = cohorts["cohort"] < edge
    cohorts["users"] = cohorts["users"].astype("int64")
    return cohorts


def _retained_by_offset(
    users: pd.DataFrame,
    pairs: pd.DataFrame,
    keys: list[str],
    channels: list[str],
    last: int,
    hi_p: int,
    confidence: float,
) -> pd.DataFrame:
    """Active again at each offset, over the cohorts observed there, with intervals."""
    act = pairs.merge(users[["user_id", "cohort", *keys]], on="user_id")
    act["offset"] = act["p"] - act["cohort"]
    act = act[
        (act["offset"] >= 1) & (act["offset"] <= last) & (act["cohort"] + act["offset"] <= hi_p)
    ]
    retained = act.groupby([*keys, "offset"], dropna=False)["user_id"].nunique()
    parts = []
    for k in range(1, last + 1):
        seen = users[users["cohort"] + k <= hi_p]
        grouped = seen.groupby(keys, dropna=False).agg(
            cohorts=("cohort", "nunique"), users=("user_id", "size")
        )
        parts.append(grouped.assign(offset=k).reset_index())
    retention = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[*keys, "cohorts", "users", "offset"])
    )
    retention["retained"] = [
        int(retained.get(tuple(r) if len(r) > 1 else r[0], 0))
        for r in retention[[*keys, "offset"]].itertuples(index=False, name=None)
    ]
    retention = _complete_keys(retention, keys, channels, "offset", range(1, last + 1))
    return _with_intervals(retention, "retained", confidence)


def _returned_within(
    sessions: pd.DataFrame,
    users: pd.DataFrame,
    keys: list[str],
    channels: list[str],
    hi: int,
    first_seen: pd.DataFrame | None,
    filters: dict[str, Any],
    confidence: float,
) -> pd.DataFrame:
    """Returned within 7 / 28 days (day arithmetic, whatever the period), with intervals."""
    day_pairs, _first, _lo, _hi = activity_pairs(
        sessions, period="day", first_seen=first_seen, basis="filtered", filters=filters
    )
    back = day_pairs.merge(users[["user_id", "first_day"]], on="user_id")
    gap = (back["p"] - back["first_day"]).to_numpy()
    parts = []
    for days in WITHIN_DAYS:
        came = set(back.loc[(gap >= 1) & (gap <= days), "user_id"])
        seen = users[users["first_day"] + days <= hi]
        seen = seen.assign(returned=seen["user_id"].isin(came).astype("int64"))
        grouped = seen.groupby(keys, dropna=False).agg(
            users=("user_id", "size"), returned=("returned", "sum")
        )
        parts.append(grouped.assign(days=days).reset_index())
    within = pd.concat(parts, ignore_index=True)
    within = _complete_keys(within, keys, channels, "days", WITHIN_DAYS)
    return _with_intervals(within, "returned", confidence)


def _complete_keys(
    frame: pd.DataFrame, keys: list[str], channels: list[str], name: str, values: Any
) -> pd.DataFrame:
    """Every outcome (and channel) × value, zeros where no user had that first outcome."""
    levels = [list(OUTCOMES)] + ([channels] if len(keys) > 1 else []) + [list(values)]
    full = pd.MultiIndex.from_product(levels, names=[*keys, name])
    order = {"offset": ["cohorts", "users", "retained"], "days": ["users", "returned"]}[name]
    counts = [c for c in order if c in frame.columns]
    out = frame.set_index([*keys, name])[counts].reindex(full, fill_value=0).reset_index()
    return out.astype({c: "int64" for c in counts})


def compare_outcomes(
    result: OutcomeRetention, offset: int = 1, *, outcomes: tuple[str, ...] = CONTAINMENT_TYPES
) -> dict[str, Any] | None:
    """The known first outcomes with the highest and the lowest share active again at
    ``offset``, and whether they differ beyond chance (:func:`two_proportion_test`).

    Returns
    -------
    dict or None
        ``offset``, ``higher``, ``lower`` (outcomes), their ``users`` and ``retained``, and the
        test's ``rate1`` (higher), ``rate2`` (lower), ``ratio``, ``z``, ``p_value``,
        ``method``, ``enough``, ``significant`` (p < 1 - confidence). ``None`` when fewer
        than two of ``outcomes`` have users observed at the offset.
    """
    rows = result.retention[result.retention["offset"] == offset]
    if result.by_channel:
        rows = rows.groupby("outcome", as_index=False)[["users", "retained"]].sum()
    rows = rows[rows["outcome"].isin(outcomes) & (rows["users"] > 0)]
    if len(rows) < 2:
        return None
    rates = rows["retained"] / rows["users"]
    order = rows.assign(rate=rates).sort_values(
        ["rate", "users"], ascending=[False, False], kind="stable"
    )
    hi, lo = order.iloc[0], order.iloc[-1]
    test = two_proportion_test(
        int(hi["retained"]), int(hi["users"]), int(lo["retained"]), int(lo["users"])
    )
    alpha = 1 - result.confidence
    return {
        "offset": offset,
        "higher": hi["outcome"],
        "lower": lo["outcome"],
        "users": [int(hi["users"]), int(lo["users"])],
        "retained": [int(hi["retained"]), int(lo["retained"])],
        **test,
        "significant": bool(test["p_value"] is not None and test["p_value"] < alpha),
    }  # fmt: skip


# how the sentence names a first outcome: as its users, and as "those ..."
_WHOSE = {
    "selfService": "users whose first conversation the bot handled itself",
    "dropOff": "users who dropped off in their first conversation",
    "agent": "users whose first conversation was handed to an agent",
}
_THOSE = {
    "selfService": "those the bot served itself",
    "dropOff": "those who dropped off",
    "agent": "those handed to an agent",
}


def comparison_sentence(found: dict[str, Any] | None, period: str = "week") -> str:
    """One plain sentence for :func:`compare_outcomes`: how much more often the best known first
    outcome's users came back than the worst one's, and whether that is beyond chance.

    ``"Users whose first conversation was handed to an agent came back the week after 1.4× as
    often as those who dropped off (15.0 % of 200 vs 10.7 % of 300); the difference is not beyond
    chance at this size (two-proportion z test, p = 0.19)."``
    """
    if found is None:
        return (
            "Too few new users with a known outcome of their first conversation came back "
            "into view to compare outcomes yet."
        )
    hi, lo = found["higher"], found["lower"]
    (n1, n2), (x1, x2) = found["users"], found["retained"]
    offset = found.get("offset", 1)
    when = f"the {period} after" if offset == 1 else f"{offset} {period}s later"
    numbers = (
        f"({share_text(found['rate1'])} of {count_text(n1)} vs "
        f"{share_text(found['rate2'])} of {count_text(n2)})"
    )
    who = _WHOSE[hi][0].upper() + _WHOSE[hi][1:]
    if found["ratio"] is None:
        head = f"{who} came back {when} while none of {_THOSE[lo]} did"
    elif x1 == x2 and n1 == n2:
        head = f"{who} came back {when} as often as {_THOSE[lo]}"
    else:
        head = f"{who} came back {when} {ratio_text(found['ratio'])} as often as {_THOSE[lo]}"
    test = f"({found['method']}, {p_value_text(found['p_value'])})"
    beyond = "beyond" if found["significant"] else "not beyond"
    return f"{head} {numbers}; the difference is {beyond} chance at this size {test}."


# -- journeys --------------------------------------------------------------------------------
def outcome_transitions(
    sessions: pd.DataFrame,
    *,
    first_seen: pd.DataFrame | None = None,
    cohorts_since: Any = None,
    **filters: Any,
) -> pd.DataFrame:
    """For returning users: the outcome of their first session vs that of their next one.

    The next session is the first one on a later local day than the first session (see the
    module docstring); users first seen within the data who never came back are not counted.
    ``cohorts_since`` keeps the users first seen on or after that day only.

    Returns
    -------
    DataFrame
        ``first``, ``next`` (both over :data:`OUTCOMES`, every pair listed), ``users``,
        ``share`` (of the row's users; NaN for a row without users).
    """
    users, _pairs, _lo, _hi = _firsts(
        sessions, first_seen, "day", filters, _since_day(cohorts_since)
    )
    frame = filter_sessions(sessions, **filters)
    frame = frame[frame["user_id"].isin(users["user_id"])]
    first_day = users.set_index("user_id")["first_day"]
    days = day_index(frame["start"])
    later = frame[days > first_day.loc[frame["user_id"]].to_numpy()]
    later = later.sort_values(["start", "session_id"], kind="stable").drop_duplicates("user_id")
    nxt = pd.Series(_outcome_of(later["containment"]), index=later["user_id"].to_numpy())
    first = users.set_index("user_id")["outcome"].loc[nxt.index]
    counts = pd.crosstab(first.to_numpy(), nxt.to_numpy()) if len(nxt) else pd.DataFrame()
    counts = counts.reindex(index=list(OUTCOMES), columns=list(OUTCOMES), fill_value=0)
    out = counts.rename_axis(index="first", columns="next").stack().rename("users").reset_index()
    out["users"] = out["users"].astype("int64")
    totals = out.groupby("first")["users"].transform("sum")
    out["share"] = np.where(totals > 0, out["users"] / totals.where(totals > 0, 1), np.nan)
    return out


def outcome_mix(
    sessions: pd.DataFrame,
    period: Literal["day", "week", "month"] = "week",
    *,
    first_seen: pd.DataFrame | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """Per period lying wholly inside the data, the outcome mix of new vs returning users'
    sessions (new: the user was first seen in the same period).

    Returns
    -------
    DataFrame
        ``period`` (first day), ``users`` (``"new"``/``"returning"``), ``outcome`` (over
        :data:`OUTCOMES`, zeros included), ``sessions``, ``share`` (of that period's sessions
        of those users; NaN without any).
    """
    check_choice("period", period, ("day", "week", "month"))
    _pairs, first_day, lo, hi = activity_pairs(
        sessions, period=period, first_seen=first_seen, basis="filtered", filters=filters
    )
    frame = filter_sessions(sessions, **filters)
    p = period_index(day_index(frame["start"]), period)
    first_p = period_index(first_day.loc[frame["user_id"]].to_numpy(dtype=np.int64), period)
    lo_p, hi_p = complete_periods(lo, hi, period)
    data = pd.DataFrame(
        {
            "period": p,
            "users": np.where(first_p == p, "new", "returning"),
            "outcome": _outcome_of(frame["containment"]),
        }
    )
    data = data[(data["period"] >= lo_p) & (data["period"] <= hi_p)]
    counts = data.groupby(["period", "users", "outcome"]).size()
    full = pd.MultiIndex.from_product(
        [range(lo_p, hi_p + 1), ["new", "returning"], list(OUTCOMES)],
        names=["period", "users", "outcome"],
    )
    out = counts.reindex(full, fill_value=0).rename("sessions").reset_index()
    out["sessions"] = out["sessions"].astype("int64")
    totals = out.groupby(["period", "users"])["sessions"].transform("sum")
    out["share"] = np.where(totals > 0, out["sessions"] / totals.where(totals > 0, 1), np.nan)
    out["period"] = period_start(out["period"].to_numpy(dtype=np.int64), period)
    return out
