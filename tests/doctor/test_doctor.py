"""``engagement-kit doctor`` against the demo platform over real HTTP (an in-process server).

Each test writes ``.env`` and ``streams.toml`` into an empty folder, runs the command and reads
its plain-line output (not a terminal): one ``✔/✘/– name: detail`` line per check, and a
``fix:`` line under each ✘.
"""

from __future__ import annotations

import email.utils
import re
import socket
import time
from typing import NamedTuple

import pytest
from rich.console import Console
from typer.testing import CliRunner

from engagement_kit import doctor
from engagement_kit.cli import app
from engagement_kit.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_STREAMS,
    DemoPlatform,
    running_server,
)
from engagement_kit.doctor.model import Exchange
from engagement_kit.doctor.network import proxy_for
from engagement_kit.doctor.remote import check_clock, stream_failure
from engagement_kit.errors import ApiConnectionError, ApiError

runner = CliRunner()
RETAIL, HR = DEMO_STREAMS[0], DEMO_STREAMS[1]


def _streams_toml(*streams: tuple[str, str, str]) -> str:
    return "".join(
        f'[[stream]]\nid = "{sid}"\nname = "{name}"\ntz = "{tz}"\n\n' for sid, name, tz in streams
    )


DEMO_TWO = _streams_toml((RETAIL.id, RETAIL.name, RETAIL.tz), (HR.id, HR.name, HR.tz))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder as the current folder; ``write(host, ...)`` fills it."""
    monkeypatch.chdir(tmp_path)

    def write(
        host: str,
        *,
        client_id: str = DEMO_CLIENT_ID,
        secret: str = DEMO_CLIENT_SECRET,
        streams: str = DEMO_TWO,
    ) -> None:
        (tmp_path / ".env").write_text(
            f"KORE_HOST={host}\nKORE_CLIENT_ID={client_id}\nKORE_CLIENT_SECRET={secret}\n"
        )
        (tmp_path / "streams.toml").write_text(streams)

    return write


class Outcome(NamedTuple):
    code: int
    rows: dict[str, str]
    output: str
    requests: int  # what the demo server received
    url: str


@pytest.fixture
def against_demo(project):
    """Run doctor on a project whose .env points at a demo server started for the call."""

    def run(*args: str, server: dict | None = None, scheme: str = "http", **files) -> Outcome:
        with running_server(**(server or {})) as demo:
            url = demo.url.replace("http://", f"{scheme}://")
            project(url, **files)
            code, rows, output = _run(*args)
            return Outcome(code, rows, output, demo.stats.requests, url)

    return run


def _run(*args: str) -> tuple[int, dict[str, str], str]:
    """Exit code, {check name: its line (with the fix line, if any)}, the whole output."""
    result = runner.invoke(app, ["doctor", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    rows: dict[str, str] = {}
    last = ""
    for line in result.output.splitlines():
        match = re.match(r"^([✔✘–]) ([^:]+): ", line)
        if match:
            last = match[2]
            rows[last] = line
        elif line.startswith("  fix: ") and last:
            rows[last] += "\n" + line
    return result.exit_code, rows, result.output


def _marks(rows: dict[str, str]) -> dict[str, str]:
    return {name: line[0] for name, line in rows.items()}


def _assert_no_secret(output: str) -> None:
    assert DEMO_CLIENT_SECRET not in output
    assert "eyJ" not in output  # no JWT (their header always starts so)


def test_all_checks_pass_on_the_demo_server_with_one_request_per_stream(against_demo):
    code, rows, output, requests, url = against_demo()
    assert code == 0, output
    assert list(rows) == [
        "settings",
        "streams.toml",
        "host name",
        "TLS handshake",
        "token minted",
        "token accepted",
        f"stream {RETAIL.name}",
        f"stream {HR.name}",
        "clock",
        "store",
    ]
    assert set(_marks(rows).values()) == {"✔"}, output
    assert requests == 2  # one per stream
    assert "read .env" in rows["settings"] and url in rows["settings"]
    assert f"client id {DEMO_CLIENT_ID}" in rows["settings"]
    assert "2 streams" in rows["streams.toml"]
    assert "no TLS to check" in rows["TLS handshake"]  # plain http to loopback
    assert re.search(r"\d[\d,]* unique users", rows[f"stream {RETAIL.name}"])
    assert "All checks passed" in output
    _assert_no_secret(output)


def test_a_wrong_secret_is_refused_once_and_points_at_the_client_secret(against_demo):
    """The platform says the JWT signature does not match: the fix is the client secret, not
    publishing the API scope (which doctor used to suggest)."""
    code, rows, output, requests, _ = against_demo(
        secret="not-the-secret-of-this-app-at-all-0123456789"
    )
    assert code == 1
    assert requests == 1  # the other stream is not asked once the token is refused
    marks = _marks(rows)
    assert marks["token minted"] == "✔" and marks["token accepted"] == "✘"
    accepted = " ".join(rows["token accepted"].split())
    assert "the JWT signature does not match" in accepted  # the platform's own words
    assert "KORE_CLIENT_SECRET is not the client secret of this app" in accepted
    assert "API scope" not in accepted
    assert "signature" in rows[f"stream {RETAIL.name}"]
    assert marks[f"stream {HR.name}"] == "–" and "refused the token" in rows[f"stream {HR.name}"]
    assert marks["clock"] == "✔"  # a 401 still carries the platform's Date
    assert "fix the first ✘" in output
    _assert_no_secret(output)
    assert "not-the-secret-of-this-app-at-all-0123456789" not in output


def test_a_wrong_client_id_names_the_app_id(against_demo):
    code, rows, *_ = against_demo(client_id="cs-someone-else")
    assert code == 1
    assert _marks(rows)["token accepted"] == "✘"
    assert "appId" in rows[f"stream {RETAIL.name}"]
    assert "KORE_CLIENT_ID must be this app's client id" in " ".join(rows["token accepted"].split())


def test_a_wrong_stream_id_is_a_404_with_the_general_settings_fix(against_demo):
    streams = _streams_toml((RETAIL.id, RETAIL.name, RETAIL.tz), ("st-typo-1234", "Typo", "UTC"))
    code, rows, output, requests, _ = against_demo(streams=streams)
    assert code == 1
    assert requests == 2
    marks = _marks(rows)
    assert marks[f"stream {RETAIL.name}"] == "✔" and marks["token accepted"] == "✔"
    assert marks["stream Typo"] == "✘"
    assert "HTTP 404" in rows["stream Typo"]
    assert "check the stream id on the app's General Settings page" in rows["stream Typo"]
    assert "1 check(s) failed" in output


def test_a_closed_port_fails_the_connection_and_asks_nothing(project):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends
    project(f"http://127.0.0.1:{port}")
    code, rows, _ = _run()
    assert code == 1
    marks = _marks(rows)
    assert marks["host name"] == "✔" and marks["TLS handshake"] == "✘"
    assert "connection refused" in rows["TLS handshake"]
    assert "engagement-kit serve-demo" in rows["TLS handshake"]
    for name in (f"stream {RETAIL.name}", f"stream {HR.name}", "token accepted", "clock"):
        assert marks[name] == "–", rows[name]
    assert marks["store"] == "✔"  # independent checks still run


def test_a_wrong_clock_is_caught_and_blamed_for_the_refused_token(against_demo):
    platform = DemoPlatform(clock=lambda: time.time() + 3600)  # the platform is an hour ahead
    code, rows, _, requests, _ = against_demo(server={"platform": platform})
    assert code == 1
    assert requests == 1
    marks = _marks(rows)
    assert marks["clock"] == "✘"
    assert "60 min behind the platform" in rows["clock"], rows["clock"]
    assert "timedatectl set-ntp true" in rows["clock"]
    assert marks["token accepted"] == "✘"  # the token looks expired to the platform
    assert "first set the local clock right" in rows["token accepted"]
    assert "expired" in rows[f"stream {RETAIL.name}"]


def test_a_skew_within_a_minute_passes():
    platform = DemoPlatform(clock=lambda: time.time() - 30)
    with running_server(platform=platform) as server:
        exchanges: list = []
        import httpx

        sent = time.time()
        response = httpx.post(server.url + "/x")
        exchanges.append(Exchange(sent, time.time(), response.status_code))
        exchanges[0].date = response.headers["date"]
    check = check_clock(exchanges)
    assert check.status == "ok" and re.search(r"within (29|30|31) s", check.detail)


def test_a_server_error_is_one_request_not_the_client_retries(against_demo):
    code, rows, _, requests, _ = against_demo(server={"script": ["503", "503"]})
    assert code == 1
    assert requests == 2  # no retry: one request per stream
    assert "HTTP 503" in rows[f"stream {RETAIL.name}"]
    assert "try again later" in rows[f"stream {RETAIL.name}"]
    assert _marks(rows)["token accepted"] == "–"  # 5xx says nothing about the token


def test_https_to_a_server_without_tls_fails_the_handshake(against_demo):
    code, rows, _, requests, _ = against_demo(scheme="https")
    assert code == 1
    assert requests == 0
    assert _marks(rows)["TLS handshake"] == "✘"
    assert "TLS failed" in rows["TLS handshake"]


def test_a_host_name_that_does_not_resolve(project, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    project("https://platfrom.kore.ai")
    code, rows, _ = _run()
    assert code == 1
    marks = _marks(rows)
    assert marks["host name"] == "✘" and "platfrom.kore.ai does not resolve" in rows["host name"]
    assert "check KORE_HOST for a typo" in rows["host name"]
    assert marks["TLS handshake"] == "–"


def test_missing_settings_exit_2_and_say_what_to_create(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, rows, _ = _run()
    assert code == 2
    marks = _marks(rows)
    assert marks["settings"] == "✘" and marks["streams.toml"] == "✘"
    assert "KORE_HOST" in rows["settings"] and "copy .env.example to .env" in rows["settings"]
    assert "no streams.toml found" in rows["streams.toml"]
    assert "engagement-kit init" in rows["streams.toml"]  # what a pip user runs
    assert marks["host name"] == "–" and marks["token minted"] == "–"


def test_a_bad_streams_file_is_a_settings_failure(against_demo):
    bad = '[[stream]]\nid = "st-x"\nname = "X"\ntz = "Mars/Base"\n'
    code, rows, _, requests, _ = against_demo(streams=bad)
    assert code == 2
    assert "tz" in rows["streams.toml"] and _marks(rows)["streams.toml"] == "✘"
    assert _marks(rows)["token minted"] == "✔"
    assert requests == 0


def test_config_option_picks_another_streams_file(against_demo, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(_streams_toml((HR.id, HR.name, HR.tz)))
    code, rows, *_ = against_demo("--config", str(other))
    assert code == 0
    assert f"stream {HR.name}" in rows and f"stream {RETAIL.name}" not in rows
    assert "1 stream in other.toml" in rows["streams.toml"]


def test_a_store_that_cannot_be_written_fails(against_demo, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path))  # a directory, not a file
    code, rows, *_ = against_demo()
    assert code == 1
    assert _marks(rows)["store"] == "✘"
    assert "is a directory" in rows["store"]


def test_the_table_in_a_terminal_shows_marks_and_fixes():
    from rich.console import Console

    diagnosis = doctor.Diagnosis(
        (
            doctor.Check("settings", "ok", "read .env"),
            doctor.Check("stream X", "fail", "HTTP 404", "check the stream id"),
        )
    )
    console = Console(width=80, force_terminal=True, record=True)
    doctor.print_diagnosis(diagnosis, console)
    text = console.export_text()
    assert "✔" in text and "✘" in text and "fix: check the stream id" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert diagnosis.exit_code == 1


def test_a_ready_made_token_is_used_and_never_printed(against_demo, tmp_path, monkeypatch):
    import jwt

    now = int(time.time())
    claims = {"sub": "t", "appId": DEMO_CLIENT_ID, "iat": now, "exp": now + 600}
    good = jwt.encode(claims, DEMO_CLIENT_SECRET, algorithm="HS256")
    monkeypatch.setenv("KORE_JWT", good)  # wins over the .env's client id and secret
    code, rows, output, requests, _ = against_demo()
    assert code == 0, output
    assert "KORE_JWT (not shown)" in rows["settings"]
    assert re.search(r"expires in (9|10) min", rows["token minted"]), rows["token minted"]
    assert good not in output and requests == 2

    expired = jwt.encode({**claims, "exp": now - 60}, DEMO_CLIENT_SECRET, algorithm="HS256")
    monkeypatch.setenv("KORE_JWT", expired)
    code, rows, output, requests, _ = against_demo()
    assert code == 2  # a settings problem: make a new token
    assert _marks(rows)["token minted"] == "✘" and "expired" in rows["token minted"]
    assert requests == 0 and expired not in output
    _assert_no_secret(output)


def test_behind_a_proxy_the_proxy_is_named_without_its_password(project, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens: the proxy is down
    monkeypatch.setenv("HTTPS_PROXY", f"http://alice:pr0xy-pass@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    project("https://platform.example.com")
    code, rows, output = _run()
    assert code == 1
    marks = _marks(rows)
    assert marks["host name"] == "✔" and f"proxy http://127.0.0.1:{port}" in rows["host name"]
    assert marks["TLS handshake"] == "✔"  # left to the requests through the proxy
    assert marks[f"stream {RETAIL.name}"] == "✘"  # the proxy does not answer
    assert marks[f"stream {HR.name}"] == "–"  # not asked again
    assert "pr0xy-pass" not in output and "alice" not in output


def test_run_from_a_subfolder_it_checks_the_project_folders_settings(
    demo_server, project, tmp_path, monkeypatch
):
    deeper = tmp_path / "notebooks" / "explore"
    deeper.mkdir(parents=True)
    server = demo_server
    project(server.url)
    monkeypatch.chdir(deeper)  # where `make lab` starts its kernels
    code, rows, output = _run()
    assert code == 0, output
    from engagement_kit.formatting import display_path

    assert f"read {display_path(tmp_path / '.env')}" in rows["settings"]
    assert f"2 streams in {display_path(tmp_path / 'streams.toml')}" in rows["streams.toml"]


def test_a_stream_with_cohorts_gets_the_sessions_cross_check(against_demo):
    streams = DEMO_TWO.replace(f'tz = "{HR.tz}"\n', f'tz = "{HR.tz}"\ncohorts = true\n')
    code, rows, output, requests, _ = against_demo(streams=streams)
    assert code == 0, output
    line = rows[f"sessions {HR.name}"]
    assert line.startswith("✔") and re.search(r"\d{4}-W\d\d", line)
    assert f"sessions {RETAIL.name}" not in rows  # not opted in: one request, as before
    assert requests > 3
    _assert_no_secret(output)


def test_the_sessions_check_names_the_bot_sessions_scope(against_demo):
    streams = DEMO_TWO.replace(f'tz = "{HR.tz}"\n', f'tz = "{HR.tz}"\ncohorts = true\n')
    platform = DemoPlatform(scopes=("User Engagement Trend",))
    code, rows, output, _, _ = against_demo(streams=streams, server={"platform": platform})
    assert code == 1
    assert rows[f"sessions {HR.name}"].startswith("✘")
    assert "Bot Sessions" in " ".join(rows[f"sessions {HR.name}"].split())
    _assert_no_secret(output)


# -- Gaps the mutation run found in ``engagement-kit doctor``: the fixes it tells the user, the


def _no_proxies(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_all_proxy_is_the_fallback_when_no_scheme_proxy_is_set(monkeypatch):
    # httpx sends the requests through ALL_PROXY too, so the doctor must say so
    _no_proxies(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example.com:3128")
    assert proxy_for("https", "platform.example.com") == "http://proxy.example.com:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://tls-proxy.example.com:8080")
    assert proxy_for("https", "platform.example.com") == "http://tls-proxy.example.com:8080"
    monkeypatch.setenv("NO_PROXY", "platform.example.com")
    assert proxy_for("https", "platform.example.com") is None


def test_no_proxy_settings_means_a_direct_connection(monkeypatch):
    _no_proxies(monkeypatch)
    assert proxy_for("https", "platform.example.com") is None


def _clock_with_skew(seconds: float) -> doctor.Check:
    now = time.time()
    exchange = Exchange(now, now, 200)
    exchange.date = email.utils.formatdate(now + seconds, usegmt=True)
    return check_clock([exchange])


def test_a_clock_hours_off_is_said_in_hours_and_days_off_in_days():
    hours = _clock_with_skew(-5 * 3600)  # the local clock is 5 h ahead of the platform's
    assert hours.status == "fail"
    assert "5.0 h ahead of the platform's" in hours.detail, hours.detail
    days = _clock_with_skew(3 * 86400)
    assert "3.0 days behind the platform's" in days.detail, days.detail
    assert "timedatectl set-ntp true" in days.fix


def test_no_date_header_skips_the_clock_check_and_says_why():
    check = check_clock([Exchange(time.time(), time.time(), 200)])
    assert check.status == "skip"
    assert check.detail == "not checked: no answer with a Date header"


def test_a_refused_query_without_a_hint_points_at_the_filters_and_zone():
    check, stop = stream_failure("stream X", "st-1, 2025-11-03", ApiError("bad", status=400))
    assert check.status == "fail" and "HTTP 400: bad" in check.detail
    assert check.fix == "check the stream's filters and zone"
    assert stop == ""  # the next streams are still asked
    hinted = ApiError("bad", status=400, hint="use a zone like Europe/Berlin")
    assert stream_failure("stream X", "st-1", hinted)[0].fix == "use a zone like Europe/Berlin"


def test_a_lost_connection_points_at_kore_host_and_stops_the_other_streams():
    check, stop = stream_failure("stream X", "st-1", ApiConnectionError("connection reset"))
    assert check.status == "fail" and "connection reset" in check.detail
    assert check.fix == "check KORE_HOST and your network"
    assert stop == "the host stopped answering"


def test_the_terminal_table_separates_the_checks_and_folds_long_results():
    url = "https://platform.example.com/" + "x" * 150  # one word longer than the table
    diagnosis = doctor.Diagnosis(
        (
            doctor.Check("settings", "ok", "read .env"),
            doctor.Check("host name", "fail", f"{url} does not resolve", "check KORE_HOST"),
        )
    )
    console = Console(width=80, force_terminal=True, record=True)
    doctor.print_diagnosis(diagnosis, console)
    text = console.export_text()
    lines = text.splitlines()
    body = lines[lines.index(next(line for line in lines if "settings" in line)) :]
    assert any(line.startswith("├") for line in body), text  # a line between two checks
    shown = "".join(line.strip("│ ") for line in lines)
    assert "x" * 150 in shown.replace("│", "").replace(" ", ""), text  # all of it, folded
    assert "…" not in text
    assert max(len(line) for line in lines) <= 80


def test_an_unreachable_network_points_at_kore_host_and_the_network(monkeypatch):
    import errno
    import socket

    from engagement_kit.doctor.network import check_connects

    def unreachable(address, timeout=None):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    check = check_connects("https", "platform.example.com", 443, 1.0)
    assert check.status == "fail"
    assert check.detail == "platform.example.com:443: cannot connect (Network is unreachable)"
    assert check.fix == "check KORE_HOST and your network"
