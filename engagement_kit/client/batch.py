"""Many requests at once: :func:`fetch_many` (a small thread pool, one request in flight per
stream, no more requests on a host or stream after a failure retries could not cure) and
:func:`fetch_weeks` (one request per ISO week, the platform's own summary of each), behind
:meth:`EngagementClient.fetch_many` and :meth:`EngagementClient.fetch_weeks`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engagement_kit.client.options import check_int
from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.weeks import ended_week, today_in, week_bounds, week_labels
from engagement_kit.errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    InvalidQueryError,
    ServerError,
)

if TYPE_CHECKING:
    import pandas as pd

    from engagement_kit.client.core import EngagementClient
    from engagement_kit.tidy import Engagement

__all__ = ["FetchResult", "fetch_many", "fetch_weeks"]

logger = logging.getLogger("engagement_kit.client")


def _not_sent(earlier: Exception) -> Exception:
    """The error of a batch item skipped because an earlier one failed for good."""
    note = "not sent, because an earlier request of this batch failed after its retries"
    if isinstance(earlier, ApiError):
        return type(earlier)(
            f"{note}: {earlier.message}", status=earlier.status, url="", hint=earlier.hint
        )
    return type(earlier)(f"{note}: {earlier}")


@dataclass(frozen=True)
class FetchResult:
    """One item of :meth:`EngagementClient.fetch_many`.

    Attributes
    ----------
    query : EngagementQuery or None
        ``None`` when the request itself was invalid (then ``error`` says why).
    data : Engagement or None
        The answer, or ``None`` on failure.
    error : Exception or None
        What went wrong for this item.
    request : object
        The item as it was given.
    """

    query: EngagementQuery | None
    data: Engagement | None = None
    error: Exception | None = None
    request: Any = None

    @property
    def ok(self) -> bool:
        """Whether this item was fetched."""
        return self.error is None


def fetch_many(
    client: EngagementClient,
    requests: Iterable[EngagementQuery | Mapping[str, Any]],
    *,
    max_workers: int = 4,
    refresh: bool = False,
    per_stream: int = 1,
) -> list[FetchResult]:
    """Fetch several queries at once with a small thread pool.

    Parameters
    ----------
    requests : iterable of EngagementQuery or dict
        Queries, or dicts of :meth:`EngagementClient.fetch` keyword arguments (``stream_id``, ``start``,
        ``end``, ...; a ``refresh`` key overrides ``refresh`` for that item).
    max_workers : int
        Threads (the per-stream rate limiter still paces the requests).
    per_stream : int
        Requests in flight at once for one stream (default 1, as the platform asks: no
        overlapping requests); different streams still go in parallel.

    Returns
    -------
    list of FetchResult
        In input order; each carries its own ``error`` instead of raising. Once a request
        has failed after all its retries with a connection error, the items not started
        yet are not sent (the host is down); after a 401/403 or 5xx, neither are the
        items of that stream. Those items carry an error of the same type whose message
        starts "not sent". A batch against a dead host therefore ends in one request's
        retries, not in every item's.
    """
    check_int("max_workers", max_workers, minimum=1)
    check_int("per_stream", per_stream, minimum=1)
    items = list(requests)
    failed: dict[str | None, Exception] = {}  # stream id (None: the host) -> first failure
    results: list[FetchResult | None] = [None] * len(items)
    # one queue of item positions per stream, worked off by ``per_stream`` lanes each: a
    # thread never waits on a busy stream while another stream's items are waiting (with one
    # thread per item, threads queued behind the first stream's lock and a batch of several
    # streams ran nearly one request at a time)
    queues: dict[str, deque[tuple[int, EngagementQuery, bool, Any]]] = {}
    for position, item in enumerate(items):
        query, item_refresh, error = _as_query(item, refresh)
        if error is not None:
            results[position] = FetchResult(None, None, error, item)
        else:
            queues.setdefault(query.stream_id, deque()).append(
                (position, query, item_refresh, item)
            )

    def lane(queue: deque[tuple[int, EngagementQuery, bool, Any]]) -> None:
        while True:
            try:
                # atomic: the stream's lanes share its queue
                position, query, item_refresh, item = queue.popleft()
            except IndexError:
                return
            # after a failure that retries could not cure, do not pile more requests on the
            # same stream (401/403, 5xx) or, for a network failure, on the host at all
            earlier = failed.get(None) or failed.get(query.stream_id)
            if earlier is not None:
                results[position] = FetchResult(query, None, _not_sent(earlier), item)
                continue
            try:
                data = client.fetch_query(query, refresh=item_refresh)
            except Exception as exc:
                results[position] = failure(query, item, exc)
            else:
                results[position] = FetchResult(query, data, None, item)

    def failure(query: EngagementQuery, item: Any, exc: Exception) -> FetchResult:
        logger.debug("fetch_many: %s failed: %s", query.describe(), exc)
        if isinstance(exc, ApiConnectionError):
            failed.setdefault(None, exc)
        elif isinstance(exc, AuthError | ServerError):
            failed.setdefault(query.stream_id, exc)
        return FetchResult(query, None, exc, item)

    lanes = [queue for queue in queues.values() for _ in range(min(per_stream, len(queue)))]
    workers = min(max_workers, len(lanes))
    if workers <= 1:
        for queue in lanes:
            lane(queue)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engagement-kit") as pool:
            for done in [pool.submit(lane, queue) for queue in lanes]:
                done.result()
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _as_query(item: Any, refresh: bool) -> tuple[Any, bool, Exception | None]:
    """``(query, refresh, None)`` for a batch item, or ``(None, refresh, error)`` when it is
    not a valid request."""
    try:
        if isinstance(item, EngagementQuery):
            return item, refresh, None
        if isinstance(item, Mapping):
            fields = dict(item)
            item_refresh = bool(fields.pop("refresh", refresh))
            return EngagementQuery(**fields), item_refresh, None
        raise InvalidQueryError(
            f"fetch_many: {type(item).__name__} is not a request; give an "
            "EngagementQuery or a dict of fetch() arguments",
            field="requests",
        )
    except Exception as exc:
        return None, refresh, exc


def fetch_weeks(
    client: EngagementClient,
    stream_id: str,
    weeks: int = 12,
    *,
    end_week: str | None = None,
    tz: str = "UTC",
    refresh: bool = False,
    max_workers: int = 4,
    **filters: Any,
) -> pd.DataFrame:
    """One row per complete ISO week: the platform's own summary of each week.

    One daily request per week, so every week's unique and returning users are exact (they
    do not add up across weeks), and closed weeks are reused from the store for good.

    Parameters
    ----------
    stream_id : str
    weeks : int
        How many weeks, ending with ``end_week``.
    end_week : str, optional
        ``'YYYY-Www'``; default the last complete ISO week in ``tz``. A week that has not
        ended yet in ``tz`` is refused.
    tz : str
        IANA zone of the weeks.
    **filters
        ``conversation_type``, ``conversation_status``, ``channels``.

    Returns
    -------
    pandas.DataFrame
        Oldest week first: ``week`` ('YYYY-Www'), ``start``, ``end`` (Monday and Sunday,
        ``datetime64``), ``days``, ``unique_users``, ``new_users``, ``returning_users``
        (``Int64``), ``avg_unique_users_per_day``, ``avg_new_users_per_day``,
        ``avg_returning_users_per_day`` (``Float64``). ``attrs`` holds ``stream_id``, ``tz``
        and the filters.

    Raises
    ------
    InvalidQueryError
        Before any request: a bad week label, an incomplete ``end_week``, bad filters.
    EngagementError
        The first failure among the weeks (see :meth:`EngagementClient.fetch`).
    """
    import pandas as pd

    if "aggregation" in filters:
        raise InvalidQueryError(
            "aggregation: fetch_weeks always asks for daily data; drop the argument",
            field="aggregation",
        )
    probe = EngagementQuery(
        stream_id=stream_id, start="2000-01-03", end="2000-01-03", tz=tz, **filters
    )
    today = today_in(probe.tz, now=client.now())
    end_week = ended_week(end_week, probe.tz, today=today, field="end_week")
    labels = week_labels(end_week, weeks)
    bounds = [week_bounds(label) for label in labels]
    queries = [probe.replace(start=monday, end=sunday) for monday, sunday in bounds]
    results = client.fetch_many(queries, max_workers=max_workers, refresh=refresh)
    for result in results:
        if result.error is not None:
            raise result.error
    from engagement_kit.tidy import SUMMARY_FIELDS

    columns = list(SUMMARY_FIELDS.values())  # the summary's own fields, in its order
    rows = []
    for label, (monday, sunday), result in zip(labels, bounds, results, strict=True):
        assert result.data is not None
        summary = result.data.summary
        rows.append(
            {
                "week": label,
                "start": monday,
                "end": sunday,
                "days": (sunday - monday).days + 1,
                **{name: summary[name] for name in columns},
            }
        )
    frame = pd.DataFrame(rows, columns=["week", "start", "end", "days", *columns])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    frame["days"] = frame["days"].astype("int64")
    for name in columns:
        dtype = "Float64" if name.startswith("avg_") else "Int64"
        frame[name] = frame[name].astype("Float64").astype(dtype)
    frame.attrs.update(
        stream_id=probe.stream_id,
        tz=probe.tz,
        filters={
            "conversation_type": probe.conversation_type,
            "conversation_status": probe.conversation_status,
            "channels": list(probe.channels),
        },
    )
    return frame
