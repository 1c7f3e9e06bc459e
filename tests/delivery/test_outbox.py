"""A report belongs to its stream id (issue 22.7): ``send`` only sends a sidecar whose
``stream_id`` is the stream it acts for, from the stream's folder or an earlier version's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engagement_kit import delivery
from engagement_kit.store.files import legacy_slug, stream_slug
from tests.delivery.test_delivery import _Http

WEEK = "2025-W47"
A = ("st-1", "Support bot")
B = ("st-2", "Support Bot")  # the same slug: "support-bot"


def _report(out: Path, folder: str, stream: tuple[str, str], users: int) -> None:
    path = out / folder
    path.mkdir(parents=True, exist_ok=True)
    sidecar = {
        "stream_id": stream[0],
        "stream_name": stream[1],
        "week": WEEK,
        "kpis": {"unique_users": users, "new_users": 1, "returning_users": users - 1},
        "change": {},
    }
    (path / f"{WEEK}.json").write_text(json.dumps(sidecar))
    (path / f"{WEEK}.html").write_text(f"<html>{users}</html>")


def _config(tmp_path: Path, stream: tuple[str, str], url: str) -> Path:
    path = tmp_path / f"streams-{stream[0]}.toml"
    path.write_text(
        f'[[stream]]\nid = "{stream[0]}"\nname = "{stream[1]}"\ntz = "UTC"\ndeliver = ["{url}"]\n'
    )
    return path


@pytest.fixture
def hook():
    server = _Http()
    yield server
    server.stop()


def _send(tmp_path, out, stream, url):
    plan = delivery.load_plan(_config(tmp_path, stream, url))
    return delivery.deliver(
        plan, out, {stream[0]: WEEK}, ledger=delivery.Ledger(tmp_path / "s.db"), env={}
    )


def test_two_configs_with_names_that_slug_alike_each_send_their_own_numbers(tmp_path, hook):
    out = tmp_path / "reports"
    assert stream_slug(A[1], A[0]) != stream_slug(B[1], B[0])
    _report(out, stream_slug(A[1], A[0]), A, 111)
    _report(out, stream_slug(B[1], B[0]), B, 222)
    url_a = f"json://127.0.0.1:{hook.port}/team-a"
    url_b = f"json://127.0.0.1:{hook.port}/team-b"
    assert [o.status for o in _send(tmp_path, out, A, url_a)] == ["sent"]
    assert [o.status for o in _send(tmp_path, out, B, url_b)] == ["sent"]
    got = {p: json.loads(json.loads(body)["message"]) for p, body, _ in hook.requests}
    assert got["/team-a"]["stream_id"] == "st-1" and got["/team-a"]["kpis"]["unique_users"] == 111
    assert got["/team-b"]["stream_id"] == "st-2" and got["/team-b"]["kpis"]["unique_users"] == 222


def test_an_old_shared_folder_holding_the_other_streams_report_is_not_sent(tmp_path, hook):
    """The bug: support-bot/ held the report written last (st-2's); send for st-1 mailed it
    to st-1's recipients. Now that sidecar is refused, naming both ids; nothing is sent."""
    out = tmp_path / "reports"
    _report(out, legacy_slug(B[1], B[0]), B, 222)
    url = f"json://127.0.0.1:{hook.port}/team-a"
    (outcome,) = _send(tmp_path, out, A, url)
    assert outcome.status == "failed"
    assert "is the report of stream 'st-2', not of 'st-1'" in outcome.detail
    assert str(out / stream_slug(A[1], A[0])) in outcome.detail  # where st-1's report goes
    assert hook.requests == []


def test_a_report_in_the_folder_of_an_earlier_version_is_still_sent(tmp_path, hook):
    out = tmp_path / "reports"
    _report(out, legacy_slug(A[1], A[0]), A, 111)
    (outcome,) = _send(tmp_path, out, A, f"json://127.0.0.1:{hook.port}/team-a")
    assert outcome.status == "sent"
    assert (out / "support-bot" / f"{WEEK}.delivery.json").is_file()  # recorded beside it
