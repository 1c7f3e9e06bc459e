"""Reading the record: the revisions of a range, and what a report should say about them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engagement_kit.store.compare import changes

if TYPE_CHECKING:
    from engagement_kit.config.query import EngagementQuery
    from engagement_kit.store.responses import ResponseStore, Revision

__all__ = ["StoreNote", "range_history", "report_note"]

#: A revision this recent (before the report's data was loaded) is announced in the report.
REVISION_NEWS = dt.timedelta(days=7)


def _status(revision: Revision, used: Revision | None) -> str:
    if revision.lossy:
        return "kept, not used: loses data the store had"
    if used is not None and revision.id == used.id:
        return "in use" + (" (final)" if revision.settled else " (not settled yet)")
    return "earlier answer"


def range_history(
    store: ResponseStore, stream_id: str, *, week: str | None = None
) -> list[dict[str, Any]]:
    """Every stored range of ``stream_id`` (or only the ISO ``week``'s), with its revisions.

    Returns
    -------
    list of dict
        One per range, oldest first: ``query`` (EngagementQuery), ``host`` and ``revisions``,
        a list of dicts (oldest first) with ``revision`` (1, 2, ...), ``fetched_at``,
        ``seen_at``, ``status`` and ``changes`` (what differs from the revision before, in
        words; empty for the first).
    """
    from engagement_kit.config import weeks as weeks_mod

    start = end = None
    if week is not None:
        start, end = weeks_mod.week_bounds(weeks_mod.parse_iso_week(week, field="week"))
    out = []
    for revisions in store.ranges(stream_id=stream_id, start=start, end=end).values():
        used = store.in_use(revisions)
        listed = []
        for n, revision in enumerate(revisions, start=1):
            before = revisions[n - 2] if n > 1 else None
            listed.append(
                {
                    "revision": n,
                    "fetched_at": revision.fetched_at,
                    "seen_at": revision.seen_at,
                    "status": _status(revision, used),
                    "changes": []
                    if before is None
                    else changes(before.payload, revision.payload, revision.query)
                    or ["same numbers"],
                }
            )
        first = revisions[0]
        out.append({"query": first.query, "host": first.host, "revisions": listed})
    return sorted(out, key=lambda r: (r["query"].start, r["query"].end, r["query"].key()))


@dataclass(frozen=True)
class StoreNote:
    """What a report says about the stored answers behind its numbers.

    Attributes
    ----------
    settled : bool or None
        Every answer used was final (its range ended at least the settling time before it was
        fetched); ``None`` without a store.
    unsettled : list of str
        The ranges whose answers may still change, described.
    revised : list of str
        One line per recently revised range, e.g.
        ``"the platform revised 2025-W45: unique users 710 → 702"``.
    settle_hours : float
    """

    settled: bool | None
    unsettled: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    settle_hours: float = 48.0

    def text(self) -> list[str]:
        """The note as sentences."""
        if self.settled is None:
            lines = ["These numbers were not kept in a response store."]
        elif self.settled:
            lines = [
                "All numbers are settled: every answer was fetched at least "
                f"{self.settle_hours:g} hours after its range ended, so the platform had "
                "finished counting."
            ]
        else:
            lines = [
                f"Not all numbers are settled yet ({', '.join(self.unsettled)} fetched less than "
                f"{self.settle_hours:g} hours after the range ended): they may still change and "
                "are fetched again on the next run."
            ]
        return lines + [line[0].upper() + line[1:] + "." for line in self.revised]


def _label(query: EngagementQuery) -> str:
    from engagement_kit.config.weeks import iso_week_label, week_bounds

    label = iso_week_label(query.start)
    if week_bounds(label) == (query.start, query.end):
        return label
    return f"{query.start}..{query.end}"


def report_note(
    store: ResponseStore | None,
    host: str,
    queries: list[EngagementQuery],
    *,
    now: dt.datetime,
    revised: list[EngagementQuery] | None = None,
) -> StoreNote:
    """Whether the answers to ``queries`` are settled, and which of ``revised`` changed lately.

    A range counts as revised when its answer in use replaced, within :data:`REVISION_NEWS`
    before ``now``, an earlier answer fetched after the range had ended (an answer for a day
    still in progress is not a revision).
    """
    if store is None:
        return StoreNote(settled=None)
    unsettled = []
    for query in queries:
        revisions = store.revisions(host, query)
        if not any(r.settled for r in revisions):
            unsettled.append(_label(query) + (" hourly" if query.aggregation == "hourly" else ""))
    lines = []
    for query in revised if revised is not None else queries:
        revisions = store.revisions(host, query)
        used = store.in_use(revisions)
        if used is None or not dt.timedelta(0) <= now - used.fetched_at <= REVISION_NEWS:
            continue
        earlier = [r for r in revisions if r.id != used.id and r.ended and not r.lossy]
        if not earlier:
            continue
        before = max(earlier, key=lambda r: (r.seq, r.id))
        changed = [c for c in changes(before.payload, used.payload, query) if "→" in c]
        if changed:
            lines.append(f"the platform revised {_label(query)}: {', '.join(changed)}")
    return StoreNote(
        settled=not unsettled,
        unsettled=unsettled,
        revised=lines,
        settle_hours=store.settle.total_seconds() / 3600,
    )
