"""Delivery and alerts: real SMTP and HTTP servers on loopback, Apprise's own plugins.

The reports sent are built like the runner's (the sidecar of ``load_weekly`` on the demo
platform; a page carrying the report's charts through the report renderer), without a kernel.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engagement_kit import delivery, report
from engagement_kit.charts import renderer
from engagement_kit.cli import app
from engagement_kit.config.streams import load_streams
from engagement_kit.config.weeks import parse_iso_week
from engagement_kit.delivery import transport
from engagement_kit.delivery.rules import AlertRule, evaluate, parse_rules, rule_fires, simulate
from engagement_kit.errors import ConfigError
from engagement_kit.store import files as report_files
from tests.builders import REPO, free_port

WEEK = "2025-W47"
HR = ("st-demo-hr-us", "PeopleFirst HR Helpdesk (US)", "America/New_York")
IT = ("st-demo-it-de", "Servicedesk IT Bot (Berlin)", "Europe/Berlin")
SECRET = "s3cr3t-Pa$$word/with@signs"
TOKEN = "tok-9f8e7d6c5b4a"
runner = CliRunner()
HR_DIR = report_files.stream_slug(HR[1], HR[0])
IT_DIR = report_files.stream_slug(IT[1], IT[0])


# =============================================================================================
# Loopback servers
# =============================================================================================


class _Smtp:
    """aiosmtpd on loopback, AUTH allowed without TLS; keeps every message and login."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[bytes] = []
        self.logins: list[tuple[str, str]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(envelope.content)
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            outer.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password.decode() == SECRET)

        self.port = free_port()
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
        )
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class _Http:
    """A webhook endpoint on loopback: 200 for every path but ``/fail`` (500)."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.requests: list[tuple[str, bytes, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.path, body, self.headers.get("Content-Type", "")))
                self.send_response(500 if self.path.startswith("/fail") else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # HTTPS with a throw-away self-signed certificate
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    server = _Smtp()
    yield server
    server.stop()


@pytest.fixture
def hook():
    server = _Http()
    yield server
    server.stop()


@pytest.fixture
def tls_hook(tmp_path):
    """An HTTPS endpoint (services such as Teams' Workflows only speak https://)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a throw-away certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = _Http(tls=(cert, key))
    yield server
    server.stop()


# =============================================================================================
# Written reports, as the runner leaves them
# =============================================================================================


def _page(weekly) -> str:
    from engagement_kit import charts

    charts.setup_notebook(renderer="report")
    parts = [
        renderer.chart_mimebundle(chart.to_dict())["text/html"]
        for chart in (
            charts.trend_chart(weekly.current, title="Users per day"),
            charts.new_vs_returning_chart(weekly.current, title="New and returning users per day"),
            charts.peak_hours_heatmap(weekly.hourly, title="Average users by weekday and hour"),
        )
    ]
    # as the runner writes it into a reports folder: loading the folder's shared chart bundle
    shared = f"../{report.ASSETS_DIR}/{report.export.bundle_file_name()}"
    return (
        f'<!DOCTYPE html><html><head><script id="ek-vega-bundle" src="{shared}"></script>'
        "</head><body><main><h1>Report</h1>" + "".join(parts) + "</main></body></html>"
    )


def write_report(
    out: Path, stream: tuple[str, str, str], week: str = WEEK, client=None
) -> tuple[Path, Path]:
    weekly = report.load_weekly(stream[0], week, stream_name=stream[1], tz=stream[2], client=client)
    folder = out / report_files.stream_slug(stream[1], stream[0])
    folder.mkdir(parents=True, exist_ok=True)
    report.write_assets(out)
    html_path = report_files.atomic_write(folder / f"{week}.html", _page(weekly))
    json_path = report_files.atomic_write(folder / f"{week}.json", json.dumps(weekly.sidecar()))
    return html_path, json_path


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "streams.toml"
    path.write_text(text)
    return path


def one_stream(tmp_path: Path, stream: tuple[str, str, str], tables: str) -> Path:
    """A streams.toml with one stream and ``tables`` (its deliver/alert keys) after it."""
    head = f'[[stream]]\nid = "{stream[0]}"\nname = "{stream[1]}"\ntz = "{stream[2]}"\n'
    return toml(tmp_path, head + tables)


def streams_toml(
    tmp_path: Path, deliver_hr: list[str], deliver_it: list[str], extra: str = ""
) -> Path:
    def urls(items):
        return "[" + ", ".join(json.dumps(u) for u in items) + "]"

    return toml(
        tmp_path,
        f"""
[defaults]
link = "https://intranet.example.com/engagement"
{extra}

[[stream]]
id = "{HR[0]}"
name = "{HR[1]}"
tz = "{HR[2]}"
deliver = {urls(deliver_hr)}

[[stream]]
id = "{IT[0]}"
name = "{IT[1]}"
tz = "{IT[2]}"
deliver = {urls(deliver_it)}
""",
    )


ENV = {"SMTP_PASSWORD": SECRET, "MM_TOKEN": TOKEN}


def mail_url(smtp: _Smtp) -> str:
    return (
        f"mailto://reports:${{SMTP_PASSWORD}}@127.0.0.1:{smtp.port}"
        "?mode=insecure&from=reports@example.com&to=team@example.com"
    )


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)  # where send_with_retry reads it


# =============================================================================================
# Email over real SMTP
# =============================================================================================


