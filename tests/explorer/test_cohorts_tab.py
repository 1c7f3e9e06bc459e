"""The Explorer's Cohorts tab: below the triangle and the lifecycle, retention by the outcome of
the first session (its sentence in the subtitle) and the first → next transitions, from the
tab's one download and the panel's filters; the saved SVG carries the numbers."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pandas as pd
import pytest

from engagement_kit.config.query import EngagementQuery
from engagement_kit.explorer.cohorts_tab import OUTCOME_HORIZON, CohortView
from engagement_kit.metrics import outcomes
from tests.builders import quick_demo_client

NOW = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()
STREAM, TZ = "st-demo-hr-us", "America/New_York"


@pytest.fixture(scope="module")
def view() -> CohortView:
    query = EngagementQuery(
        stream_id=STREAM, start="2025-08-04", end="2025-11-30", tz=TZ, channels=("msteams",)
    )
    with quick_demo_client(NOW) as c:
        shown = CohortView(c, query)
        shown.chart()
    return shown


def _datasets(chart) -> list[pd.DataFrame]:
    return [pd.DataFrame(rows) for rows in chart.to_dict()["datasets"].values()]


def test_the_tab_adds_retention_by_first_outcome_with_the_panels_filters(view):
    assert view.period == "week"
    expected = outcomes.retention_by_outcome(
        view.sessions, "week", horizon=OUTCOME_HORIZON["week"], channels=["msteams"]
    )
    pd.testing.assert_frame_equal(view.outcomes.retention, expected.retention)
    assert view.outcomes.retention["offset"].max() == OUTCOME_HORIZON["week"]
    unfiltered = outcomes.retention_by_outcome(view.sessions, "week", horizon=8)
    assert unfiltered.retention["users"].sum() > expected.retention["users"].sum()
    spec = view.chart().to_dict()
    titles = [part.get("title", {}) for part in spec["vconcat"]]
    assert titles[2]["text"] == "Back after the first conversation"
    assert " ".join(titles[2]["subtitle"]) == view.reading
    assert view.reading.startswith("Users ") and "chance at this size" in view.reading
    # the chart's points are the result's rows with users
    points = next(
        d for d in _datasets(view.chart()) if {"retained", "low", "high", "label"} <= set(d)
    )
    shown = expected.retention[expected.retention["users"] > 0]
    assert points["users"].tolist() == shown["users"].tolist()
    assert points["retained"].tolist() == shown["retained"].tolist()
    moves = next(d for d in _datasets(view.chart()) if {"first", "next"} <= set(d))
    plain = outcomes.outcome_transitions(view.sessions, channels=["msteams"])
    assert moves["users"].sum() == plain["users"].sum() > 0


def test_the_saved_svg_carries_each_points_numbers(view):
    buffer = io.StringIO()
    view.save(buffer, format="svg")
    svg = buffer.getvalue()
    assert "Back after the first conversation" in svg and "First vs next conversation" in svg
    labels = [html.unescape(a) for a in re.findall(r'aria-label="([^"]*)"', svg)]
    row = view.outcomes.at(1).loc["dropOff"]
    point = next(
        a for a in labels if "First conversation: drop-off" in a and "Week offset: 1;" in a
    )
    assert f"New users: {int(row['users']):,}" in point
    assert f"Active again: {int(row['retained']):,}" in point
    assert f"Share: {row['rate']:.1%}" in point
