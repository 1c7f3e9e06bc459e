"""Small hand-made inputs and helpers shared by the tests (``from tests.builders import ...``;
the fixtures built on them are in ``tests/conftest.py``)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pandas as pd

from engagement_kit.tidy import METRICS


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free now (never a fixed port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quick_demo_client(now: float, *, store: Any = False, platform: Any = None, **options: Any):
    """A demo client whose time stands still at ``now`` (POSIX seconds) and that never waits.

    No client-side rate limits, and unless a ``platform`` is given, a demo platform on the same
    clock without its own rate limits. ``store`` is :func:`~engagement_kit.demo.demo_client`'s
    (default ``False``: none); ``options`` go to the client. The caller closes it (the
    ``demo_at`` fixture does that for a test).
    """
    from engagement_kit.demo import DemoPlatform, demo_client

    if platform is None:
        platform = DemoPlatform(lambda: now, rate_limit=False)
    options = {"requests_per_minute": None, "requests_per_hour": None, **options}
    return demo_client(store=store, platform=platform, clock=lambda: now, **options)


def demo_dotenv(url: str, *extra: str) -> str:
    """A project's ``.env`` pointing at a served demo platform, with the demo's credentials."""
    from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    lines = [f"KORE_HOST={url}", f"KORE_CLIENT_ID={DEMO_CLIENT_ID}"]
    lines += [f"KORE_CLIENT_SECRET={DEMO_CLIENT_SECRET}", *extra]
    return "\n".join(lines) + "\n"


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