class _Table(HTMLParser):
    """Cells of each ``<tr data-kpi=...>`` row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._kpi: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-kpi" in attrs:
            self._kpi = attrs["data-kpi"]
            self.rows[self._kpi] = []
        elif tag in ("td", "th") and self._kpi:
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._kpi:
            self.rows[self._kpi].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._kpi = None


def _is_png(data: bytes) -> bool:
    import struct
    import zlib

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            return False
        chunks.append(kind)
        pos += 12 + length
    return chunks[0] == b"IHDR" and chunks[-1] == b"IEND"


@pytest.mark.slow
def test_email_arrives_with_kpis_inline_charts_and_the_report(out, tmp_path, smtp, no_wait):
    plan = delivery.load_plan(streams_toml(tmp_path, [mail_url(smtp)], []))
    outcomes = delivery.deliver(plan, out, {HR[0]: WEEK}, env=ENV)
    assert [o.status for o in outcomes] == ["sent"], outcomes
    assert smtp.logins == [("reports", SECRET)]  # the ${SMTP_PASSWORD} reference was used
    assert len(smtp.messages) == 1
    raw = smtp.messages[0]
    assert SECRET.encode() not in raw and b"SMTP_PASSWORD" not in raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    sidecar = json.loads((out / HR_DIR / f"{WEEK}.json").read_text())
    assert msg["Subject"].startswith(f"Weekly report: {HR[1]}, {WEEK}: ")
    assert f"{sidecar['kpis']['unique_users']:,} users" in msg["Subject"]

    html_body = next(
        p for p in msg.walk() if p.get_content_type() == "text/html" and not p.get_filename()
    )
    body = html_body.get_content()
    assert "<script" not in body.lower()
    table = _Table()
    table.feed(body)
    for kpi in ("unique_users", "new_users", "returning_users"):
        _label, this_week, before, change = table.rows[kpi]
        assert int(this_week.replace(",", "")) == sidecar["kpis"][kpi]
        assert int(before.replace(",", "")) == sidecar["previous_kpis"][kpi]
        pct = sidecar["change"][kpi]["pct_change"]
        relative = change.split("(")[1].rstrip(")")  # "+60 (+9.2 %)"
        assert float(relative.replace("−", "-").rstrip(" %")) == pytest.approx(pct * 100, abs=0.05)
    share = table.rows["returning_share"][1]
    assert float(share.rstrip(" %")) == pytest.approx(
        sidecar["kpis"]["returning_share"] * 100, abs=0.05
    )

    refs = re.findall(r'src="cid:([^"]+)"', body)
    assert len(refs) == 2 and all(r.endswith(".png") for r in refs)
    images = {
        p["Content-ID"].strip("<>"): p for p in msg.walk() if p.get_content_type() == "image/png"
    }
    assert set(refs) == set(images)
    for part in images.values():
        assert _is_png(part.get_content())

    attached = [p for p in msg.walk() if p.get_filename() and p.get_content_type() == "text/html"]
    assert len(attached) == 1
    assert attached[0].get_content_disposition() == "attachment"
    # the page as one file: the reports folder's shared chart libraries inlined
    page_path = out / HR_DIR / f"{WEEK}.html"
    page = report.inline_assets(page_path.read_text(encoding="utf-8"), page_path)
    assert attached[0].get_payload(decode=True).decode() == page
    assert "window.vegaEmbed=" in page and "_assets/" not in page
    assert f"https://intranet.example.com/engagement/{HR_DIR}/2025-W47.html" in body


# =============================================================================================
# Webhooks and chat over real HTTP
# =============================================================================================


@pytest.mark.slow
def test_json_webhook_gets_the_sidecar_and_chat_gets_a_short_message(out, tmp_path, hook, no_wait):
    json_url = f"json://127.0.0.1:{hook.port}/engagement"
    chat_url = f"mmost://127.0.0.1:{hook.port}/${{MM_TOKEN}}"
    form_url = f"form://127.0.0.1:{hook.port}/form"
    plan = delivery.load_plan(streams_toml(tmp_path, [json_url, chat_url, form_url], []))
    outcomes = delivery.deliver(plan, out, {HR[0]: WEEK}, env=ENV)
    assert [o.status for o in outcomes] == ["sent"] * 3, outcomes
    by_path = {p: (b, t) for p, b, t in hook.requests}
    sidecar = json.loads((out / HR_DIR / f"{WEEK}.json").read_text())

    envelope = json.loads(by_path["/engagement"][0])
    assert json.loads(envelope["message"]) == sidecar

    chat = json.loads(by_path[f"/hooks/{TOKEN}"][0])["text"]  # Mattermost's webhook path
    assert f"{sidecar['kpis']['unique_users']:,}" in chat
    for label in ("Unique users", "New users", "Returning users"):
        assert label in chat
    assert "https://intranet.example.com/engagement/" in chat
    assert len(chat) < 1000

    form = by_path["/form"][0].decode()
    assert "Returning+users" in form or "Returning users" in form

    # no secret in what we show or keep
    for o in outcomes:
        assert TOKEN not in o.destination + o.detail
    record = (out / HR_DIR / f"{WEEK}.delivery.json").read_text()
    assert TOKEN not in record and "${MM_TOKEN}" in record


@pytest.mark.slow
def test_rerun_sends_nothing_until_resend(out, tmp_path, hook, no_wait):
    plan = delivery.load_plan(
        streams_toml(
            tmp_path, [f"json://127.0.0.1:{hook.port}/a"], [f"json://127.0.0.1:{hook.port}/b"]
        )
    )
    weeks = {HR[0]: WEEK, IT[0]: WEEK}
    first = delivery.deliver(plan, out, weeks, env=ENV)
    assert sorted(o.status for o in first) == ["sent", "sent"] and len(hook.requests) == 2
    again = delivery.deliver(plan, out, weeks, env=ENV)
    assert [o.status for o in again] == ["skipped", "skipped"] and len(hook.requests) == 2
    forced = delivery.deliver(plan, out, weeks, env=ENV, resend=True)
    assert [o.status for o in forced] == ["sent", "sent"] and len(hook.requests) == 4
    # new numbers for a sent week (a re-run after the platform corrected a day): still not
    # sent again by itself, but the summary says so
    sidecar_path = out / HR_DIR / f"{WEEK}.json"
    sidecar = json.loads(sidecar_path.read_text())
    sidecar["kpis"]["unique_users"] += 1
    sidecar_path.write_text(json.dumps(sidecar))
    changed = delivery.deliver(plan, out, weeks, env=ENV)
    assert [o.status for o in changed] == ["skipped", "skipped"] and len(hook.requests) == 4
    assert "numbers changed since" in changed[0].detail
    assert "numbers changed" not in changed[1].detail


@pytest.mark.slow
def test_one_failing_destination_does_not_block_the_others(
    out, tmp_path, hook, no_wait, monkeypatch
):
    good = f"json://127.0.0.1:{hook.port}/ok"
    bad = f"json://127.0.0.1:{hook.port}/fail"
    path = streams_toml(tmp_path, [bad, good], [good])
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["send", "--config", str(path), "--week", WEEK, "--out-dir", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert hook.paths().count("/fail") == delivery.ATTEMPTS  # retried, then given up
    assert hook.paths().count("/ok") == 2  # both streams reached the good endpoint
    record = json.loads((out / HR_DIR / f"{WEEK}.delivery.json").read_text())
    status = {e["destination"]: e["status"] for e in record["deliveries"]}
    assert status == {bad: "failed", good: "sent"}
    index = (out / "index.html").read_text()
    assert "report to " + bad + ": failed" in index
    # a rerun retries only the failed destination
    result = runner.invoke(
        app, ["send", "--config", str(path), "--week", WEEK, "--out-dir", str(out)]
    )
    assert result.exit_code == 1 and hook.paths().count("/ok") == 2


@pytest.mark.slow
def test_dry_run_sends_nothing_writes_the_eml_and_masks_secrets(
    out, tmp_path, smtp, hook, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("MM_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    path = streams_toml(
        tmp_path, [mail_url(smtp), f"mmost://127.0.0.1:{hook.port}/${{MM_TOKEN}}"], []
    )
    result = runner.invoke(
        app,
        [
            "send",
            "--config",
            str(path),
            "--week",
            WEEK,
            "--out-dir",
            str(out),
            "--dry-run",
            "--stream",
            HR[0],
        ],
    )
    assert result.exit_code == 0, result.output
    assert smtp.messages == [] and hook.requests == []
    assert SECRET not in result.output and TOKEN not in result.output
    assert "${MM_TOKEN}" in result.output.replace("\n", "")
    eml = out / HR_DIR / f"{WEEK}.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("Weekly report: ")
    assert (msg["From"], msg["To"]) == ("reports@example.com", "team@example.com")
    assert SECRET.encode() not in eml.read_bytes()
    cids = {p["Content-ID"] for p in msg.walk() if p.get_content_type() == "image/png"}
    assert len(cids) == 2
    (page,) = [p for p in msg.walk() if p.get_filename() and p.get_content_type() == "text/html"]
    page_text = page.get_payload(decode=True).decode()
    assert "window.vegaEmbed=" in page_text and "_assets/" not in page_text  # one file
    # nothing recorded: a real run still sends
    with delivery.Ledger() as ledger:
        assert ledger.sent(HR[0], WEEK, mail_url(smtp), "report") is None


# =============================================================================================
# Settings
# =============================================================================================


def test_streams_toml_with_delivery_keys_still_loads_as_streams(tmp_path):
    path = streams_toml(
        tmp_path,
        ["json://127.0.0.1:9/x"],
        [],
        extra='deliver = ["json://127.0.0.1:9/default"]\ndigest = true',
    )
    assert [s.id for s in load_streams(path)] == [HR[0], IT[0]]
    plan = delivery.load_plan(path)
    assert plan.digest is True
    assert [d.template for d in plan.stream(HR[0]).deliver] == ["json://127.0.0.1:9/x"]
    assert plan.stream(IT[0]).deliver == ()  # its own empty list wins over [defaults]


def test_defaults_apply_to_streams_without_their_own(tmp_path):
    path = toml(
        tmp_path,
        f"""
