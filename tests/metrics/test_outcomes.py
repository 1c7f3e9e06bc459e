"""Retention by the outcome of the first session: a small frame worked out by hand (unknown
outcomes, a first session the platform left out, right-censored cohorts and windows), the
statistics against textbook values, and the demo's cross-check (new users by outcome add up to
each week's first-seen users)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from engagement_kit import metrics
from engagement_kit.client.sessions import sessions_frame
from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics import cohorts, outcomes, proportions
from tests.builders import quick_demo_client

NOW = dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC).timestamp()

# (user, start, channel, containment, developer); the data covers Mon 3 .. Sun 30 March 2025,
# four ISO weeks W10..W13
SESSIONS = [
    ("a", "2025-03-03T10:00:00Z", "rtm", "selfService", False),
    ("a", "2025-03-03T11:00:00Z", "rtm", "dropOff", False),  # a retry the same day
    ("b", "2025-03-04T09:00:00Z", "whatsapp", "dropOff", False),
    ("i", "2025-03-04T12:00:00Z", "rtm", "selfService", False),  # older (in the table)
    ("c", "2025-03-05T09:00:00Z", "whatsapp", "agent", False),
    ("b", "2025-03-05T09:00:00Z", "whatsapp", "selfService", False),
    ("g", "2025-03-06T09:00:00Z", "rtm", "dropOff", True),  # a developer: left out
    ("d", "2025-03-10T09:00:00Z", "rtm", None, False),  # the platform gave no outcome
    ("a", "2025-03-11T09:00:00Z", "rtm", "agent", False),
    ("c", "2025-03-12T09:00:00Z", "whatsapp", "dropOff", False),
    ("e", "2025-03-12T10:00:00Z", "rtm", "dropOff", False),
    ("h", "2025-03-14T09:00:00Z", "rtm", "agent", False),  # h's first (03-07) is missing
    ("d", "2025-03-18T09:00:00Z", "rtm", "selfService", False),
    ("a", "2025-03-25T09:00:00Z", "rtm", "selfService", False),
    ("f", "2025-03-26T09:00:00Z", "rtm", "selfService", False),
]


def small() -> pd.DataFrame:
    rows = [
        [f"s{n:02d}", user, channel, start, start, "interactive", "closed", kind, 3, 1, dev]
        for n, (user, start, channel, kind, dev) in enumerate(SESSIONS)
    ]
    frame = sessions_frame(rows, tz="UTC")
    frame.attrs.update(start="2025-03-03", end="2025-03-30", tz="UTC")
    return frame


def table() -> pd.DataFrame:
    """The stored first-seen table: h was first seen on 7 March, i in February."""
    starts = {
        "a": "2025-03-03T10:00:00Z",
        "b": "2025-03-04T09:00:00Z",
        "c": "2025-03-05T09:00:00Z",
        "h": "2025-03-07T09:00:00Z",
        "i": "2025-02-20T09:00:00Z",
        "d": "2025-03-10T09:00:00Z",
        "e": "2025-03-12T10:00:00Z",
        "f": "2025-03-26T09:00:00Z",
    }
    frame = pd.DataFrame(
        {"user_id": list(starts), "first_start": pd.to_datetime(list(starts.values()))}
    )
    frame["channel"] = "rtm"
    frame.attrs["horizon"] = dt.date(2025, 1, 1)
    return frame


W10, W11, W12, W13 = (
    pd.Timestamp(d) for d in ("2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24")
)


def test_first_outcome_is_the_first_session_and_unknown_is_its_own_category():
    firsts = outcomes.first_outcomes(small(), first_seen=table()).set_index("user_id")
    assert sorted(firsts.index) == ["a", "b", "c", "d", "e", "f", "h"]  # not i (older), not g
    assert firsts["outcome"].to_dict() == {
        "a": "selfService",  # the first session, not the same-day retry's drop-off
        "b": "dropOff",
        "c": "agent",
        "h": "unknown",  # its first session (7 March) is not in the data
        "d": "unknown",  # the platform left the field out
        "e": "dropOff",
        "f": "selfService",
    }
    assert firsts.loc["h", "first_day"] == dt.date(2025, 3, 7)
    assert firsts.loc["h", "channel"] is None and pd.isna(firsts.loc["h", "first_start"])
    assert firsts.loc["b", "channel"] == "whatsapp"
    # without the table h is first seen on 14 March (agent) and i on 4 March
    alone = outcomes.first_outcomes(small()).set_index("user_id")["outcome"]
    assert alone["h"] == "agent" and alone["i"] == "selfService"


def test_cohort_sizes_by_outcome_add_up_to_the_cohorts():
    result = outcomes.retention_by_outcome(small(), "week", first_seen=table())
    sizes = result.cohorts.pivot(index="cohort", columns="outcome", values="users")
    assert sizes.loc[W10].to_dict() == {"selfService": 1, "dropOff": 1, "agent": 1, "unknown": 1}
    assert sizes.loc[W11].to_dict() == {"selfService": 0, "dropOff": 1, "agent": 0, "unknown": 1}
    assert sizes.loc[W13].to_dict() == {"selfService": 1, "dropOff": 0, "agent": 0, "unknown": 0}
    assert W12 not in sizes.index  # nobody was new that week
    assert not result.cohorts["possibly_censored"].any()  # the table reaches back to January
    triangle = cohorts.cohort_retention(small(), "week", first_seen=table())
    week0 = triangle[triangle["offset"] == 0].set_index("cohort")["users"]
    assert sizes.sum(axis=1).to_dict() == week0.to_dict()
    # without the table every cohort starts within 28 days of the data's first day
    assert outcomes.retention_by_outcome(small(), "week").cohorts["possibly_censored"].all()


def test_weekly_retention_by_outcome_by_hand_with_right_censored_cohorts():
    result = outcomes.retention_by_outcome(small(), "week", first_seen=table())
    got = result.retention.set_index(["outcome", "offset"])[["cohorts", "users", "retained"]]
    expected = {
        # f (W13) is never observed at an offset; a came back in W11 and W13
        ("selfService", 1): (1, 1, 1),
        ("selfService", 2): (1, 1, 0),
        ("selfService", 3): (1, 1, 1),
        # b (W10) and e (W11) never came back in a later week (b's return was the same week)
        ("dropOff", 1): (2, 2, 0),
        ("dropOff", 2): (2, 2, 0),
        ("dropOff", 3): (1, 1, 0),  # e's week 3 would be W14, after the data
        ("agent", 1): (1, 1, 1),
        ("agent", 2): (1, 1, 0),
        ("agent", 3): (1, 1, 0),
        # h (W10, back in W11) and d (W11, back in W12)
        ("unknown", 1): (2, 2, 2),
        ("unknown", 2): (2, 2, 0),
        ("unknown", 3): (1, 1, 0),
    }
    assert {k: tuple(int(x) for x in v) for k, v in got.iterrows()} == expected
    row = result.retention.set_index(["outcome", "offset"]).loc[("unknown", 1)]
    assert row["rate"] == 1.0
    low, high = proportions.wilson_interval(2, 2)
    assert (row["low"], row["high"]) == (pytest.approx(float(low)), pytest.approx(float(high)))
    assert 0.3 < row["low"] < 0.35 and row["high"] == 1.0
    assert result.at(1).loc["dropOff", "rate"] == 0.0
    # a horizon cuts the offsets
    assert (
        outcomes.retention_by_outcome(small(), horizon=2, first_seen=table())
        .retention["offset"]
        .max()
        == 2
    )


def test_cohorts_since_keeps_later_first_seen_users_only():
    result = outcomes.retention_by_outcome(
        small(), "week", first_seen=table(), cohorts_since="2025-03-10"
    )
    assert sorted(result.cohorts["cohort"].unique()) == [W11, W13]
    assert result.retention["offset"].max() == 2  # W11's last observable week is W13
    week1 = result.at(1)
    assert week1.loc["unknown", ["users", "retained"]].tolist() == [1, 1]  # d only
    assert week1.loc["dropOff", ["users", "retained"]].tolist() == [1, 0]  # e only
    moves = outcomes.outcome_transitions(small(), first_seen=table(), cohorts_since="2025-03-10")
    assert moves.loc[moves["users"] > 0, ["first", "next", "users"]].values.tolist() == [
        ["unknown", "selfService", 1]
    ]


def test_returned_within_7_and_28_days_by_hand():
    result = outcomes.retention_by_outcome(small(), "week", first_seen=table())
    got = {
        (r["outcome"], r["days"]): (int(r["users"]), int(r["returned"]))
        for _, r in result.within.iterrows()
    }
    assert got == {
        # a's same-day retry is no return; f came too late to be watched for 7 days
        ("selfService", 7): (1, 0),
        ("dropOff", 7): (2, 1),  # b came back the next day, e never
        ("agent", 7): (1, 1),  # c on day 7
        ("unknown", 7): (2, 1),  # h on day 7, d on day 8
        # nobody was first seen 28 days before the data's end: censored, not lost
        ("selfService", 28): (0, 0),
        ("dropOff", 28): (0, 0),
        ("agent", 28): (0, 0),
        ("unknown", 28): (0, 0),
    }
    assert (
        result.within.loc[result.within["days"] == 28, ["rate", "low", "high"]].isna().all().all()
    )


def test_split_by_the_first_sessions_channel():
    result = outcomes.retention_by_outcome(small(), "week", first_seen=table(), by_channel=True)
    week1 = result.at(1)
    assert week1.loc[("dropOff", "whatsapp"), ["users", "retained"]].tolist() == [1, 0]
    assert week1.loc[("dropOff", "rtm"), ["users", "retained"]].tolist() == [1, 0]
    assert week1.loc[("agent", "whatsapp"), ["users", "retained"]].tolist() == [1, 1]
    # h's first session is not in the data: no channel either
    assert week1.loc[("unknown", "unknown"), ["users", "retained"]].tolist() == [1, 1]
    assert week1.loc[("unknown", "rtm"), ["users", "retained"]].tolist() == [1, 1]
    whole = outcomes.retention_by_outcome(small(), "week", first_seen=table()).at(1)
    assert week1.groupby(level="outcome")["users"].sum().to_dict() == whole["users"].to_dict()


def test_transitions_first_vs_next_session_by_hand():
    moves = outcomes.outcome_transitions(small(), first_seen=table())
    assert len(moves) == 16  # every pair of the four outcomes
    got = {(r["first"], r["next"]): int(r["users"]) for _, r in moves.iterrows() if r["users"]}
    assert got == {
        ("selfService", "agent"): 1,  # a: its next day's session, not the same-day retry
        ("dropOff", "selfService"): 1,  # b
        ("agent", "dropOff"): 1,  # c
        ("unknown", "agent"): 1,  # h
        ("unknown", "selfService"): 1,  # d
    }
    unknown = moves[moves["first"] == "unknown"].set_index("next")["share"]
    assert unknown.to_dict() == {"selfService": 0.5, "dropOff": 0.0, "agent": 0.5, "unknown": 0.0}


def test_weekly_outcome_mix_of_new_and_returning_users_sessions():
    mix = outcomes.outcome_mix(small(), "week", first_seen=table())
    counts = {
        (r["period"], r["users"], r["outcome"]): int(r["sessions"])
        for _, r in mix.iterrows()
        if r["sessions"]
    }
    assert counts == {
        (W10, "new", "selfService"): 2,  # a's first, b's return the next day (same week)
        (W10, "new", "dropOff"): 2,  # a's retry and b
        (W10, "new", "agent"): 1,
        (W10, "returning", "selfService"): 1,  # i, first seen in February
        (W11, "new", "unknown"): 1,
        (W11, "new", "dropOff"): 1,
        (W11, "returning", "agent"): 2,  # a and h
        (W11, "returning", "dropOff"): 1,
        (W12, "returning", "selfService"): 1,
        (W13, "returning", "selfService"): 1,
        (W13, "new", "selfService"): 1,
    }
    w10_new = mix[(mix["period"] == W10) & (mix["users"] == "new")].set_index("outcome")["share"]
    assert w10_new["dropOff"] == 0.4
    assert mix[(mix["period"] == W12) & (mix["users"] == "new")]["share"].isna().all()


def test_compare_picks_the_best_and_worst_known_outcome():
    result = outcomes.retention_by_outcome(small(), "week", first_seen=table())
    found = outcomes.compare_outcomes(result, offset=1)
    assert (found["higher"], found["lower"]) in {("selfService", "dropOff"), ("agent", "dropOff")}
    assert found["retained"][1] == 0 and found["ratio"] is None
    assert not found["enough"] and not found["significant"]  # 4 users tell nothing
    empty = small().iloc[:0]
    empty.attrs.update(small().attrs)
    assert outcomes.compare_outcomes(outcomes.retention_by_outcome(empty)) is None


def test_bad_arguments_are_one_sentence():
    with pytest.raises(InvalidQueryError, match="horizon"):
        outcomes.retention_by_outcome(small(), horizon=0)
    with pytest.raises(InvalidQueryError, match="period"):
        outcomes.retention_by_outcome(small(), period="year")
    assert metrics.retention_by_outcome is outcomes.retention_by_outcome


@pytest.fixture(scope="module")
def demo_sessions() -> pd.DataFrame:
    with quick_demo_client(NOW) as client:
        return client.fetch_sessions(
            "st-demo-hr-us", "2025-01-01", "2025-04-13", tz="America/New_York", progress=False
        )


def test_demo_new_users_by_outcome_add_up_to_each_weeks_first_seen_users(demo_sessions):
    result = outcomes.retention_by_outcome(demo_sessions, "week")
    by_week = result.cohorts.groupby("cohort")["users"].sum()
    life = cohorts.lifecycle(demo_sessions, "week")
    new = life[life["status"] == "new"].set_index("period")["users"]
    assert len(new) >= 10
    assert by_week.loc[new.index].to_dict() == new.to_dict()
    # every session of the past has an outcome on the demo
    assert result.cohorts.loc[result.cohorts["outcome"] == "unknown", "users"].sum() == 0


def test_demo_users_who_dropped_off_come_back_less_beyond_chance(demo_sessions):
    result = outcomes.retention_by_outcome(demo_sessions, "week")
    found = outcomes.compare_outcomes(result, offset=1)
    assert found["higher"] == "selfService" and found["lower"] == "dropOff"
    assert found["ratio"] > 1.3 and found["significant"]
    within = result.within.set_index(["outcome", "days"])["rate"]
    assert within[("dropOff", 28)] < within[("selfService", 28)]
