"""Every destination has a deadline: each attempt ends within a bounded wall-clock time whatever
the server does (real loopback servers that trickle, stay silent or never finish), counts as
failed, is not tried again in the run, and the other destinations go on."""

from __future__ import annotations

import json
import socket
import time

import psutil
import pytest
from typer.testing import CliRunner

from engagement_kit import delivery
from engagement_kit.cli import app
from engagement_kit.delivery import transport
from engagement_kit.errors import ConfigError
from tests.delivery.loopback import BadServer
from tests.delivery.test_delivery import (
    ENV,
    HR,
    IT,
    WEEK,
    _Http,
    _Smtp,
    mail_url,
    streams_toml,
)

DEADLINE = 1.0
runner = CliRunner()


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)  # where send_with_retry reads them
    monkeypatch.setattr(transport, "DEADLINE", DEADLINE)


@pytest.fixture
def good():
    server = _Http()
    yield server
    server.stop()


@pytest.fixture
def bad(request):
    server = BadServer(request.param)
    yield server
    server.stop()


def _no_children_left() -> list[psutil.Process]:
    """Forked attempts still running (a fork has this process's command line; other tests'
    helpers, such as multiprocessing's resource tracker, do not)."""
    me = psutil.Process()
    left = []
    for child in me.children(recursive=True):
        try:
            if child.status() != "zombie" and child.cmdline() == me.cmdline():
                left.append(child)
        except psutil.NoSuchProcess:
            continue
    return left


def _deliver(plan, out, tmp_path):
    start = time.monotonic()
    outcomes = delivery.deliver(
        plan, out, {HR[0]: WEEK, IT[0]: WEEK}, ledger=delivery.Ledger(tmp_path / "s.db"), env=ENV
    )
    return outcomes, time.monotonic() - start


def _hook_url(server) -> str:
    return f"json://127.0.0.1:{server.port}/hook"


@pytest.mark.parametrize("bad", ["trickle-http", "silent", "endless-body"], indirect=True)
def test_a_webhook_that_never_finishes_fails_at_its_deadline_and_the_others_are_sent(
    bad, good, out, tmp_path, fast
):
    plan = delivery.load_plan(
        streams_toml(tmp_path, [_hook_url(bad), _hook_url(good)], [_hook_url(good)])
    )
    outcomes, took = _deliver(plan, out, tmp_path)
    by = {(o.streams, o.destination): o for o in outcomes}
    stuck = by[((HR[0],), _hook_url(bad))]
    assert stuck.status == "failed" and "within 1 s (the deadline" in stuck.detail
    assert "(after 1 attempt)" in stuck.detail  # not tried again: it may have been taken
    assert by[((HR[0],), _hook_url(good))].status == "sent"
    assert by[((IT[0],), _hook_url(good))].status == "sent"
    assert len(good.requests) == 2
    assert bad.connections == 1
    assert took < 3 * DEADLINE + 4  # one deadline, not Apprise's 4 s per read, not forever
    assert _no_children_left() == []  # the attempt was killed, it cannot send later
    record = json.loads(next(out.glob(f"*/{WEEK}.delivery.json")).read_text())
    entries = {
        e["destination"]: e
        for f in out.glob(f"*/{WEEK}.delivery.json")
        for e in json.loads(f.read_text())["deliveries"]
    }
    assert record["deliveries"]
    assert entries[_hook_url(bad)]["status"] == "failed"
    assert "deadline" in entries[_hook_url(bad)]["detail"]
    with delivery.Ledger(tmp_path / "s.db") as ledger:
        assert ledger.sent(HR[0], WEEK, _hook_url(bad), "report") is None  # tried next run
        assert ledger.sent(HR[0], WEEK, _hook_url(good), "report") is not None


def _smtp_url(port: int) -> str:
    return (
        f"mailto://reports:${{SMTP_PASSWORD}}@127.0.0.1:{port}"
        "?mode=insecure&from=reports@example.com&to=team@example.com"
    )