[defaults]
deliver = ["json://127.0.0.1:9/default"]
[[defaults.alert]]
name = "Drop"
kpi = "unique_users"
rule = "change_below"
value = "-20%"

[[stream]]
id = "{HR[0]}"
name = "{HR[1]}"
tz = "{HR[2]}"
""",
    )
    plan = delivery.load_plan(path)
    stream = plan.stream(HR[0])
    assert [d.template for d in stream.deliver] == ["json://127.0.0.1:9/default"]
    assert [r.name for r in stream.alerts] == ["Drop"]


@pytest.mark.parametrize(
    ("snippet", "needle"),
    [
        ('deliver = ["mailtos://me:hunter22@smtp.example.com"]', "password is written in the file"),
        ('deliver = ["not a url"]', "is not an Apprise URL"),
        (
            'deliver = ["mailtos://smtp.example.com?user=me&pass=hunter22"]',
            "pass= value is written",
        ),
        ('deliver = ["msteams://a/b/c"]', "use workflows://"),
        ('deliver = ["smtp://host"]', "Apprise has no smtp:// service"),
        ("colour = 1", "unknown key(s) colour"),
        ("digest = 1", "digest must be true or false"),
        (
            '[[defaults.alert]]\nname = "x"\nkpi = "users"\nrule = "above"\nvalue = 1',
            "'users' is not a KPI",
        ),
        (
            '[[defaults.alert]]\nname = "x"\nkpi = "new_users"\nrule = "above"\nvalue = "lots"',
            "not a number",
        ),
        ('[[defaults.alert]]\nname = "x"\nkpi = "new_users"\nrule = "rises"\nvalue = 1', "rule"),
        ('[[defaults.alert]]\nname = "x"\nkpi = "new_users"\nrule = "above"', "value: missing"),
    ],
)
def test_bad_delivery_settings_name_the_problem(tmp_path, snippet, needle):
    path = toml(
        tmp_path, f'[defaults]\n{snippet}\n\n[[stream]]\nid = "{HR[0]}"\nname = "x"\ntz = "UTC"\n'
    )
    with pytest.raises(ConfigError) as exc:
        delivery.load_plan(path)
    assert needle in str(exc.value)
    assert "hunter22" not in str(exc.value)


def test_references_resolve_from_the_environment_quoted_in_the_password():
    dest = delivery.Destination("mailtos://u:${SMTP_PASSWORD}@smtp.example.com/?to=a@b.c")
    url = dest.resolve({"SMTP_PASSWORD": "p@ss/word"})
    assert "u:p%40ss%2Fword@smtp.example.com" in url and url.endswith("inline=yes")
    with pytest.raises(ConfigError, match=r"\$\{SMTP_PASSWORD\} is not set"):
        dest.resolve({})
    assert delivery.mask("failed at u:p%40ss%2Fword@", {"SMTP_PASSWORD": "p@ss/word"}, [dest]) == (
        "failed at u:***@"
    )


def test_send_without_destinations_says_how_to_add_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = streams_toml(tmp_path, [], [])
    result = runner.invoke(app, ["send", "--config", str(path), "--week", WEEK])
    assert result.exit_code == 2 and "deliver" in result.output


def test_send_with_an_unset_variable_fails_before_sending(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    path = streams_toml(tmp_path, ["mailtos://u:${SMTP_PASSWORD}@smtp.example.com"], [])
    result = runner.invoke(app, ["send", "--config", str(path), "--week", WEEK])
    assert result.exit_code == 2
    assert "SMTP_PASSWORD} is not set" in " ".join(result.output.split())


# =============================================================================================
# Alert rules
# =============================================================================================

SIDECAR = {
    "week": "2025-W10",
    "kpis": {"unique_users": 800, "returning_share": 0.45, "new_users": 100},
    "previous_kpis": {"unique_users": 1000, "returning_share": 0.40, "new_users": 0},
    "change": {
        "unique_users": {"change": -200, "pct_change": -0.2},
        "returning_share": {"change": 0.05, "pct_change": 0.125},
        "new_users": {"change": 100, "pct_change": None},
    },
    "anomalies": [{"date": "2025-03-05", "metric": "new", "direction": "up"}],
}


def rule(**kw) -> AlertRule:
    return AlertRule(name=kw.pop("name", "r"), **kw)


@pytest.mark.parametrize(
    ("kw", "fires"),
    [
        ({"kpi": "unique_users", "rule": "above", "value": 799}, True),
        ({"kpi": "unique_users", "rule": "above", "value": 800}, False),  # strict
        ({"kpi": "unique_users", "rule": "below", "value": "1000"}, True),
        ({"kpi": "returning_share", "rule": "above", "value": "40%"}, True),
        ({"kpi": "returning_share", "rule": "above", "value": "50%"}, False),
        ({"kpi": "unique_users", "rule": "change_below", "value": "-15%"}, True),
        ({"kpi": "unique_users", "rule": "change_below", "value": "-20%"}, False),
        ({"kpi": "unique_users", "rule": "change_below", "value": -150}, True),  # absolute
        ({"kpi": "unique_users", "rule": "change_above", "value": "10%"}, False),
        ({"kpi": "new_users", "rule": "change_above", "value": "10%"}, False),  # no % from 0
        ({"kpi": "new_users", "rule": "change_above", "value": 50}, True),
        ({"kpi": "new_users", "rule": "anomaly"}, True),
        ({"kpi": "unique_users", "rule": "anomaly"}, False),
        ({"rule": "anomaly"}, True),
    ],
)
def test_rules_compare_as_documented(kw, fires):
    assert (rule_fires(rule(**kw), SIDECAR) is not None) is fires


def test_cooldown_holds_a_rule_back_for_the_given_weeks():
    r = rule(name="big", kpi="unique_users", rule="above", value=1, cooldown_weeks=2)
    weeks = [{**SIDECAR, "week": f"2025-W{n:02d}"} for n in range(1, 8)]
    assert simulate([r], weeks) == {"big": ["2025-W01", "2025-W04", "2025-W07"]}
    (e,) = evaluate([r], {**SIDECAR, "week": "2025-W03"}, {"big": "2025-W01"})
    assert e.alert is not None and e.suppressed and not e.fired
    (e,) = evaluate([r], {**SIDECAR, "week": "2025-W04"}, {"big": "2025-W01"})
    assert e.fired


def test_alerts_go_into_the_sidecar_the_page_and_the_ledger_with_cooldown(tmp_path):
    path = one_stream(
        tmp_path,
        HR,
        """
