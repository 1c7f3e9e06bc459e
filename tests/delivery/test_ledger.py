# ruff: noqa: F811 - the fixtures imported from test_delivery are parameters here
"""The delivery record: claims (sent exactly once across processes), the store checked before
the first message, a crash between "accepted" and "recorded" (real processes, SIGKILL, a
loopback SMTP server). On SQLite and PostgreSQL (``store_location``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.delivery.ledger import Ledger
from engagement_kit.store.schema import claims, deliveries
from tests.builders import REPO
from tests.delivery.test_delivery import (  # noqa: F401 - fixtures
    HR,
    IT,
    SECRET,
    WEEK,
    _Smtp,
    mail_url,
    smtp,
    streams_toml,
)

KEY = ("st-1", WEEK, "mailto://x@example.com", "report")


# -- claims, one process at a time ---------------------------------------------------------------
def test_a_second_claim_is_refused_while_the_first_lives(store_location):
    first, second = Ledger(store_location), Ledger(store_location)
    assert first.claim(*KEY, now=1000.0).status == "claimed"
    busy = second.claim(*KEY, now=1001.0)
    assert busy.status == "busy" and busy.owner == first.owner
    first.record(*KEY, "hash-1")
    done = second.claim(*KEY, now=1002.0)
    assert done.status == "sent" and done.content_hash == "hash-1"
    assert second.read(sa.select(sa.func.count()).select_from(claims)) == [(0,)]
    again = second.claim(*KEY, resend=True, now=1003.0)  # --resend claims a sent message again
    assert again.status == "claimed"
    first.close()
    second.close()


def test_a_dead_owners_claim_is_taken_over_after_the_timeout(store_location):
    dead = Ledger(store_location, claim_timeout=60)
    alive = Ledger(store_location, claim_timeout=60)
    assert dead.claim(*KEY, now=1000.0).status == "claimed"
    assert alive.claim(*KEY, now=1059.0).status == "busy"
    taken = alive.claim(*KEY, now=1060.0)
    assert taken.status == "claimed" and taken.took_over == dead.owner
    assert dead.claim(*KEY, now=1061.0).status == "busy"  # the old owner lost it
    alive.close()
    dead.close()


def test_a_failed_attempt_is_claimed_again_at_once(store_location):
    first, second = Ledger(store_location), Ledger(store_location)
    first.claim(*KEY, now=1000.0)
    first.release(*KEY, "connection refused")
    got = second.claim(*KEY, now=1001.0)
    assert got.status == "claimed" and got.took_over == ""
    first.close()
    second.close()


# -- real processes --------------------------------------------------------------------------
def _project(tmp_path: Path, smtp: _Smtp) -> Path:
    return streams_toml(tmp_path, [mail_url(smtp)], [mail_url(smtp)])


def _send(config: Path, out: Path, store: str, *extra: str, env: dict | None = None):
    return subprocess.Popen(
        [sys.executable, "-m", "engagement_kit.cli", "send", "--week", WEEK, "--config",
         str(config), "--out-dir", str(out), *extra],
        env={**os.environ, "PYTHONPATH": str(REPO), "ENGAGEMENT_KIT_STORE": store,
             "SMTP_PASSWORD": SECRET, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_two_sends_at_once_send_each_message_once(out, tmp_path, smtp, store_location):
    config = _project(tmp_path, smtp)
    homes = [tmp_path / "machine-a", tmp_path / "machine-b"]  # two "machines"
    procs = []
    for home in homes:
        home.mkdir()
        procs.append(
            _send(
                config,
                out,
                store_location,
                env={"ENGAGEMENT_KIT_HOME": str(home), "HOME": str(home)},
            )
        )
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len(smtp.messages) == 2, outputs  # one per stream's destination, not four
    joined = "\n".join(outputs)
    assert joined.count("sent") >= 2 and ("skipped" in joined), joined
    assert SECRET not in joined
    rows = Ledger(store_location).read(sa.select(sa.func.count()).select_from(deliveries))
    assert rows == [(2,)]


def test_a_crash_between_accepted_and_recorded_sends_again_after_the_claim_timeout(
    out,
    tmp_path,
    store_location,
    free_port,
):
    """At least once: the message was accepted, the sender died before recording it; the
    claim holds later runs back until it times out, then the message goes again."""
    from aiosmtpd.controller import Controller

    messages: list[bytes] = []
    victim: dict[str, int] = {}

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append(envelope.content)
            return "250 OK"

        async def handle_QUIT(self, server, session, envelope):
            if "pid" in victim:  # the server said 250 to DATA; the sender now waits for QUIT
                os.kill(victim.pop("pid"), signal.SIGKILL)
            return "221 Bye"

    port = free_port
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, auth_require_tls=False)
    controller.start()
    try:
        url = (
            f"mailto://127.0.0.1:{port}?mode=insecure&from=reports@example.com&to=team@example.com"
        )
        config = streams_toml(tmp_path, [url], [])
        first = _send(config, out, store_location, "--stream", HR[0])
        victim["pid"] = first.pid
        first.communicate(timeout=240)
        assert first.returncode == -signal.SIGKILL
        assert len(messages) == 1
        ledger = Ledger(store_location)
        assert ledger.read(sa.select(claims.c.status)) == [("claimed",)]  # not recorded
        assert ledger.read(sa.select(deliveries)) == []
        ledger.close()

        held = _send(config, out, store_location, "--stream", HR[0])
        text = held.communicate(timeout=240)[0]
        assert held.returncode == 0, text
        assert len(messages) == 1 and "being sent by" in text, text  # within the timeout

        time.sleep(1.2)
        late = _send(
            config,
            out,
            store_location,
            "--stream",
            HR[0],
            env={"ENGAGEMENT_KIT_CLAIM_TIMEOUT": "1"},
        )
        text = late.communicate(timeout=240)[0]
        assert late.returncode == 0, text
        assert len(messages) == 2, text  # sent again: at least once
        assert "taking over the claim" in text, text
        ledger = Ledger(store_location)
        assert ledger.read(sa.select(claims)) == []
        assert len(ledger.read(sa.select(deliveries))) == 1
        ledger.close()
    finally:
        controller.stop()


# -- check before you send -------------------------------------------------------------------
def _immutable(path: Path) -> None:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here ({done.stderr.decode().strip()})")


@pytest.mark.parametrize("what", ["file", "folder"])
def test_send_stops_before_the_first_message_when_the_store_cannot_record(
    out,
    tmp_path,
    smtp,
    what,
):
    """Tests run as root, where chmod does not stop writes: ``chattr +i`` (immutable) makes the
    file, or the folder, really read-only."""
    folder = tmp_path / "store"
    folder.mkdir()
    path = folder / "responses.sqlite3"
    ledger = Ledger(path)
    ledger.record("st-old", "2025-W01", "mailto://old@example.com", "report", "h")
    ledger.close()
    target = path if what == "file" else folder
    _immutable(target)
    try:
        config = _project(tmp_path, smtp)
        result = CliRunner().invoke(
            app,
            ["send", "--week", WEEK, "--config", str(config), "--out-dir", str(out)],
            env={"ENGAGEMENT_KIT_STORE": str(path), "SMTP_PASSWORD": SECRET},
        )
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)
    assert result.exit_code != 0
    assert smtp.messages == []  # nothing sent
    text = " ".join(result.output.split())
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert str(path) in "".join(result.output.split()) and "ENGAGEMENT_KIT_STORE" in text, text
    assert result.output.startswith("error:") and result.output.count("error:") == 1
    assert ("read-only" in text) or ("cannot be written" in text), text


def test_a_store_error_during_a_run_is_the_clis_one_line_error(out, tmp_path, smtp, monkeypatch):
    """The store breaks after the first message went out (the pre-flight passed): the run ends
    with one sentence, no traceback; the message's claim stays, so no other run resends it
    before the claim timeout."""
    from engagement_kit.errors import StoreError

    def broken(self, *args, **kwargs):
        raise StoreError(f"response store {self.shown}: cannot write to it (disk I/O error); fix")

    monkeypatch.setattr(Ledger, "record", broken)
    path = tmp_path / "responses.sqlite3"
    config = _project(tmp_path, smtp)
    result = CliRunner().invoke(
        app,
        ["send", "--week", WEEK, "--config", str(config), "--out-dir", str(out)],
        env={"ENGAGEMENT_KIT_STORE": str(path), "SMTP_PASSWORD": SECRET},
    )
    assert result.exit_code != 0
    assert result.output.startswith("error:") and "disk I/O error" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert len(smtp.messages) == 1  # the first message went; the run stopped there
    assert Ledger(path).read(sa.select(claims.c.status)) == [("claimed",)]
