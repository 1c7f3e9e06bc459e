"""Small hand-made inputs shared by the metrics and charts tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engagement_kit.tidy import METRICS


def trend_frame(
    cells: dict, *, days: list[str] | None = None, hourly: bool = False, tz: str = "UTC"
) -> pd.DataFrame:
    """A tidy trend frame from ``{"2025-12-01": (unique, new, returning)}`` (daily) or
    ``{("2025-12-01", 17): (u, n, r)}`` (hourly; every other hour of ``days`` is 0)."""
    if hourly:
        days = days or sorted({d for d, _ in cells})
        keys = [(d, h) for d in days for h in range(24)]
    else:
        keys = list(days or cells)
    rows = []
    for i, metric in enumerate(METRICS):
        for key in keys:
            day, hour = key if hourly else (key, None)
            users = cells.get(key, (0, 0, 0))[i]
            local = pd.Timestamp(day) + pd.Timedelta(hours=hour or 0)
            rows.append(
                {
                    "stream_id": "st-1",
                    "metric": metric,
                    "date": pd.Timestamp(day),
                    "hour": hour,
                    "start": local.tz_localize(tz, ambiguous=True, nonexistent="NaT"),
                    "users": users,
                }
            )
    frame = pd.DataFrame(rows, columns=["stream_id", "metric", "date", "hour", "start", "users"])
    frame["stream_id"] = frame["stream_id"].astype("category")
    frame["metric"] = pd.Categorical(frame["metric"], categories=METRICS)
    frame["date"] = frame["date"].astype("datetime64[ns]")
    frame["hour"] = frame["hour"].astype("Int8")
    frame["users"] = frame["users"].astype("int64")
    return frame


#: The checkout's root folder, and the reference pages' samples (see fixtures/README.md).
REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