[[stream.alert]]
name = "Any users"
kpi = "unique_users"
rule = "above"
value = 0
cooldown_weeks = 1
""",
    )
    plan = delivery.load_plan(path)
    out = tmp_path / "reports"
    fired = {}
    with delivery.Ledger(tmp_path / "ledger.sqlite3") as ledger:
        for week in ("2025-W45", "2025-W46", "2025-W47"):
            html_path, json_path = write_report(out, HR, week)
            fired[week] = delivery.apply_alerts(plan, [(HR[0], html_path, json_path)], ledger)[
                (HR[0], week)
            ]
        # evaluating a week again replaces its record (no double count)
        again = delivery.apply_alerts(plan, [(HR[0], html_path, json_path)], ledger)
    assert [len(fired[w]) for w in ("2025-W45", "2025-W46", "2025-W47")] == [1, 0, 1]
    assert again[(HR[0], "2025-W47")] == fired["2025-W47"]
    sidecar = json.loads(json_path.read_text())
    assert sidecar["alerts"][0]["name"] == "Any users"
    page = html_path.read_text()
    assert page.count('class="ek-alerts"') == 1
    assert page.index('class="ek-alerts"') < page.index("<h1>Report</h1>")
    report.write_index(out)
    assert "Alert: Any users: Unique users" in (out / "index.html").read_text()


def test_backtest_on_the_demo_finds_the_weeks_a_hand_computation_finds(tmp_path):
    from engagement_kit.demo import demo_client

    path = one_stream(
        tmp_path,
        HR,
        """
