"""Pure functions: the platform's JSON answer → :class:`Engagement` (tidy pandas frames).

No I/O happens here. Every answer is checked against the documented shape; anything missing,
mistyped or negative raises :class:`~engagement_kit.errors.ResponseFormatError` naming the field
(e.g. ``newUsersTrend.dataPoints[3]["17 - 18"]``). An unknown key inside a data point (such as
``"25 - 26"``) is an error too, since its users would be silently lost; unknown keys elsewhere
(a new top-level field, a new field of ``summary`` or ``filters``) are tolerated.

Dates (``"Dec 01 2025"``) are parsed with an English month table, never the machine's locale.

Daylight-saving days
--------------------
Hourly answers always carry 24 wall-clock buckets per day, ``"0 - 1"`` … ``"23 - 0"``, in the
query's zone. The ``start`` column is the bucket's first real instant in that zone:

* a wall-clock hour that does not exist (spring forward, e.g. 02:00 on 2025-03-09 in
  America/New_York) has ``start = NaT``; the platform reports it, normally with 0 users;
* a wall-clock hour that happens twice (fall back, e.g. 01:00 on 2025-11-02 in New York) gets the
  *first* occurrence as ``start``; its counts cover both real hours, as the platform's do;
* a daily bucket starts at the day's first instant (midnight, or the first instant after a
  midnight that does not exist).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import ResponseFormatError
from .weeks import MONTHS

if TYPE_CHECKING:
    from .query import EngagementQuery

__all__ = [
    "HOUR_KEYS",
    "METRICS",
    "SUMMARY_FIELDS",
    "Engagement",
    "format_api_date",
    "merge_engagements",
    "parse_api_date",
    "parse_response",
]

#: The three trends, in the order they appear in frames.
METRICS: tuple[str, ...] = ("unique", "new", "returning")
_TREND_KEYS = {
    "unique": "uniqueUsersTrend",
    "new": "newUsersTrend",
    "returning": "returningUsersTrend",
}
#: The 24 hourly keys, "0 - 1" … "23 - 0", in hour order.
HOUR_KEYS: tuple[str, ...] = tuple(f"{h} - {(h + 1) % 24}" for h in range(24))
#: platform summary key -> our column name, in display order.
SUMMARY_FIELDS: dict[str, str] = {
    "uniqueUsers": "unique_users",
    "newUsers": "new_users",
    "returningUsers": "returning_users",
    "avgUniqueUsersPerDay": "avg_unique_users_per_day",
    "avgNewUsersPerDay": "avg_new_users_per_day",
    "avgReturningUsersPerDay": "avg_returning_users_per_day",
}
_COUNT_FIELDS = ("uniqueUsers", "newUsers", "returningUsers")
#: Counts at or above this are refused (a float cannot even hold some larger JSON integers).
_MAX_COUNT = 2**62
#: The days a ``datetime64[ns]`` frame can hold, with room for hours and zone offsets.
_FIRST_DAY, _LAST_DAY = dt.date(1678, 1, 1), dt.date(2261, 12, 31)

_MONTH_NUMBER = {name: i for i, name in enumerate(MONTHS, start=1)}
_API_DATE = re.compile(r"([A-Z][a-z]{2}) ([0-9]{1,2}) ([0-9]{4})")  # ASCII digits only
_hours_of = itemgetter(*HOUR_KEYS)
_METRIC_DTYPE = pd.CategoricalDtype(list(METRICS))
_SUMMARY_INDEX = pd.Index(list(SUMMARY_FIELDS.values()))
_stream_dtypes: dict[str, pd.CategoricalDtype] = {}


def _stream_dtype(stream_id: str) -> pd.CategoricalDtype:
    dtype = _stream_dtypes.get(stream_id)
    if dtype is None:
        dtype = pd.CategoricalDtype([stream_id])
        if len(_stream_dtypes) < 1000:
            _stream_dtypes[stream_id] = dtype
    return dtype


_date_cache: dict[str, dt.date] = {}


def parse_api_date(text: object, *, field: str = "date") -> dt.date:
    """Parse the platform's ``MMM DD YYYY`` date (``"Dec 01 2025"``), independent of locale."""
    if isinstance(text, str):
        cached = _date_cache.get(text)
        if cached is not None:
            return cached
        m = _API_DATE.fullmatch(text)
        if m and m.group(1) in _MONTH_NUMBER:
            try:
                value = dt.date(int(m.group(3)), _MONTH_NUMBER[m.group(1)], int(m.group(2)))
            except ValueError:
                pass
            else:
                if not _FIRST_DAY <= value <= _LAST_DAY:
                    raise ResponseFormatError(
                        f"{_short(text)} is outside the dates a frame can hold "
                        f"({_FIRST_DAY} to {_LAST_DAY})",
                        field=field,
                    )
                if len(_date_cache) < 20_000:
                    _date_cache[text] = value
                return value
    raise ResponseFormatError(
        f"expected a date like 'Dec 01 2025' (English month, day, year), got {_short(text)}",
        field=field,
    )