@pytest.mark.parametrize("bad", ["trickle-smtp", "silent"], indirect=True)
def test_an_smtp_server_that_never_greets_fails_at_its_deadline_and_the_next_mail_goes(
    bad, out, tmp_path, fast
):
    smtp = _Smtp()
    try:
        plan = delivery.load_plan(
            streams_toml(tmp_path, [_smtp_url(bad.port), mail_url(smtp)], [mail_url(smtp)])
        )
        outcomes, took = _deliver(plan, out, tmp_path)
    finally:
        smtp.stop()
    stuck = next(o for o in outcomes if o.destination == _smtp_url(bad.port))
    assert stuck.status == "failed" and "deadline" in stuck.detail
    assert [o.status for o in outcomes if o.destination == mail_url(smtp)] == ["sent", "sent"]
    assert len(smtp.messages) == 2
    assert took < 3 * DEADLINE + 6
    assert _no_children_left() == []


def test_a_name_that_never_resolves_fails_at_the_deadline(out, tmp_path, fast, monkeypatch):
    """DNS that hangs (a dead resolver): getaddrinfo never returns; the attempt still ends."""
    real = socket.getaddrinfo

    def hanging(host, *args, **kwargs):
        if host == "hooks.hang.example":
            time.sleep(3600)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    plan = delivery.load_plan(streams_toml(tmp_path, ["json://hooks.hang.example/x"], []))
    start = time.monotonic()
    (outcome,) = delivery.deliver(
        plan, out, {HR[0]: WEEK}, ledger=delivery.Ledger(tmp_path / "s.db"), env=ENV
    )
    assert outcome.status == "failed" and "deadline" in outcome.detail
    assert time.monotonic() - start < DEADLINE + 3
    assert _no_children_left() == []


def test_a_quick_failure_is_still_tried_again_and_a_success_counts_once(good, out, tmp_path, fast):
    url = f"json://127.0.0.1:{good.port}/fail"
    plan = delivery.load_plan(streams_toml(tmp_path, [url], []))
    (outcome,) = delivery.deliver(
        plan, out, {HR[0]: WEEK}, ledger=delivery.Ledger(tmp_path / "s.db"), env=ENV
    )
    assert outcome.status == "failed" and "after 3 attempts" in outcome.detail
    assert len(good.requests) == 3


def test_the_deadline_comes_from_the_option_then_the_stream_then_defaults(tmp_path):
    path = streams_toml(tmp_path, ["json://a.example/x"], ["json://b.example/y"], "deadline = 20")
    text = path.read_text().replace(f'tz = "{IT[2]}"', f'tz = "{IT[2]}"\ndeadline = 5.5')
    path.write_text(text)
    plan = delivery.load_plan(path)
    assert plan.deadline_for([HR[0]]) == 20.0
    assert plan.deadline_for([IT[0]]) == 5.5
    assert plan.deadline_for([HR[0], IT[0]]) == 20.0  # a digest: the longest of its streams
    plan = delivery.plan_for(None, path, send=False, dry_run=False, deadline=2)
    assert plan.deadline_for([IT[0]]) == 2.0
    bare = delivery.load_plan(streams_toml(tmp_path, ["json://a.example/x"], []))
    assert bare.deadline_for([HR[0]]) == transport.DEADLINE == 60.0


@pytest.mark.parametrize("value", ["0", "-1", '"60s"', "true", "7200"])
def test_a_bad_deadline_says_what_it_must_be(tmp_path, value):
    path = streams_toml(tmp_path, ["json://a.example/x"], [], f"deadline = {value}")
    with pytest.raises(ConfigError, match=r"\[defaults\]: deadline must be the seconds"):
        delivery.load_plan(path)


@pytest.mark.parametrize("value", [0, -2, 601])
def test_a_bad_deadline_option_says_what_it_must_be(tmp_path, value):
    path = streams_toml(tmp_path, ["json://a.example/x"], [])
    with pytest.raises(ConfigError, match=f"--deadline {value:g}: give the seconds"):
        delivery.plan_for(None, path, send=False, dry_run=False, deadline=value)


@pytest.mark.parametrize("bad", ["trickle-http"], indirect=True)
def test_send_with_deadline_option_ends_and_says_so_in_the_summary(bad, out, tmp_path, monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "s.db"))
    path = streams_toml(tmp_path, [_hook_url(bad)], [])
    start = time.monotonic()
    result = runner.invoke(
        app,
        ["send", "--config", str(path), "--week", WEEK, "--out-dir", str(out)]
        + ["--stream", HR[0], "--deadline", "1"],
        env={"COLUMNS": "200"},
    )
    assert time.monotonic() - start < 8
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "failed" in text and "within 1 s (the deadline" in text