[[stream.alert]]
name = "Drop"
kpi = "unique_users"
rule = "change_below"
value = "-3%"
[[stream.alert]]
name = "Busy"
kpi = "unique_users"
rule = "above"
value = 560
cooldown_weeks = 1
""",
    )
    plan = delivery.load_plan(path)
    with demo_client() as client:
        rows = delivery.backtest(plan, 12, end_week=WEEK, client=client)
        weeks = client.fetch_weeks(HR[0], 13, end_week=WEEK, tz=HR[2])
    users = dict(zip(weeks["week"].astype(str), weeks["unique_users"].astype(int), strict=True))
    labels = list(users)[1:]
    drop = [
        w
        for prev, w in zip(list(users), labels, strict=False)
        if (users[w] - users[prev]) / users[prev] < -0.03
    ]
    busy, last = [], None
    for w in labels:
        if users[w] > 560 and (last is None or labels.index(w) - labels.index(last) > 1):
            busy.append(w)
            last = w
    found = {r["rule"]: r["fired"] for r in rows}
    assert rows[0]["weeks"] == labels
    assert found == {"Drop": drop, "Busy": busy}
    assert drop and busy  # the demo data makes both rules fire at least once


def test_backtest_command_prints_each_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = one_stream(
        tmp_path,
        IT,
        """
[[stream.alert]]
name = "Quiet"
kpi = "unique_users"
rule = "below"
value = 1000000
""",
    )
    result = runner.invoke(
        app, ["alerts", "--config", str(path), "--demo", "--backtest", "3", "--week", WEEK]
    )
    assert result.exit_code == 0, result.output
    print(result.output)
    assert "Quiet" in result.output and "(3 of 3" in result.output


def test_parse_rules_rejects_duplicate_names():
    with pytest.raises(ConfigError, match="already named"):
        parse_rules([{"name": "a", "rule": "anomaly"}, {"name": "a", "rule": "anomaly"}], where="f")


def test_the_week_key_orders_weeks_across_years():
    assert parse_iso_week("2024-W52") < parse_iso_week("2025-W01")


# =============================================================================================
# Digest, and the report command's hook
# =============================================================================================


@pytest.mark.slow
def test_digest_sends_one_message_per_destination_for_all_streams(
    out, tmp_path, hook, smtp, no_wait
):
    url = f"json://127.0.0.1:{hook.port}/digest"
    path = streams_toml(
        tmp_path, [url, mail_url(smtp)], [url, mail_url(smtp)], extra="digest = true"
    )
    plan = delivery.load_plan(path)
    outcomes = delivery.deliver(plan, out, {HR[0]: WEEK, IT[0]: WEEK}, env=ENV)
    assert [(o.kind, o.status, len(o.streams)) for o in outcomes] == [("digest", "sent", 2)] * 2
    (body,) = [b for p, b, _ in hook.requests]
    payload = json.loads(json.loads(body)["message"])
    assert [r["stream_id"] for r in payload["reports"]] == [HR[0], IT[0]]
    (raw,) = smtp.messages
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert "2 streams" in msg["Subject"]
    # the portfolio digest: one table, links to the reports, no charts or pages attached
    assert [p for p in msg.walk() if p.get_content_type() == "image/png"] == []
    html_part = msg.get_body(("html",)).get_content()
    assert html_part.count("<tr data-slug=") == 2 and "do not add up across bots" in html_part
    again = delivery.deliver(plan, out, {HR[0]: WEEK, IT[0]: WEEK}, env=ENV)
    assert [o.status for o in again] == ["skipped", "skipped"] and len(hook.requests) == 1


@pytest.mark.slow
def test_report_hook_applies_alerts_and_sends_them_as_their_own_message(
    out, tmp_path, hook, no_wait
):
    from rich.console import Console

    report_url = f"json://127.0.0.1:{hook.port}/report"
    alert_url = f"json://127.0.0.1:{hook.port}/alerts"
    path = streams_toml(
        tmp_path,
        [report_url],
        [report_url],
        extra=(
            '[[defaults.alert]]\nname = "Any users"\nkpi = "unique_users"\nrule = "above"\n'
            f'value = 0\ndeliver = ["{alert_url}"]'
        ),
    )
    plan = delivery.load_plan(path)
    results = [
        report.ReportResult(
            stream_id=s[0],
            stream_name=s[1],
            slug=report_files.stream_slug(s[1], s[0]),
            week=WEEK,
            status="written",
            html=out / report_files.stream_slug(s[1], s[0]) / f"{WEEK}.html",
            json=out / report_files.stream_slug(s[1], s[0]) / f"{WEEK}.json",
        )
        for s in (HR, IT)
    ]
    console = Console(record=True, width=200)
    code = delivery.after_reports(
        results, plan, out, send=True, dry_run=False, resend=False, console=console
    )
    assert code == 0
    assert sorted(hook.paths()) == ["/alerts", "/alerts", "/report", "/report"]
    alert_bodies = [json.loads(b)["message"] for p, b, _ in hook.requests if p == "/alerts"]
    assert all(m.startswith("! Any users: Unique users") for m in alert_bodies)
    sidecar = json.loads((out / HR_DIR / f"{WEEK}.json").read_text())
    assert [a["name"] for a in sidecar["alerts"]] == ["Any users"]
    # the report command refuses to send a week twice
    code = delivery.after_reports(
        results, plan, out, send=True, dry_run=False, resend=False, console=console
    )
    assert code == 0 and len(hook.requests) == 4
    assert "skipped" in console.export_text()


@pytest.mark.slow
def test_report_send_end_to_end_writes_alerts_into_the_page_and_delivers(
    tmp_path, hook, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    url = f"json://127.0.0.1:{hook.port}/e2e"
    path = one_stream(
        tmp_path,
        IT,
        f"""