def format_api_date(day: dt.date) -> str:
    """Format a date the platform's way: ``Dec 01 2025``."""
    return f"{MONTHS[day.month - 1]} {day.day:02d} {day.year:04d}"


@dataclass(frozen=True, eq=False)
class Engagement:
    """One answer of the User Engagement Trend API, tidied.

    Attributes
    ----------
    summary : pandas.Series
        ``Float64``, indexed ``unique_users, new_users, returning_users,
        avg_unique_users_per_day, avg_new_users_per_day, avg_returning_users_per_day``.
        Over a period, new + returning may exceed unique (a user new on one day and back on a
        later one counts in both). For a range fetched in chunks only new users add up exactly;
        unique and returning (and their averages) are ``<NA>`` rather than wrong.
    trend : pandas.DataFrame
        Long and tidy, one row per metric and bucket, ordered by metric then date then hour:
        ``stream_id`` (category), ``metric`` (category ``unique``/``new``/``returning``),
        ``date`` (``datetime64[ns]``, local calendar day), ``hour`` (``Int8`` 0–23, ``<NA>`` for
        daily data), ``start`` (``datetime64[ns, tz]``, the bucket's first instant in the query's
        zone, see the module docstring for daylight-saving days), ``users`` (``int64``).
    filters : dict
        What the platform says it applied (its ``filters`` object, as sent).
    query : EngagementQuery or None
        The query that produced the answer (never holds a secret); ``None`` when a bare
        payload was parsed.
    stream_id, tz, aggregation : str
        The stream, the IANA zone of ``date``/``hour``/``start``, and ``"daily"``/``"hourly"``.
    summary_notes : dict
        Why a ``summary`` value is ``<NA>``: summary field → a sentence for the reader (empty
        for an answer of one request). Tables show the sentence instead of a bare dash.
    """

    summary: pd.Series
    trend: pd.DataFrame
    filters: dict[str, Any] = field(default_factory=dict)
    query: EngagementQuery | None = None
    stream_id: str = "unknown"
    tz: str = "UTC"
    aggregation: str = "daily"
    summary_notes: dict[str, str] = field(default_factory=dict)

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The distinct days covered, in order (whatever the order of ``trend``'s rows)."""
        days = np.unique(self.trend["date"].to_numpy(dtype="datetime64[ns]"))
        return pd.DatetimeIndex(days)

    @property
    def days(self) -> int:
        """Number of days covered."""
        return len(self.dates)

    @property
    def n_buckets(self) -> int:
        """Distinct (date, hour) buckets: days for daily data, days × 24 for hourly data."""
        date, hour, _ = _trend_keys(self.trend)
        return len(np.unique(_bucket_key(date, hour)))

    @property
    def start(self) -> dt.date | None:
        """First day (from the query when known, else from the data)."""
        if self.query is not None:
            return self.query.start
        return self.dates[0].date() if len(self.trend) else None

    @property
    def end(self) -> dt.date | None:
        """Last day (from the query when known, else from the data)."""
        if self.query is not None:
            return self.query.end
        return self.dates[-1].date() if len(self.trend) else None

    def wide(self) -> pd.DataFrame:
        """One row per bucket, the three metrics side by side.

        Rows are matched on their (date, hour) key, never on their position, so a ``trend``
        that was sorted, filtered or concatenated still gives the right columns. A bucket that
        one metric lacks counts 0 for it.

        Returns
        -------
        pandas.DataFrame
            ``date``, ``hour``, ``start``, ``unique``, ``new``, ``returning`` (``int64``),
            ordered by date then hour.

        Raises
        ------
        ResponseFormatError
            When a metric has two rows for the same bucket, or a row names an unknown metric.
        """
        return _wide_from_trend(self.trend)

    def __repr__(self) -> str:
        unique = self.summary.get("unique_users")
        shown = "NA" if pd.isna(unique) else f"{int(unique):,}"
        return (
            f"<Engagement {self.stream_id} {self.start} to {self.end} {self.aggregation} "
            f"{self.tz}: {shown} unique users>"
        )


def parse_response(
    payload: Mapping[str, Any] | bytes | str,
    *,
    query: EngagementQuery | None = None,
    stream_id: str | None = None,
    tz: str | None = None,
) -> Engagement:
    """Parse one answer of the User Engagement Trend API v2 into an :class:`Engagement`.

    Parameters
    ----------
    payload : dict, bytes or str
        The decoded JSON object, or its raw text.
    query : EngagementQuery, optional
        The query that was sent; it supplies the stream id, zone and aggregation.
    stream_id, tz : str, optional
        Used when no ``query`` is given (defaults ``"unknown"`` and ``"UTC"``).

    Returns
    -------
    Engagement
        ``summary`` and the tidy ``trend`` (``stream_id``, ``metric``, ``date``, ``hour``,
        ``start``, ``users``).

    Raises
    ------
    ResponseFormatError
        When the answer is not the documented shape; the message names the field.
    """
    if isinstance(payload, bytes | bytearray | str):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResponseFormatError(
                f"the answer is not JSON ({exc.__class__.__name__}: {_short(str(exc))}); "
                "check the host points at the platform's API",
                field="<body>",
            ) from exc
    if not isinstance(payload, Mapping):
        raise ResponseFormatError(
            f"expected a JSON object, got {type(payload).__name__}", field="<body>"
        )

    if query is not None:
        stream_id, tz = query.stream_id, query.tz
    stream_id = stream_id or "unknown"
    tz = tz or "UTC"

    summary = _parse_summary(_get(payload, "summary", Mapping, "summary"), stream_id)
    filters = dict(_get(payload, "filters", Mapping, "filters"))
    if "dataPointsCount" in filters:
        _check_count(filters["dataPointsCount"], "filters.dataPointsCount")

    points = {
        m: _get(
            _get(payload, _TREND_KEYS[m], Mapping, _TREND_KEYS[m]),
            "dataPoints",
            list,
            f"{_TREND_KEYS[m]}.dataPoints",
        )
        for m in METRICS
    }
    aggregation = _aggregation(query, filters, points["unique"])

    dates = _parse_dates(points)
    values = [_values(points[m], _TREND_KEYS[m], aggregation) for m in METRICS]
    trend = _build_trend(dates, values, aggregation=aggregation, stream_id=stream_id, tz=tz)
    return Engagement(
        summary=summary,
        trend=trend,
        filters=filters,
        query=query,
        stream_id=stream_id,
        tz=tz,
        aggregation=aggregation,
    )


#: The summary fields a chunked range cannot give exactly.
NOT_ADDITIVE: tuple[str, ...] = (
    "unique_users",
    "returning_users",
    "avg_unique_users_per_day",
    "avg_returning_users_per_day",
)


def merge_engagements(
    parts: Sequence[Engagement], query: EngagementQuery, *, note: str | None = None
) -> Engagement:
    """Join the answers for consecutive chunks of one query into one continuous answer.

    The trend is the chunks' trends end to end. In the summary only new users add up exactly
    (a user's first-ever interaction falls in exactly one chunk); unique and returning users,
    and their per-day averages, are set to ``<NA>`` because a user active in two chunks would
    be counted twice. ``note`` (default: a general sentence) becomes the reason in
    ``summary_notes`` for each of them.

    Returns
    -------
    Engagement
        With ``trend`` ordered by metric, date and hour like a single answer.
    """
    if not parts:
        raise ValueError("merge_engagements needs at least one part")
    if len(parts) == 1:
        return parts[0]
    trend = pd.concat([p.trend for p in parts], ignore_index=True)
    trend = trend.sort_values(["metric", "date", "hour"], kind="stable").reset_index(drop=True)
    new_users = float(sum(p.summary["new_users"] for p in parts))
    days = (query.end - query.start).days + 1
    summary = pd.Series(
        [pd.NA, new_users, pd.NA, pd.NA, new_users / days, pd.NA],
        index=list(SUMMARY_FIELDS.values()),
        dtype="Float64",
        name=query.stream_id,
    )
    filters = dict(parts[0].filters)
    filters["start"] = parts[0].filters.get("start", format_api_date(query.start))
    filters["end"] = parts[-1].filters.get("end", format_api_date(query.end))
    filters["dataPointsCount"] = sum(int(p.filters.get("dataPointsCount", p.days)) for p in parts)
    note = note or (
        f"Not available for this {query.days}-day range: it was fetched in {len(parts)} parts, "
        "and a user active in several parts cannot be counted once."
    )
    return Engagement(
        summary=summary,
        trend=trend,
        filters=filters,
        query=query,
        stream_id=query.stream_id,
        tz=query.tz,
        aggregation=parts[0].aggregation,
        summary_notes=dict.fromkeys(NOT_ADDITIVE, note),
    )


# -- helpers ---------------------------------------------------------------------------------


def _trend_keys(trend: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days as int64 ns, hour with -1 for daily rows, metric code 0/1/2) of every row."""
    date = trend["date"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    hour = trend["hour"].astype("Int16").fillna(-1).to_numpy(dtype=np.int64)
    metric = trend["metric"]
    if isinstance(metric.dtype, pd.CategoricalDtype) and tuple(metric.cat.categories) == METRICS:
        code = metric.cat.codes.to_numpy(dtype=np.int64)
    else:
        code = pd.Categorical(metric.astype(str), categories=list(METRICS)).codes.astype(np.int64)
    if (code < 0).any():
        bad = metric[code < 0].iloc[0]
        raise ResponseFormatError(
            f"unknown metric {bad!r}; the metrics are {', '.join(METRICS)}", field="trend.metric"
        )
    return date, hour, code


def _bucket_key(date: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """One int64 per (date, hour) bucket, ordered like the buckets (hour -1 = the whole day)."""
    return (date // 3_600_000_000_000) * 32 + hour + 1  # hours since 1970 stay far from overflow


def _wide_from_trend(trend: pd.DataFrame) -> pd.DataFrame:
    date, hour, code = _trend_keys(trend)
    n = len(trend) // len(METRICS)
    order = np.lexsort((hour, date, code))
    canonical = order if (order[1:] > order[:-1]).all() else None  # already sorted?
    if canonical is None:
        trend = trend.take(order)
        date, hour, code = date[order], hour[order], code[order]
    blocks = n * len(METRICS) == len(trend) and bool(
        (code == np.repeat(np.arange(len(METRICS)), n)).all()
        and all(
            np.array_equal(date[:n], date[i * n : (i + 1) * n])
            and np.array_equal(hour[:n], hour[i * n : (i + 1) * n])
            for i in range(1, len(METRICS))
        )
    )
    key = _bucket_key(date, hour)
    if blocks and (n < 2 or bool((key[1:n] > key[: n - 1]).all())):
        # the usual case: three aligned blocks of the same distinct buckets
        users = trend["users"].to_numpy()
        out = trend.iloc[:n][["date", "hour", "start"]].reset_index(drop=True)
        for i, metric in enumerate(METRICS):
            out[metric] = users[i * n : (i + 1) * n].astype(np.int64, copy=False)
        return out
    frame = pd.DataFrame({"key": key, "code": code, "users": trend["users"].to_numpy()})
    if frame.duplicated(["key", "code"]).any():
        row = trend.iloc[int(np.flatnonzero(frame.duplicated(["key", "code"]).to_numpy())[0])]
        raise ResponseFormatError(
            f"two rows for {row['metric']} users on {pd.Timestamp(row['date']).date()}"
            + ("" if pd.isna(row["hour"]) else f" hour {int(row['hour'])}")
            + "; a trend has one row per metric and bucket",
            field="trend",
        )
    table = frame.pivot(index="key", columns="code", values="users")
    table = table.reindex(columns=range(len(METRICS))).fillna(0).astype(np.int64)
    firsts = pd.Series(np.arange(len(trend))).groupby(key).first()
    out = trend.iloc[firsts.loc[table.index].to_numpy()][["date", "hour", "start"]]
    out = out.reset_index(drop=True)
    for i, metric in enumerate(METRICS):
        out[metric] = table[i].to_numpy()
    return out


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _get(obj: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    if key not in obj:
        raise ResponseFormatError("missing from the answer", field=path)
    value = obj[key]
    if not isinstance(value, kind):
        want = "an object" if kind is Mapping else "a list"
        raise ResponseFormatError(f"expected {want}, got {_type_name(value)}", field=path)
    return value


def _check_count(value: object, path: str) -> int:
    if type(value) is not int:
        raise ResponseFormatError(
            f"expected a whole number, got {_short(value)} ({_type_name(value)})", field=path
        )
    if value < 0:
        raise ResponseFormatError(f"expected a count >= 0, got {value}", field=path)
    return value


def _parse_summary(raw: Mapping[str, Any], stream_id: str) -> pd.Series:
    values: list[float] = []
    for key in SUMMARY_FIELDS:
        path = f"summary.{key}"
        if key not in raw:
            raise ResponseFormatError("missing from the answer", field=path)
        value = raw[key]
        if key in _COUNT_FIELDS:
            if _check_count(value, path) >= _MAX_COUNT:
                raise ResponseFormatError(f"implausibly large count {_short(value)}", field=path)
            values.append(float(value))
            continue
        if (
            type(value) not in (int, float)
            or (type(value) is int and value >= _MAX_COUNT)  # math.isfinite(10**400) overflows
            or not math.isfinite(value)
            or value < 0
        ):
            raise ResponseFormatError(
                f"expected a number >= 0, got {_short(value)} ({_type_name(value)})", field=path
            )
        values.append(float(value))
    return pd.Series(
        pd.array(np.array(values), dtype="Float64"),
        index=_SUMMARY_INDEX,
        name=stream_id,
        copy=False,
    )


def _aggregation(
    query: EngagementQuery | None, filters: Mapping[str, Any], first_points: list[Any]
) -> str:
    if query is not None:
        return query.aggregation
    stated = filters.get("aggregationType")
    if isinstance(stated, str) and stated.lower() in ("daily", "hourly"):
        return stated.lower()
    if first_points and isinstance(first_points[0], Mapping) and "users" in first_points[0]:
        return "daily"
    return "hourly"


def _parse_dates(points: Mapping[str, list[Any]]) -> list[dt.date]:
    reference: list[Any] | None = None
    for metric in METRICS:
        path = f"{_TREND_KEYS[metric]}.dataPoints"
        try:  # fast path: every point is a dict with a date
            raw = [p["date"] for p in points[metric]]
            if not all(type(p) is dict for p in points[metric]):
                raise TypeError
        except (KeyError, TypeError):
            for i, point in enumerate(points[metric]):
                if not isinstance(point, Mapping):
                    raise ResponseFormatError(
                        f"expected an object, got {_type_name(point)}", field=f"{path}[{i}]"
                    ) from None
                if "date" not in point:
                    raise ResponseFormatError(
                        "missing from the answer", field=f"{path}[{i}].date"
                    ) from None
            raw = [p["date"] for p in points[metric]]
        if reference is None:
            reference = raw
            dates = [parse_api_date(d, field=f"{path}[{i}].date") for i, d in enumerate(raw)]
        elif raw != reference:
            n_ref, n = len(reference), len(raw)
            if n != n_ref:
                detail = f"has {n} data points where uniqueUsersTrend has {n_ref}"
            else:
                i = next(i for i, (a, b) in enumerate(zip(raw, reference, strict=True)) if a != b)
                detail = (
                    f"point {i} is dated {_short(raw[i])} where uniqueUsersTrend has "
                    f"{reference[i]!r}"
                )
            raise ResponseFormatError(f"the trends disagree: {detail}", field=path)
    return dates


def _values(points: list[Mapping[str, Any]], trend_key: str, aggregation: str) -> np.ndarray:
    path = f"{trend_key}.dataPoints"
    try:
        if aggregation == "daily":
            flat = [p["users"] for p in points]
        else:
            rows = [_hours_of(p) for p in points]
            flat = [v for row in rows for v in row]
    except KeyError:
        need = ("users",) if aggregation == "daily" else HOUR_KEYS
        for i, p in enumerate(points):
            for k in need:
                if k not in p:
                    raise ResponseFormatError(
                        f"missing from the answer ({aggregation} data)", field=f'{path}[{i}]["{k}"]'
                    ) from None
        raise  # pragma: no cover - a KeyError always has a culprit above
    width = 2 if aggregation == "daily" else 25  # "date" and the counts
    if any(len(p) != width for p in points):
        known = {"date", *(("users",) if aggregation == "daily" else HOUR_KEYS)}
        for i, p in enumerate(points):
            extra = [k for k in p if k not in known]
            if extra:
                expected = (
                    "'date' and 'users'"
                    if aggregation == "daily"
                    else "'date' and '0 - 1' … '23 - 0'"
                )
                raise ResponseFormatError(
                    f"unknown key {_short(extra[0])} in a {aggregation} data point (expected "
                    f"only {expected}); the numbers cannot be trusted to mean what we think",
                    field=f"{path}[{i}][{_short(extra[0])}]",
                )
    arr = np.asarray(flat) if set(map(type, flat)) <= {int} else None
    if arr is None or (arr.size and (arr.dtype != np.int64 or arr.min() < 0 or arr.max() >= 2**62)):
        per_point = 1 if aggregation == "daily" else 24
        keys = ("users",) if aggregation == "daily" else HOUR_KEYS
        for j, v in enumerate(flat):
            if type(v) is not int or v < 0 or v >= 2**62:
                i, k = divmod(j, per_point)
                where = f'{path}[{i}]["{keys[k]}"]'
                if type(v) is int and v >= 2**62:
                    raise ResponseFormatError(f"implausibly large count {v}", field=where)
                _check_count(v, where)
    return arr if arr is not None and arr.size else np.asarray(flat, dtype=np.int64)


def _build_trend(
    dates: list[dt.date],
    values: list[np.ndarray],
    *,
    aggregation: str,
    stream_id: str,
    tz: str,
) -> pd.DataFrame:
    n_days = len(dates)
    day_ns = np.array(dates, dtype="datetime64[D]").astype("datetime64[ns]")
    if aggregation == "daily":
        local = day_ns
        hour_values = np.zeros(n_days, dtype=np.int8)
        hour_mask = np.ones(n_days, dtype=bool)
        nonexistent = "shift_forward"
    else:
        local = (
            day_ns[:, None] + (np.arange(24) * 3_600_000_000_000).astype("timedelta64[ns]")
        ).ravel()
        day_ns = np.repeat(day_ns, 24)
        hour_values = np.tile(np.arange(24, dtype=np.int8), n_days)
        hour_mask = np.zeros(len(hour_values), dtype=bool)
        nonexistent = "NaT"
    start = pd.DatetimeIndex(local).tz_localize(
        tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent=nonexistent
    )
    n = len(local)
    k = len(METRICS)
    return pd.DataFrame(
        {
            "stream_id": pd.Categorical.from_codes(
                np.zeros(n * k, dtype=np.int8), dtype=_stream_dtype(stream_id)
            ),
            "metric": pd.Categorical.from_codes(
                np.repeat(np.arange(k, dtype=np.int8), n), dtype=_METRIC_DTYPE
            ),
            "date": np.tile(day_ns, k),
            "hour": pd.arrays.IntegerArray(np.tile(hour_values, k), np.tile(hour_mask, k)),
            "start": start.take(np.tile(np.arange(n), k)),
            "users": np.concatenate(values) if n else np.zeros(0, dtype=np.int64),
        }
    )
