"""The platform's JSON answer → :class:`~engagement_kit.tidy.Engagement`, checked against the
documented shape: anything missing, mistyped or negative raises
:class:`~engagement_kit.errors.ResponseFormatError` naming the field (see
:mod:`engagement_kit.tidy`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engagement_kit.errors import ResponseFormatError
from engagement_kit.tidy.dates import parse_api_date, short_text
from engagement_kit.tidy.engagement import METRICS, SUMMARY_FIELDS, Engagement

if TYPE_CHECKING:
    from engagement_kit.config.query import EngagementQuery

__all__ = ["HOUR_KEYS", "parse_response"]

_TREND_KEYS = {
    "unique": "uniqueUsersTrend",
    "new": "newUsersTrend",
    "returning": "returningUsersTrend",
}

#: The 24 hourly keys, "0 - 1" … "23 - 0", in hour order.
HOUR_KEYS: tuple[str, ...] = tuple(f"{h} - {(h + 1) % 24}" for h in range(24))

_COUNT_FIELDS = ("uniqueUsers", "newUsers", "returningUsers")
#: Counts at or above this are refused (a float cannot even hold some larger JSON integers).
_MAX_COUNT = 2**62

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
                f"the answer is not JSON ({exc.__class__.__name__}: {short_text(str(exc))}); "
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
            f"expected a whole number, got {short_text(value)} ({_type_name(value)})", field=path
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
                raise ResponseFormatError(
                    f"implausibly large count {short_text(value)}", field=path
                )
            values.append(float(value))
            continue
        if (
            type(value) not in (int, float)
            or (type(value) is int and value >= _MAX_COUNT)  # math.isfinite(10**400) overflows
            or not math.isfinite(value)
            or value < 0
        ):
            raise ResponseFormatError(
                f"expected a number >= 0, got {short_text(value)} ({_type_name(value)})", field=path
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
                    f"point {i} is dated {short_text(raw[i])} where uniqueUsersTrend has "
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
                    f"unknown key {short_text(extra[0])} in a {aggregation} data point (expected "
                    f"only {expected}); the numbers cannot be trusted to mean what we think",
                    field=f"{path}[{i}][{short_text(extra[0])}]",
                )
    arr = np.asarray(flat) if set(map(type, flat)) <= {int} else None
    if arr is None or (arr.size and (arr.dtype != np.int64 or arr.min() < 0 or arr.max() >= 2**62)):
        per_point = 1 if aggregation == "daily" else 24
        keys: Sequence[str] = ("users",) if aggregation == "daily" else HOUR_KEYS
        for j, v in enumerate(flat):
            if type(v) is not int or v < 0 or v >= 2**62:
                i, slot = divmod(j, per_point)
                where = f'{path}[{i}]["{keys[slot]}"]'
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