deliver = ["{url}"]
[[stream.alert]]
name = "Some users"
kpi = "unique_users"
rule = "above"
value = 1
""",
    )
    out = tmp_path / "reports"
    args = ["report", "--demo", "--config", str(path), "--week", WEEK, "--out-dir", str(out)]
    result = runner.invoke(app, [*args, "--jobs", "1", "--send"])
    assert result.exit_code == 0, result.output
    assert hook.paths() == ["/e2e", "/e2e"]  # the report, then the alert
    page = (out / IT_DIR / f"{WEEK}.html").read_text()
    assert "Alerts this week (1)" in page
    assert "Alert: Some users" in (out / "index.html").read_text()


def test_the_readme_streams_toml_example_is_valid(tmp_path):
    section = (REPO / "docs" / "delivery.md").read_text()
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    plan = delivery.load_plan(toml(tmp_path, example))
    retail, hr = plan.streams
    assert [d.kind for d in retail.deliver] == ["email", "chat", "json"]
    assert [r.name for r in retail.alerts] == ["Returning share low", "Unusual days"]
    assert [d.kind for d in hr.deliver] == ["email"] and [r.name for r in hr.alerts] == [
        "Users dropped"
    ]
    assert hr.config.conversation_status == "closed"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_teams_workflows_plugin_posts_the_short_message_to_a_loopback_host(out, tmp_path, tls_hook):
    """Apprise's Teams plugin (workflows://) takes a host, so it can be pointed at loopback
    (Slack's plugin cannot: it always posts to hooks.slack.com; Mattermost's Slack-style
    webhook stands in for it above)."""
    url = f"workflows://127.0.0.1:{tls_hook.port}/wf42/${{MM_TOKEN}}?verify=no"
    plan = delivery.load_plan(streams_toml(tmp_path, [url], []))
    outcomes = delivery.deliver(plan, out, {HR[0]: WEEK}, env=ENV)
    assert [o.status for o in outcomes] == ["sent"], outcomes
    ((path, body, _),) = tls_hook.requests
    assert path.startswith("/workflows/wf42/triggers/manual/paths/invoke?")
    assert f"sig={TOKEN}" in path  # the signature came from the environment
    card = json.loads(body)["attachments"][0]["content"]
    assert "github.com" not in json.dumps(card)  # no icon from the internet
    texts = "\n".join(str(item.get("text", "")) for item in card["body"])
    text = re.sub(r"\\(.)", r"\1", texts)  # the card's markdown escapes
    assert "Unique users" in text and "Full report: https://intranet.example.com" in text
    assert TOKEN not in outcomes[0].destination + outcomes[0].detail


def test_apprise_log_lines_stay_out_of_our_logs(caplog):
    import logging

    with caplog.at_level(logging.DEBUG), transport.quiet_apprise():
        logging.getLogger("apprise").warning("Login ID: reports %s", SECRET)
    assert SECRET not in caplog.text
    assert logging.getLogger("apprise").propagate is True  # restored


# -- Tests that close the gaps mutation testing found in engagement_kit.delivery (see

WEEK_2 = "2025-W47"
STREAMS = (("st-a", "Alpha Bot"), ("st-b", "Beta Bot"))
TOKEN_2 = "tok-9f8e7d6c5b4a"
runner_2 = CliRunner()

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
def hook_2(monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)  # where send_with_retry reads it
    server = Hook()
    yield server
    server.server.shutdown()
    server.server.server_close()


def sidecar(stream_id: str, name: str, users: int = 1200, alerts=()) -> dict:
    return {
        "stream_id": stream_id,
        "stream_name": name,
        "week": WEEK_2,
        "start": "2025-11-17",
        "end": "2025-11-23",
        "tz": "UTC",
        "kpis": {"unique_users": users, "new_users": 200, "returning_users": users - 200},
        "previous_kpis": {"unique_users": round(users / 1.1)},
        "change": {"unique_users": {"change": users - round(users / 1.1), "pct_change": 0.1}},
        "checks": [],
        "anomalies": [],
        "alerts": list(alerts),
    }


def write_reports(out: Path, **alerts) -> None:
    """Reports in the folders of earlier versions (``alpha-bot/``): still found and sent."""
    for stream_id, name in STREAMS:
        folder = out / name.lower().replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        data = sidecar(stream_id, name, alerts=alerts.get(stream_id, ()))
        (folder / f"{WEEK_2}.json").write_text(json.dumps(data))
        (folder / f"{WEEK_2}.html").write_text(PAGE)


def streams_toml_2(tmp_path: Path, a: list[str], b: list[str], extra: str = "") -> Path:
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
    return runner_2.invoke(
        app, ["send", "--config", str(path), "--week", WEEK_2, "--out-dir", str(out), *args]
    )


def test_send_delivers_records_skips_and_resends(tmp_path, hook_2, monkeypatch):
    monkeypatch.setenv("MM_TOKEN", TOKEN_2)
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "reports"
    write_reports(out)
    ok = f"json://127.0.0.1:{hook_2.port}/ok"
    bad = f"json://127.0.0.1:{hook_2.port}/fail"
    chat = f"mmost://127.0.0.1:{hook_2.port}/${{MM_TOKEN}}"
    path = streams_toml_2(tmp_path, [ok, chat], [bad])

    result = send(path, out)
    assert result.exit_code == 1, result.output  # one destination failed
    assert hook_2.paths().count("/fail") == delivery.ATTEMPTS
    bodies = {p: b for p, b in hook_2.requests}
    envelope = json.loads(bodies["/ok"])
    assert json.loads(envelope["message"]) == sidecar("st-a", "Alpha Bot")
    assert envelope["title"] == "Weekly report: Alpha Bot, 2025-W47: 1,200 users (+10.0 %)"
    text = json.loads(bodies[f"/hooks/{TOKEN_2}"])["text"]
    assert "Alpha Bot, 2025-W47: 1,200 unique users this week, up 10.0 % from 1,091" in text
    assert "Full report: https://intranet.example.com/engagement/alpha-bot/2025-W47.html" in text
    # the summary table: stream names, statuses, the failure with its attempts; no secret
    output = result.output
    assert "Delivery" in output and TOKEN_2 not in output
    for word in ("stream", "week", "kind", "destination", "status", "detail"):
        assert word in output
    assert "Alpha Bot" in output and "Beta Bot" in output
    assert output.count(" sent ") + output.count(" sent\n") >= 2
    assert "(after 3 attempts)" in output
    record = json.loads((out / "alpha-bot" / f"{WEEK_2}.delivery.json").read_text())
    assert record["stream_id"] == "st-a" and record["week"] == WEEK_2
    status = {(e["destination"], e["kind"]): e["status"] for e in record["deliveries"]}
    assert status == {(ok, "report"): "sent", (chat, "report"): "sent"}
    assert all(e["at"] for e in record["deliveries"])
    failed = json.loads((out / "beta-bot" / f"{WEEK_2}.delivery.json").read_text())
    (entry,) = failed["deliveries"]
    assert (entry["destination"], entry["status"]) == (bad, "failed")
    assert entry["detail"].endswith("(after 3 attempts)")
    assert f"report to {bad}: failed" in (out / "index.html").read_text()

    # again: what was sent is skipped (and the record keeps it as sent); the failure is retried
    hook_2.requests.clear()
    again = delivery.deliver(delivery.load_plan(path), out, {"st-a": WEEK_2, "st-b": WEEK_2})
    assert [(o.streams, o.status) for o in again] == [
        (("st-a",), "skipped"),
        (("st-a",), "skipped"),
        (("st-b",), "failed"),
    ]
    assert again[0].detail.startswith("already sent 20")
    assert "numbers changed" not in again[0].detail
    assert hook_2.paths() == ["/fail"] * delivery.ATTEMPTS
    record = json.loads((out / "alpha-bot" / f"{WEEK_2}.delivery.json").read_text())
    assert {e["status"] for e in record["deliveries"]} == {"sent"}

    # new numbers: still not sent by itself, but the summary says so; --resend sends them
    changed = sidecar("st-a", "Alpha Bot", users=1300)
    (out / "alpha-bot" / f"{WEEK_2}.json").write_text(json.dumps(changed))
    plan = delivery.load_plan(streams_toml_2(tmp_path, [ok], []))
    (skipped,) = delivery.deliver(plan, out, {"st-a": WEEK_2})
    assert skipped.status == "skipped" and "the report's numbers changed since" in skipped.detail
    hook_2.requests.clear()
    (sent,) = delivery.deliver(plan, out, {"st-a": WEEK_2}, resend=True)
    assert sent.status == "sent" and sent.kind == "report" and sent.week == WEEK_2
    assert sent.destination == ok
    assert sent.detail == "Weekly report: Alpha Bot, 2025-W47: 1,300 users (+10.0 %)"
    assert json.loads(json.loads(hook_2.requests[0][1])["message"])["kpis"]["unique_users"] == 1300
    assert report.exit_code([sent, skipped]) == 0
    assert report.exit_code([sent, again[2]]) == 1
    assert report.exit_code([], nothing_done=0) == 0  # nothing to send is no failure


def test_a_digest_is_one_message_per_destination_and_alerts_go_on_their_own(tmp_path, hook_2):
    out = tmp_path / "reports"
    write_reports(out)  # written before the rule: send evaluates the rules in force
    ok = f"json://127.0.0.1:{hook_2.port}/ok"
    alerts = f"json://127.0.0.1:{hook_2.port}/alerts"
    path = streams_toml_2(
        tmp_path,
        [ok],
        [ok],
        extra="digest = true\n",
    )
    path.write_text(
        path.read_text()
        + '[[stream.alert]]\nname = "drop"\nkpi = "new_users"\nrule = "below"\nvalue = "300"\n'
        + f'deliver = ["{alerts}"]\n'
    )
    said: list[str] = []
    outcomes = delivery.deliver(
        delivery.load_plan(path), out, {"st-a": WEEK_2, "st-b": WEEK_2}, echo=said.append
    )
    assert [(o.kind, o.streams, o.status) for o in outcomes] == [
        ("digest", ("st-a", "st-b"), "sent"),
        ("alerts", ("st-b",), "sent"),
    ]
    bodies = dict(hook_2.requests)
    digest = json.loads(json.loads(bodies["/ok"])["message"])
    assert [r["stream_id"] for r in digest["reports"]] == ["st-a", "st-b"]
    alert = json.loads(bodies["/alerts"])
    assert alert["title"] == "Alert: Beta Bot, 2025-W47"
    assert alert["message"].startswith("! drop: New users 200; rule: new users below 300\nFull")
    assert said == [
        "alerts st-b 2025-W47: the rules in force fire drop; the page showed none (rules "
        "changed since the report was written; the page's banner is updated)"
    ]
    stored = json.loads((out / "beta-bot" / f"{WEEK_2}.json").read_text())
    assert [a["name"] for a in stored["alerts"]] == ["drop"]
    assert "drop: New users 200" in (out / "beta-bot" / f"{WEEK_2}.html").read_text()
    # a second run: both skipped, the alert not again either
    again = delivery.deliver(delivery.load_plan(path), out, {"st-a": WEEK_2, "st-b": WEEK_2})
    assert [o.status for o in again] == ["skipped", "skipped"]


def test_dry_run_prints_instead_of_sending_and_writes_the_email(tmp_path, hook_2, monkeypatch):
    monkeypatch.setenv("MM_TOKEN", TOKEN_2)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    out = tmp_path / "reports"
    write_reports(out)
    mail = (
        "mailto://reports:${SMTP_PASSWORD}@127.0.0.1:2525"
        "?mode=insecure&from=reports@example.com&to=team@example.com"
    )
    chat = f"mmost://127.0.0.1:{hook_2.port}/${{MM_TOKEN}}"
    path = streams_toml_2(tmp_path, [mail, chat], [])
    monkeypatch.setenv("COLUMNS", "300")
    result = send(path, out, "--dry-run", "--stream", "st-a")
    assert result.exit_code == 0, result.output
    assert hook_2.requests == []
    output = " ".join(result.output.split())
    assert "would send report 'Weekly report: Alpha Bot, 2025-W47: 1,200 users (+10.0 %)'" in output
    assert "(a referenced variable is not set: it would fail)" in output
    eml = out / "alpha-bot" / f"{WEEK_2}.eml"
    assert f"email written to {eml}" in output
    # the chat message's body is shown, indented; the token is not
    assert "\n    - Unique users: 1,200, +109 (+10.0 %) from 1,091" in result.output
    assert TOKEN_2 not in result.output and "${MM_TOKEN}" in output
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert (msg["From"], msg["To"]) == ("reports@example.com", "team@example.com")
    assert not (out / "alpha-bot" / f"{WEEK_2}.delivery.json").exists()
    with delivery.Ledger() as ledger:
        assert ledger.sent("st-a", WEEK_2, chat, "report") is None


def test_a_missing_report_fails_with_what_to_run(tmp_path, hook_2):
    out = tmp_path / "reports"
    write_reports(out)
    (out / "beta-bot" / f"{WEEK_2}.html").unlink()
    (out / "alpha-bot" / f"{WEEK_2}.json").write_text("{not json")
    ok = f"json://127.0.0.1:{hook_2.port}/ok"
    plan = delivery.load_plan(streams_toml_2(tmp_path, [ok], [ok]))
    outcomes = delivery.deliver(plan, out, {"st-a": WEEK_2, "st-b": WEEK_2, "st-unknown": WEEK_2})
    assert [(o.streams, o.status, o.destination) for o in outcomes] == [
        (("st-a",), "failed", "-"),
        (("st-b",), "failed", "-"),
    ]
    assert "alpha-bot" in outcomes[0].detail and "unreadable" in outcomes[0].detail
    assert outcomes[1].detail == (
        f"no report for {WEEK_2} in {out / report_files.stream_slug('Beta Bot', 'st-b')}; run "
        "engagement-kit report first"
    )
    assert hook_2.requests == []


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
    result = runner_2.invoke(app, ["alerts", "--config", str(alert_toml(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("Alert rules" in line for line in lines)
    # not a terminal: one plain line per row (nothing wraps it into a log)
    head = next(line for line in lines if "fires when" in line)
    assert head.split("  ") == ["stream", "rule", "fires when", "cooldown", "sent to"]
    quiet = next(line for line in lines if "  Quiet  " in line)
    cells = quiet.split("  ")
    assert cells[0] == "Servicedesk IT Bot (Berlin)" and cells[1] == "Quiet"
    assert cells[3] == "2 weeks" and cells[4] == "json://127.0.0.1:9/report"
    never = next(line for line in lines if "  Never  " in line)
    assert never.split("  ")[3:] == ["0 weeks", "json://127.0.0.1:9/never"]


def test_alert_backtest_shows_the_weeks_it_fired_in(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    path = alert_toml(tmp_path)
    args = ["alerts", "--config", str(path), "--demo", "--backtest", "3", "--week", WEEK_2]
    result = runner_2.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Backtest: last 3 weeks" in out
    head = next(line for line in out.splitlines() if "fires when" in line)
    assert head.split("  ") == ["stream", "rule", "fires when", "cooldown", "fired in"]
    quiet = next(line for line in out.splitlines() if "  Quiet  " in line)
    # below a million every week; the two-week cooldown holds it back after the first
    assert quiet.endswith("  2025-W45 (1 of 3 weeks, 2025-W45 to 2025-W47)")
    never = next(line for line in out.splitlines() if "  Never  " in line)
    assert "never (0 of 3 weeks, 2025-W45 to 2025-W47)" in never
    bad = runner_2.invoke(app, [*args, "--host", "https://bots.example.com"])
    assert bad.exit_code != 0 and "--host is for a real platform" in bad.output


def test_a_dry_runs_outcomes_name_the_week_they_would_send(tmp_path, hook_2, monkeypatch):
    monkeypatch.setenv("MM_TOKEN", TOKEN_2)
    out = tmp_path / "reports"
    write_reports(out)
    url = f"json://127.0.0.1:{hook_2.port}/ok"
    plan = delivery.load_plan(streams_toml_2(tmp_path, [url], [url]))
    outcomes = delivery.deliver(plan, out, {"st-a": WEEK_2, "st-b": WEEK_2}, dry_run=True,
                                echo=lambda text: None)  # fmt: skip
    assert [(o.streams, o.week, o.status) for o in outcomes] == [
        (("st-a",), WEEK_2, "dry-run"),
        (("st-b",), WEEK_2, "dry-run"),
    ]
    assert hook_2.requests == []


def test_the_delivery_summary_shows_a_long_destination_whole(tmp_path):
    from rich.console import Console

    long_url = "json://hooks.example.com/" + "k" * 120  # one word wider than the table
    plan = delivery.load_plan(streams_toml_2(tmp_path, [long_url], []))
    outcome = delivery.Outcome(("st-a",), WEEK_2, long_url, "report", "failed", "HTTP 500")
    console = Console(width=80, force_terminal=True, record=True)
    console.print(delivery.delivery_table([outcome], plan))
    text = console.export_text()
    rows = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    destination = "".join(row[4].strip() for row in rows)
    assert destination == long_url, text  # folded over lines, not cut off with "…"
    assert rows[0][1].strip() == "Alpha Bot" and "…" not in text
