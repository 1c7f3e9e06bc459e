"""The first-seen table: built by a backfill, extended incrementally, censoring flagged; and
the ``engagement-kit backfill`` command."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from engagement_kit.demo import DemoPlatform
from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics import cohorts
from engagement_kit.metrics.first_seen import FirstSeenTable, SessionCache, backfill
from engagement_kit.store import ResponseStore
from tests.builders import quick_demo_client

NOW = dt.datetime(2025, 6, 10, 12, tzinfo=dt.UTC).timestamp()
STREAM, TZ = "st-demo-it-de", "Europe/Berlin"


def make_client(tmp_path, requests):
    platform = DemoPlatform(lambda: NOW, rate_limit=False)
    handle = platform.handle

    def counting(request):
        requests.append(request)
        return handle(request)

    platform.handle = counting
    return quick_demo_client(
        NOW, store=ResponseStore(tmp_path / "store.sqlite3"), platform=platform
    )


def test_backfill_builds_then_extends_the_first_seen_table(tmp_path):
    requests: list = []
    with make_client(tmp_path, requests) as client:
        first = backfill(client, STREAM, "2025-03-01", "2025-04-30", tz=TZ, progress=False)
        asked = len(requests)
        table = FirstSeenTable(client.store.path)
        users = table.frame(client.host, STREAM, tz=TZ)
        assert first["complete"] and first["users"] == len(users) > 0
        assert users["first_start"].min().date() >= dt.date(2025, 3, 1)
        # users first seen in the first 28 days may be older: flagged
        early = users["first_start"] < "2025-03-29"
        assert (users["possibly_censored"] == early).all() and early.any()

        # extending back in time moves first sessions earlier; forward adds days only
        second = backfill(client, STREAM, "2025-01-01", "2025-05-31", tz=TZ, progress=False)
        assert second["horizon"] == dt.date(2025, 1, 1)
        assert second["through"] == dt.date(2025, 5, 31)
        extended = table.frame(client.host, STREAM, tz=TZ).set_index("user_id")
        moved = (
            extended.loc[users["user_id"], "first_start"].to_numpy()
            <= users["first_start"].to_numpy()
        )
        assert moved.all()
        assert (extended.loc[users["user_id"], "first_start"] < "2025-03-01").any()

        # the table equals first-seen computed from one download of the whole span
        full = client.fetch_sessions(STREAM, "2025-01-01", "2025-05-31", tz=TZ, progress=False)
        expected = full[~full["is_developer"]].groupby("user_id")["start"].min()
        assert (
            extended["first_start"].sort_index().equals(expected.sort_index().rename("first_start"))
        )

        # nothing left to ask: the third run sends nothing
        before = len(requests)
        third = backfill(client, STREAM, "2025-01-01", "2025-05-31", tz=TZ, progress=False)
        assert len(requests) == before and third["new_users"] == 0
        assert asked > 0


def test_cohorts_use_the_stored_first_seen_table(tmp_path):
    requests: list = []
    with make_client(tmp_path, requests) as client:
        backfill(client, STREAM, "2025-01-01", "2025-05-31", tz=TZ, progress=False)
        table = FirstSeenTable(client.store.path).frame(client.host, STREAM, tz=TZ)
        recent = client.fetch_sessions(STREAM, "2025-05-05", "2025-06-01", tz=TZ, progress=False)
        with_table = cohorts.daily_user_counts(recent, first_seen=table)
        without = cohorts.daily_user_counts(recent)
        with client:
            api = client.fetch(STREAM, "2025-05-05", "2025-06-01", tz=TZ)
        assert cohorts.cross_check(with_table, api).attrs["ok"]
        assert not cohorts.cross_check(without, api).attrs["ok"]  # old users look new
        triangle = cohorts.cohort_retention(recent, "week", first_seen=table)
        assert triangle["users"].sum() < cohorts.cohort_retention(recent, "week")["users"].sum()


def test_backfill_refuses_unfinished_days_and_a_changed_zone(tmp_path):
    with make_client(tmp_path, []) as client:
        with pytest.raises(InvalidQueryError, match="has not ended"):
            backfill(client, STREAM, "2025-06-01", "2025-06-10", tz=TZ)
        backfill(client, STREAM, "2025-06-01", "2025-06-02", tz=TZ, progress=False)
        with pytest.raises(InvalidQueryError, match="Europe/Berlin"):
            backfill(client, STREAM, "2025-06-01", "2025-06-02", tz="UTC")
    assert SessionCache(tmp_path / "store.sqlite3").count(client.host, STREAM) >= 1


@pytest.mark.slow
def test_the_backfill_command(tmp_path, monkeypatch):
    from engagement_kit.cli import app

    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "cli.sqlite3"))
    runner = CliRunner()
    args = ["backfill", "--stream", STREAM, "--since", "2025-01-01", "--until", "2025-02-28"]
    result = runner.invoke(app, [*args, "--demo", "--tz", TZ])
    assert result.exit_code == 0, result.output
    assert "users first seen between 2025-01-01 and 2025-02-28" in result.output
    again = " ".join(runner.invoke(app, [*args, "--demo", "--tz", TZ]).output.split())
    assert "(0 new in the table, 0 sessions, 0 windows asked)" in again
    bad = runner.invoke(app, [*args, "--demo", "--tz", "UTC"])
    assert bad.exit_code == 2 and "Europe/Berlin" in " ".join(bad.output.split())
    assert "backfill" in runner.invoke(app, ["--help"]).output


def test_the_recent_week_check_is_zero_with_the_first_seen_table(tmp_path):
    from engagement_kit.metrics.first_seen import check_recent_week

    with make_client(tmp_path, []) as client:
        alone = check_recent_week(client, STREAM, tz=TZ, week="2025-W22")
        assert alone.attrs["first_seen"] == "the week only" and not alone.attrs["ok"]
        backfill(client, STREAM, "2025-01-01", "2025-05-31", tz=TZ, progress=False)
        check = check_recent_week(client, STREAM, tz=TZ, week="2025-W22")
        assert check.attrs["ok"] and len(check) == 7
        assert "first-seen table" in check.attrs["first_seen"]
        assert check_recent_week(client, STREAM, tz=TZ).attrs["week"] == "2025-W23"
