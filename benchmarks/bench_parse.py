"""1. Parse and tidy a 92-day hourly answer of the largest demo stream.

Ours (``parse_response`` on the raw bytes, JSON decoding included) against the floor
(``json.loads`` of the same bytes) and against a plain record-by-record pandas baseline
(``json_normalize`` + ``melt`` + the same dtypes and zone-aware starts).
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pandas as pd

from engagement_kit.client.auth import Credentials
from engagement_kit.config.query import EngagementQuery
from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_HOST, DEMO_STREAMS
from engagement_kit.demo.platform import DemoPlatform
from engagement_kit.tidy import parse_response

from ._util import interleaved, summary

TARGET_RATIO = 3.0
TREND_KEYS = {
    "unique": "uniqueUsersTrend",
    "new": "newUsersTrend",
    "returning": "returningUsersTrend",
}


def largest_stream() -> str:
    return DEMO_STREAMS[0].id


def answer_bytes(query: EngagementQuery) -> bytes:
    """The demo platform's exact bytes for ``query``."""
    platform = DemoPlatform(rate_limit=False) if _takes_rate_limit() else DemoPlatform()
    token = Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET).token()
    url = f"{DEMO_HOST}/api/public/bot/{query.stream_id}/v2/userEngagementTrend"
    request = httpx.Request("POST", url, params=query.to_params(), headers={"auth": token})
    response = platform.handle(request)
    response.read()
    assert response.status_code == 200, response.text
    return response.content


def _takes_rate_limit() -> bool:
    import inspect

    return "rate_limit" in inspect.signature(DemoPlatform).parameters


def pandas_baseline(raw: bytes, tz: str) -> pd.DataFrame:
    """What an analyst would write with plain pandas: normalise, melt, parse, localise."""
    payload = json.loads(raw)
    frames = []
    for metric, key in TREND_KEYS.items():
        wide = pd.json_normalize(payload[key]["dataPoints"])
        long = wide.melt(id_vars="date", var_name="label", value_name="users")
        long["metric"] = metric
        long["hour"] = long["label"].str.split(" - ").str[0].astype("int8")
        long["date"] = pd.to_datetime(long["date"], format="%b %d %Y")
        frames.append(long.drop(columns="label"))
    out = pd.concat(frames, ignore_index=True).sort_values(["metric", "date", "hour"])
    local = out["date"] + pd.to_timedelta(out["hour"].astype("int64"), unit="h")
    out["start"] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    out["users"] = out["users"].astype("int64")
    return out


def run() -> list[dict]:
    stream = DEMO_STREAMS[0]
    end = dt.date(2025, 11, 30)
    query = EngagementQuery(
        stream_id=stream.id,
        start=end - dt.timedelta(days=91),
        end=end,
        aggregation="hourly",
        tz=stream.tz,
    )
    raw = answer_bytes(query)
    ours_frame = parse_response(raw, query=query).trend
    base_frame = pandas_baseline(raw, stream.tz)
    assert ours_frame["users"].sum() == base_frame["users"].sum()  # same work, same answer
    t = interleaved(
        {
            "floor": lambda: json.loads(raw),
            "ours": lambda: parse_response(raw, query=query),
            "pandas": lambda: pandas_baseline(raw, stream.tz),
        },
        runs=30,
        warmup=3,
    )
    floor, ours, pandas_ = summary(t["floor"]), summary(t["ours"]), summary(t["pandas"])
    what = f"parse_response: 92-day hourly answer, {stream.name} ({len(raw) / 1024:.0f} KiB)"
    return [
        {
            "what": what,
            "baseline": "json.loads of the same bytes (floor)",
            "baseline_seconds": floor["median"],
            "ours_seconds": ours["median"],
            "ratio": ours["median"] / floor["median"],
            "target": f"≤ {TARGET_RATIO}× the floor",
            "met": ours["median"] / floor["median"] <= TARGET_RATIO,
            "runs": ours["runs"],
            "spread": f"ours {ours['min'] * 1e3:.1f}–{ours['max'] * 1e3:.1f} ms, floor {floor['min'] * 1e3:.1f}–{floor['max'] * 1e3:.1f} ms",
        },
        {
            "what": what,
            "baseline": "json_normalize + melt (plain pandas)",
            "baseline_seconds": pandas_["median"],
            "ours_seconds": ours["median"],
            "ratio": ours["median"] / pandas_["median"],
            "target": "faster than plain pandas",
            "met": ours["median"] < pandas_["median"],
            "runs": ours["runs"],
            "spread": f"pandas {pandas_['min'] * 1e3:.1f}–{pandas_['max'] * 1e3:.1f} ms",
        },
    ]
