"""Tests that close the gaps mutation testing found in engagement_kit.delivery (see
benchmarks/MUTATION.md): ``engagement-kit send`` on reports written by hand, so the fast suite
covers the outbox, the ledger, the retries, the dry run and the summary (the end-to-end tests in
test_delivery.py write real reports first and are marked slow)."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engagement_kit import delivery
from engagement_kit.cli import app

WEEK = "2025-W47"
STREAMS = (("st-a", "Alpha Bot"), ("st-b", "Beta Bot"))
TOKEN = "tok-9f8e7d6c5b4a"
runner = CliRunner()

PAGE = "<!DOCTYPE html><html><body><h1>Report</h1></body></html>"


class Hook:
    """A webhook endpoint on loopback: 200 for every path but ``/fail`` (500)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.path, body))
                self.send_response(500 if self.path.startswith("/fail") else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setattr(delivery, "RETRY_WAIT", 0.0)
    server = Hook()
    yield server
    server.server.shutdown()
    server.server.server_close()


def sidecar(stream_id: str, name: str, users: int = 1200, alerts=()) -> dict:
    return {
        "stream_id": stream_id,
        "stream_name": name,
        "week": WEEK,
        "start": "2025-11-17",
        "end": "2025-11-23",
        "tz": "UTC",
        "kpis": {"unique_users": users, "new_users": 200, "returning_users": users - 200},
        "change": {"unique_users": {"pct_change": 0.1}},
        "checks": [],
        "anomalies": [],
        "alerts": list(alerts),
    }


def write_reports(out: Path, **alerts) -> None:
    for stream_id, name in STREAMS:
        folder = out / name.lower().replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        data = sidecar(stream_id, name, alerts=alerts.get(stream_id, ()))
        (folder / f"{WEEK}.json").write_text(json.dumps(data))
        (folder / f"{WEEK}.html").write_text(PAGE)


def streams_toml(tmp_path: Path, a: list[str], b: list[str], extra: str = "") -> Path:
    def urls(items):
        return "[" + ", ".join(json.dumps(u) for u in items) + "]"

    path = tmp_path / "streams.toml"
    path.write_text(
        f'[defaults]\nlink = "https://intranet.example.com/engagement/"\n{extra}\n'
        f'[[stream]]\nid = "st-a"\nname = "Alpha Bot"\ntz = "UTC"\ndeliver = {urls(a)}\n'
        f'[[stream]]\nid = "st-b"\nname = "Beta Bot"\ntz = "UTC"\ndeliver = {urls(b)}\n'
    )
    return path


def send(path: Path, out: Path, *args: str):
    return runner.invoke(
        app, ["send", "--config", str(path), "--week", WEEK, "--out-dir", str(out), *args]
    )


def test_send_delivers_records_skips_and_resends(tmp_path, hook, monkeypatch):
    monkeypatch.setenv("MM_TOKEN", TOKEN)
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "reports"
    write_reports(out)
    ok = f"json://127.0.0.1:{hook.port}/ok"
    bad = f"json://127.0.0.1:{hook.port}/fail"
    chat = f"mmost://127.0.0.1:{hook.port}/${{MM_TOKEN}}"
    path = streams_toml(tmp_path, [ok, chat], [bad])

    result = send(path, out)
    assert result.exit_code == 1, result.output  # one destination failed
    assert hook.paths().count("/fail") == delivery.ATTEMPTS
    bodies = {p: b for p, b in hook.requests}
    envelope = json.loads(bodies["/ok"])
    assert json.loads(envelope["message"]) == sidecar("st-a", "Alpha Bot")
    assert envelope["title"] == "Weekly report: Alpha Bot, 2025-W47: 1,200 users (+10.0 %)"
    text = json.loads(bodies[f"/hooks/{TOKEN}"])["text"]
    assert "Alpha Bot, 2025-W47: 1,200 unique users this week." in text
    assert "Full report: https://intranet.example.com/engagement/alpha-bot/2025-W47.html" in text
    # the summary table: stream names, statuses, the failure with its attempts; no secret
    output = result.output
    assert "Delivery" in output and TOKEN not in output
    for word in ("stream", "week", "kind", "destination", "status", "detail"):
        assert word in output
    assert "Alpha Bot" in output and "Beta Bot" in output
    assert output.count(" sent ") + output.count(" sent\n") >= 2
    assert "(after 3 attempts)" in output
    record = json.loads((out / "alpha-bot" / f"{WEEK}.delivery.json").read_text())
    assert record["stream_id"] == "st-a" and record["week"] == WEEK
    status = {(e["destination"], e["kind"]): e["status"] for e in record["deliveries"]}
    assert status == {(ok, "report"): "sent", (chat, "report"): "sent"}
    assert all(e["at"] for e in record["deliveries"])
    failed = json.loads((out / "beta-bot" / f"{WEEK}.delivery.json").read_text())
    (entry,) = failed["deliveries"]
    assert (entry["destination"], entry["status"]) == (bad, "failed")
    assert entry["detail"].endswith("(after 3 attempts)")
    assert f"report to {bad}: failed" in (out / "index.html").read_text()

    # again: what was sent is skipped (and the record keeps it as sent); the failure is retried
    hook.requests.clear()
    again = delivery.deliver(delivery.load_plan(path), out, {"st-a": WEEK, "st-b": WEEK})
    assert [(o.streams, o.status) for o in again] == [
        (("st-a",), "skipped"),
        (("st-a",), "skipped"),
        (("st-b",), "failed"),
    ]
    assert again[0].detail.startswith("already sent 20")
    assert "numbers changed" not in again[0].detail
    assert hook.paths() == ["/fail"] * delivery.ATTEMPTS
    record = json.loads((out / "alpha-bot" / f"{WEEK}.delivery.json").read_text())
    assert {e["status"] for e in record["deliveries"]} == {"sent"}

    # new numbers: still not sent by itself, but the summary says so; --resend sends them
    changed = sidecar("st-a", "Alpha Bot", users=1300)
    (out / "alpha-bot" / f"{WEEK}.json").write_text(json.dumps(changed))
    plan = delivery.load_plan(streams_toml(tmp_path, [ok], []))
    (skipped,) = delivery.deliver(plan, out, {"st-a": WEEK})
    assert skipped.status == "skipped" and "the report's numbers changed since" in skipped.detail
    hook.requests.clear()
    (sent,) = delivery.deliver(plan, out, {"st-a": WEEK}, resend=True)
    assert sent.status == "sent" and sent.kind == "report" and sent.week == WEEK
    assert sent.destination == ok
    assert sent.detail == "Weekly report: Alpha Bot, 2025-W47: 1,300 users (+10.0 %)"
    assert json.loads(json.loads(hook.requests[0][1])["message"])["kpis"]["unique_users"] == 1300
    assert delivery.exit_code([sent, skipped]) == 0
    assert delivery.exit_code([sent, again[2]]) == 1


def test_a_digest_is_one_message_per_destination_and_alerts_go_on_their_own(tmp_path, hook):
    out = tmp_path / "reports"
    write_reports(out, **{"st-b": [{"name": "drop", "message": "new users fell 30 %"}]})
    ok = f"json://127.0.0.1:{hook.port}/ok"
    alerts = f"json://127.0.0.1:{hook.port}/alerts"
    path = streams_toml(
        tmp_path,
        [ok],
        [ok],
        extra="digest = true\n",
    )
    path.write_text(
        path.read_text()
        + '[[stream.alert]]\nname = "drop"\nkpi = "new_users"\nrule = "below"\nvalue = "1"\n'
        + f'deliver = ["{alerts}"]\n'
    )
    outcomes = delivery.deliver(delivery.load_plan(path), out, {"st-a": WEEK, "st-b": WEEK})
    assert [(o.kind, o.streams, o.status) for o in outcomes] == [
        ("digest", ("st-a", "st-b"), "sent"),
        ("alerts", ("st-b",), "sent"),
    ]
    bodies = dict(hook.requests)
    digest = json.loads(json.loads(bodies["/ok"])["message"])
    assert [r["stream_id"] for r in digest["reports"]] == ["st-a", "st-b"]
    alert = json.loads(bodies["/alerts"])
    assert alert["title"] == "Alert: Beta Bot, 2025-W47"
    assert alert["message"].startswith("! new users fell 30 %\nFull report: https://")
    # a second run: both skipped, the alert not again either
    again = delivery.deliver(delivery.load_plan(path), out, {"st-a": WEEK, "st-b": WEEK})
    assert [o.status for o in again] == ["skipped", "skipped"]


def test_dry_run_prints_instead_of_sending_and_writes_the_email(tmp_path, hook, monkeypatch):
    monkeypatch.setenv("MM_TOKEN", TOKEN)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    out = tmp_path / "reports"
    write_reports(out)
    mail = (
        "mailto://reports:${SMTP_PASSWORD}@127.0.0.1:2525"
        "?mode=insecure&from=reports@example.com&to=team@example.com"
    )
    chat = f"mmost://127.0.0.1:{hook.port}/${{MM_TOKEN}}"
    path = streams_toml(tmp_path, [mail, chat], [])
    monkeypatch.setenv("COLUMNS", "300")
    result = send(path, out, "--dry-run", "--stream", "st-a")
    assert result.exit_code == 0, result.output
    assert hook.requests == []
    output = " ".join(result.output.split())
    assert "would send report 'Weekly report: Alpha Bot, 2025-W47: 1,200 users (+10.0 %)'" in output
    assert "(a referenced variable is not set: it would fail)" in output
    eml = out / "alpha-bot" / f"{WEEK}.eml"
    assert f"email written to {eml}" in output
    # the chat message's body is shown, indented; the token is not
    assert "\n    - Unique users: 1,200 (+10.0 %)" in result.output
    assert TOKEN not in result.output and "${MM_TOKEN}" in output
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert (msg["From"], msg["To"]) == ("reports@example.com", "team@example.com")
    assert not (out / "alpha-bot" / f"{WEEK}.delivery.json").exists()
    with delivery.Ledger() as ledger:
        assert ledger.sent("st-a", WEEK, chat, "report") is None


def test_a_missing_report_fails_with_what_to_run(tmp_path, hook):
    out = tmp_path / "reports"
    write_reports(out)
    (out / "beta-bot" / f"{WEEK}.html").unlink()
    (out / "alpha-bot" / f"{WEEK}.json").write_text("{not json")
    ok = f"json://127.0.0.1:{hook.port}/ok"
    plan = delivery.load_plan(streams_toml(tmp_path, [ok], [ok]))
    outcomes = delivery.deliver(plan, out, {"st-a": WEEK, "st-b": WEEK, "st-unknown": WEEK})
    assert [(o.streams, o.status, o.destination) for o in outcomes] == [
        (("st-a",), "failed", "-"),
        (("st-b",), "failed", "-"),
    ]
    assert "alpha-bot" in outcomes[0].detail and "unreadable" in outcomes[0].detail
    assert outcomes[1].detail == (
        f"no report for {WEEK} in {out / 'beta-bot'}; run engagement-kit report first"
    )
    assert hook.requests == []


ALERT_RULES = """
[[stream.alert]]
name = "Quiet"
kpi = "unique_users"
rule = "below"
value = 1000000
cooldown_weeks = 2

[[stream.alert]]
name = "Never"
kpi = "unique_users"
rule = "above"
value = 1000000
deliver = ["json://127.0.0.1:9/never"]
"""


def alert_toml(tmp_path: Path) -> Path:
    path = tmp_path / "streams.toml"
    path.write_text(
        '[[stream]]\nid = "st-demo-it-de"\nname = "Servicedesk IT Bot (Berlin)"\n'
        'tz = "Europe/Berlin"\ndeliver = ["json://127.0.0.1:9/report"]\n' + ALERT_RULES
    )
    return path


def test_alerts_lists_each_rule_with_its_destinations(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["alerts", "--config", str(alert_toml(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("Alert rules" in line for line in lines)
    head = next(line for line in lines if "fires when" in line)
    assert [c.strip() for c in head.split("┃")[1:-1]] == [
        "stream",
        "rule",
        "fires when",
        "cooldown",
        "sent to",
    ]
    quiet = next(line for line in lines if " Quiet " in line)
    cells = [c.strip() for c in quiet.split("│")[1:-1]]
    assert cells[0] == "Servicedesk IT Bot (Berlin)" and cells[1] == "Quiet"
    assert cells[3] == "2 weeks" and cells[4] == "json://127.0.0.1:9/report"
    never = next(line for line in lines if " Never " in line)
    assert [c.strip() for c in never.split("│")[1:-1]][3:] == [
        "0 weeks",
        "json://127.0.0.1:9/never",
    ]


def test_alert_backtest_shows_the_weeks_it_fired_in(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    path = alert_toml(tmp_path)
    args = ["alerts", "--config", str(path), "--demo", "--backtest", "3", "--week", WEEK]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Backtest: last 3 weeks" in out
    head = next(line for line in out.splitlines() if "fires when" in line)
    assert [c.strip() for c in head.split("┃")[1:-1]] == [
        "stream",
        "rule",
        "fires when",
        "cooldown",
        "fired in",
    ]
    quiet = next(line for line in out.splitlines() if " Quiet " in line)
    # below a million every week; the two-week cooldown holds it back after the first
    assert "│ 2025-W45 (1 of 3 weeks, 2025-W45 to 2025-W47) │" in quiet
    never = next(line for line in out.splitlines() if " Never " in line)
    assert "never (0 of 3 weeks, 2025-W45 to 2025-W47)" in never
    bad = runner.invoke(app, [*args, "--host", "https://bots.example.com"])
    assert bad.exit_code != 0 and "--host is for a real platform" in bad.output


def test_a_dry_runs_outcomes_name_the_week_they_would_send(tmp_path, hook, monkeypatch):
    monkeypatch.setenv("MM_TOKEN", TOKEN)
    out = tmp_path / "reports"
    write_reports(out)
    url = f"json://127.0.0.1:{hook.port}/ok"
    plan = delivery.load_plan(streams_toml(tmp_path, [url], [url]))
    outcomes = delivery.deliver(plan, out, {"st-a": WEEK, "st-b": WEEK}, dry_run=True,
                                echo=lambda text: None)  # fmt: skip
    assert [(o.streams, o.week, o.status) for o in outcomes] == [
        (("st-a",), WEEK, "dry-run"),
        (("st-b",), WEEK, "dry-run"),
    ]
    assert hook.requests == []


def test_the_delivery_summary_shows_a_long_destination_whole(tmp_path):
    from rich.console import Console

    long_url = "json://hooks.example.com/" + "k" * 120  # one word wider than the table
    plan = delivery.load_plan(streams_toml(tmp_path, [long_url], []))
    outcome = delivery.Outcome(("st-a",), WEEK, long_url, "report", "failed", "HTTP 500")
    console = Console(width=80, force_terminal=True, record=True)
    console.print(delivery.summary_table([outcome], plan))
    text = console.export_text()
    rows = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    destination = "".join(row[4].strip() for row in rows)
    assert destination == long_url, text  # folded over lines, not cut off with "…"
    assert rows[0][1].strip() == "Alpha Bot" and "…" not in text
