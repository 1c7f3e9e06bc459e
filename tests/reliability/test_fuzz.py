"""Bad answers: the parser fuzzed with thousands of generated variants of valid answers.

Whatever the platform (or a proxy, a captive portal, a bug) sends, :func:`parse_response`
either returns an :class:`Engagement` whose frames have the documented dtypes, or raises
:class:`ResponseFormatError` whose ``field`` is set and named in the message. Nothing else may
escape: no ``KeyError``, ``TypeError``, ``OverflowError``, pandas or numpy error, and no silently
wrong data (valid answers parse to exactly the numbers and days they hold).

Each test counts the examples it ran; together they are more than 2,000.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import ResponseFormatError
from engagement_kit.tidy import HOUR_KEYS, METRICS, SUMMARY_FIELDS, format_api_date, parse_response

TREND_KEYS = ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend")
COUNT_KEYS = ("uniqueUsers", "newUsers", "returningUsers")
AVG_KEYS = ("avgUniqueUsersPerDay", "avgNewUsersPerDay", "avgReturningUsersPerDay")
COLUMNS = ["stream_id", "metric", "date", "hour", "start", "users"]
ZONES = (
    "UTC",
    "America/New_York",  # DST: a missing and a repeated hour
    "Asia/Kolkata",  # half-hour offset
    "Australia/Lord_Howe",  # half-hour DST shift
    "Pacific/Chatham",  # +12:45
    "America/Sao_Paulo",  # DST abolished in 2019
)
#: Days the documented frame can hold (datetime64[ns] spans 1677-09-21 .. 2262-04-11).
FIRST_DAY, LAST_DAY = dt.date(1971, 1, 1), dt.date(2199, 12, 1)
#: (max_examples, ...) per test; their sum is the figure in docs/reliability.md.
EXAMPLES = {"valid": 350, "mutated": 800, "garbage_json": 250, "raw": 700, "truncated": 200}
_BASE = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)


def fuzz(name: str) -> settings:
    """The settings of one fuzz test: ``EXAMPLES[name]`` examples, no deadline."""
    return settings(_BASE, max_examples=EXAMPLES[name])


# -- strategies -----------------------------------------------------------------------------------
text_keys = st.text(max_size=10)  # any unicode, surrogates excluded (JSON text must encode)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text_keys, inner, max_size=4),
    max_leaves=12,
)
bad_numbers = st.sampled_from(
    [-1, -(2**63), 2**62, 2**63, 2**64, 10**30, 10**400, -0.5, 1.5, 0.0, -0.0, True, False]
    + [math.nan, math.inf, -math.inf, 1e308, "3", "1e3", "", None, [], {}, [1], {"users": 1}]
)
bad_dates = st.sampled_from(
    [
        "dec 01 2025",
        "DEC 01 2025",
        "Dec 32 2025",
        "Feb 29 2025",
        "Dec 00 2025",
        "Dec 01 0000",
        "Dec 01 25",
        "Dec 001 2025",
        "Dec  01 2025",
        " Dec 01 2025",
        "Dec 01 2025 ",
        "Dex 01 2025",
        "2025-12-01",
        "01 Dec 2025",
        "Dec 01 20255",
        "Dez 01 2025",  # German locale
        "déc. 01 2025",  # French locale
        "Dec 01 3000",  # outside the frame's datetime64[ns] range
        "Jan 01 1600",
        "Jan 01 9999",
        "Dec \u0661\u0662 2025",  # Arabic-Indic digits
        "Dec \uff10\uff11 2025",  # full-width digits
        "",
        "Dec\x0001 2025",
    ]
)
bad_hour_labels = st.sampled_from(
    [
        "0-1",
        "0 - 01",
        "00 - 1",
        "24 - 0",
        "23 - 24",
        "0 -1",
        " 0 - 1",
        "0 - 1 ",
        "\u0660 - 1",
        "hour0",
    ]
)


def _points(days: list[dt.date], aggregation: str, values: Iterator[int]) -> list[dict]:
    if aggregation == "daily":
        return [{"date": format_api_date(d), "users": next(values)} for d in days]
    return [{"date": format_api_date(d), **{k: next(values) for k in HOUR_KEYS}} for d in days]


STREAM_IDS = ("st-1", "st-demo-retail-in", "A_b-9", "x" * 128)


@st.composite
def valid_answers(draw: Callable, *, max_days: int = 45) -> tuple[dict, EngagementQuery]:
    """A valid answer (with tolerated extras) and the query it answers."""
    aggregation = draw(st.sampled_from(("daily", "hourly")))
    n = draw(st.integers(0, max_days if aggregation == "daily" else max(1, max_days // 6)))
    first = draw(st.dates(FIRST_DAY, LAST_DAY))
    days = [first + dt.timedelta(days=i) for i in range(n)]
    per_point = 1 if aggregation == "daily" else 24
    # bulk values from a seeded RNG (cheap to draw), up to the largest count the parser keeps
    rng = random.Random(draw(st.integers(0, 2**32)))
    top = draw(st.sampled_from([0, 1, 100, 10**6, 2**31, 2**53, 2**62 - 1]))
    values = iter([rng.randint(0, top) for _ in range(3 * n * per_point)])
    summary: dict[str, Any] = {
        k: rng.randint(0, draw(st.sampled_from([0, 9, 2**53]))) for k in COUNT_KEYS
    }
    for key in AVG_KEYS:
        summary[key] = draw(st.sampled_from([0, 3, 0.4, 1e-300, 1e12, 2**53]))
    payload: dict[str, Any] = {"summary": summary}
    for key in TREND_KEYS:
        payload[key] = {"dataPoints": _points(days, aggregation, values)}
    payload["filters"] = {
        "start": format_api_date(first),
        "end": format_api_date(days[-1] if days else first),
        "conversationType": draw(st.sampled_from(["all", "interactive", "non interactive"])),
        "aggregationType": aggregation,
        "dataPointsCount": n,
        "channels": draw(st.sampled_from(["all", "rtm,msteams", "\u00e9\U0001f600", ""])),
    }
    # extras the documented shape does not have are tolerated anywhere but in a data point
    # (where an unknown key is refused: tests/test_tidy.py)
    targets = [payload, summary, payload["filters"], payload[TREND_KEYS[0]]]
    target = draw(st.sampled_from(targets))
    for key, value in draw(st.dictionaries(text_keys, json_values, max_size=2)).items():
        target.setdefault("x-" + key, value)
    query = EngagementQuery(
        stream_id=draw(st.sampled_from(STREAM_IDS)),
        start=first,
        end=days[-1] if days else first,
        aggregation=aggregation,
        tz=draw(st.sampled_from(ZONES)),
    )
    return payload, query


def as_wire(payload: Any, form: str) -> Any:
    """The payload as a dict, JSON text (NaN/Infinity allowed, as Python's json writes) or bytes."""
    if form == "dict":
        return payload
    text = json.dumps(payload, ensure_ascii=form == "ascii", allow_nan=True)
    return text.encode("utf-8") if form == "bytes" else text


wire_forms = st.sampled_from(["dict", "ascii", "unicode", "bytes"])


# -- what every outcome must satisfy --------------------------------------------------------------
def parse_or_format_error(payload: Any, query: EngagementQuery | None):
    """Parse; a ResponseFormatError must name its field. Returns the Engagement or None."""
    try:
        return parse_response(payload, query=query)
    except ResponseFormatError as exc:
        assert exc.field, f"ResponseFormatError without a field: {exc}"
        assert exc.field in str(exc), f"the message does not name {exc.field!r}: {exc}"
        return None


def check_documented_frames(data, query: EngagementQuery) -> None:
    """The documented columns, dtypes and shape, whatever the numbers."""
    trend = data.trend
    dtypes = trend.dtypes
    assert list(trend.columns) == COLUMNS
    assert isinstance(dtypes["stream_id"], pd.CategoricalDtype)
    assert list(dtypes["stream_id"].categories) == [query.stream_id]
    assert list(dtypes["metric"].categories) == list(METRICS)
    assert dtypes["date"] == np.dtype("datetime64[ns]")
    assert str(dtypes["hour"]) == "Int8"
    assert isinstance(dtypes["start"], pd.DatetimeTZDtype) and str(dtypes["start"].tz) == query.tz
    assert dtypes["users"] == np.int64
    users = trend["users"].to_numpy()
    assert len(users) % 3 == 0 and (len(users) == 0 or users.min() >= 0)
    per_point = 24 if query.aggregation == "hourly" else 1
    assert data.n_buckets == data.days * per_point
    hours = trend["hour"].to_numpy(dtype="float64", na_value=np.nan)
    if query.aggregation == "daily":
        assert np.isnan(hours).all()
    else:
        assert ((hours >= 0) & (hours <= 23)).all()
    summary = data.summary
    assert str(summary.dtype) == "Float64"
    assert list(summary.index) == list(SUMMARY_FIELDS.values())
    values = summary.to_numpy(dtype="float64", na_value=np.nan)
    assert not (values < 0).any()


# -- the tests ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_valid_answers_parse_to_exactly_their_numbers_with_the_documented_dtypes():
    ran = 0

    @fuzz("valid")
    @given(valid_answers(), wire_forms)
    def run(answer: tuple[dict, EngagementQuery], form: str) -> None:
        nonlocal ran
        ran += 1
        payload, query = answer
        data = parse_response(as_wire(copy.deepcopy(payload), form), query=query)
        check_documented_frames(data, query)
        points = {k: payload[k]["dataPoints"] for k in TREND_KEYS}
        keys = ("users",) if query.aggregation == "daily" else HOUR_KEYS
        expected = [p[k] for trend in TREND_KEYS for p in points[trend] for k in keys]
        assert data.trend["users"].tolist() == expected
        days = [
            pd.Timestamp(query.start + dt.timedelta(days=i))
            for i in range(len(points[TREND_KEYS[0]]))
        ]
        assert list(data.dates) == days
        assert data.summary.tolist() == [float(payload["summary"][k]) for k in SUMMARY_FIELDS]

    run()
    assert ran >= EXAMPLES["valid"]


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key/index path in a JSON tree (the root excluded)."""
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def _parent(root: Any, path: tuple) -> tuple[Any, Any]:
    node = root
    for key in path[:-1]:
        node = node[key]
    return node, path[-1]


MUTATIONS = ("delete", "replace", "bad_number", "bad_date", "rename", "truncate", "extend", "wrap")


@st.composite
def mutated_answers(draw: Callable) -> tuple[dict, EngagementQuery, list[str]]:
    """A valid answer with one to three things broken (or, sometimes, harmlessly changed)."""
    payload, query = draw(valid_answers(max_days=10))
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(payload))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(payload, path)
        op = draw(st.sampled_from(MUTATIONS))
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "bad_number":
            parent[key] = draw(bad_numbers)
        elif op == "bad_date":
            parent[key] = draw(bad_dates)
        elif op == "rename" and isinstance(parent, dict):
            new = draw(bad_hour_labels | text_keys | st.sampled_from(["Users", "date ", "DATE"]))
            parent[new] = parent.pop(key)
        elif op == "truncate" and isinstance(parent[key], list):
            parent[key] = parent[key][: draw(st.integers(0, max(0, len(parent[key]) - 1)))]
        elif op == "extend" and isinstance(parent[key], list):
            extra = copy.deepcopy(parent[key][-1]) if parent[key] else draw(json_values)
            parent[key].append(extra)
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        else:
            continue
        done.append(f"{op} {'.'.join(map(str, path))}")
    return payload, query, done


@pytest.mark.slow
def test_mutated_answers_parse_or_raise_a_format_error_naming_the_field():
    ran = 0
    outcomes = {"parsed": 0, "refused": 0}

    @fuzz("mutated")
    @given(mutated_answers(), wire_forms, st.booleans())
    def run(answer, form: str, with_query: bool) -> None:
        nonlocal ran
        ran += 1
        payload, query, _mutations = answer
        data = parse_or_format_error(as_wire(payload, form), query if with_query else None)
        if data is None:
            outcomes["refused"] += 1
            return
        outcomes["parsed"] += 1
        if with_query:
            check_documented_frames(data, query)
        else:
            check_documented_frames(
                data, query.replace(stream_id="unknown", tz="UTC", aggregation=data.aggregation)
            )

    run()
    assert ran >= EXAMPLES["mutated"]
    assert outcomes["refused"] > 0 and outcomes["parsed"] > 0  # both paths were exercised


@st.composite
def garbage_shaped_answers(draw: Callable) -> dict:
    """The documented top-level keys (some), holding anything."""
    keys = draw(st.sets(st.sampled_from(["summary", *TREND_KEYS, "filters"]), min_size=3))
    payload = {key: draw(json_values) for key in keys}
    if draw(st.booleans()):
        payload["summary"] = {
            k: draw(bad_numbers | json_values) for k in SUMMARY_FIELDS if draw(st.booleans())
        }
    if draw(st.booleans()):
        payload[draw(st.sampled_from(TREND_KEYS))] = {"dataPoints": draw(json_values)}
    return payload


@pytest.mark.slow
def test_json_of_any_shape_is_refused_with_a_named_field():
    ran = 0

    @fuzz("garbage_json")
    @given(json_values | garbage_shaped_answers(), wire_forms)
    def run(payload: Any, form: str) -> None:
        nonlocal ran
        ran += 1
        if form == "dict" and not isinstance(payload, dict):
            form = "unicode"
        parse_or_format_error(as_wire(payload, form), None)

    run()
    assert ran >= EXAMPLES["garbage_json"]


def test_raw_text_and_bytes_are_refused_as_not_json():
    ran = 0

    @fuzz("raw")
    @given(st.text(max_size=200) | st.binary(max_size=200))
    def run(body: str | bytes) -> None:
        nonlocal ran
        ran += 1
        data = parse_or_format_error(body, None)
        assert data is None  # no text that short is a valid answer

    run()
    assert ran >= EXAMPLES["raw"]


def test_a_valid_answer_cut_anywhere_is_refused_as_not_json():
    ran = 0

    @fuzz("truncated")
    @given(valid_answers(max_days=7), st.floats(0, 1, exclude_max=True), st.booleans())
    def run(answer: tuple[dict, EngagementQuery], where: float, as_bytes: bool) -> None:
        nonlocal ran
        ran += 1
        payload, query = answer
        text = json.dumps(payload)
        body: str | bytes = text[: int(len(text) * where)]
        if as_bytes:
            body = body.encode("utf-8")
        with pytest.raises(ResponseFormatError) as info:
            parse_response(body, query=query)
        assert info.value.field == "<body>" and "not JSON" in str(info.value)

    run()
    assert ran >= EXAMPLES["truncated"]


# -- the cases the fuzzing found, pinned -----------------------------------------------------------
@pytest.mark.parametrize("where", ["summary.uniqueUsers", "summary.avgNewUsersPerDay"])
def test_a_number_too_large_for_a_float_is_a_format_error(where, fixture_payload):
    payload = fixture_payload("daily")
    payload["summary"][where.split(".")[1]] = 10**400
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert info.value.field == where and where in str(info.value)


@pytest.mark.parametrize("date", ["Dec 01 3000", "Jan 01 1600", "Dec 31 9999", "Jan 01 0001"])
def test_a_date_the_frame_cannot_hold_is_a_format_error_not_a_wrong_date(date, fixture_payload):
    payload = fixture_payload("daily")
    for key in TREND_KEYS:
        payload[key]["dataPoints"][0]["date"] = date
    with pytest.raises(ResponseFormatError) as info:
        parse_response(payload)
    assert info.value.field == "uniqueUsersTrend.dataPoints[0].date"
    assert "uniqueUsersTrend.dataPoints[0].date" in str(info.value)
