"""The engagement-kit command: help, exit codes, and what each command prints or writes."""

from __future__ import annotations

import csv
import re

import jwt
import pytest
from typer.testing import CliRunner

from engagement_kit import __version__
from engagement_kit.cli import app
from engagement_kit.config.query import EngagementQuery
from engagement_kit.demo import DEMO_HOST, demo_store_path
from engagement_kit.store import ResponseStore

runner = CliRunner()
COMMANDS = ["report", "doctor", "fetch", "streams", "dashboard", "serve-demo", "token", "store"]


def invoke(*args: str, env: dict | None = None, input: str | None = None):
    return runner.invoke(app, list(args), env=env, input=input)


def test_version_and_help_list_every_command():
    assert invoke("--version").stdout.strip() == f"engagement-kit {__version__}"
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        *COMMANDS,
        *(f"store {c}" for c in ("info", "clear", "history", "export", "import", "backup")),
    ],
)
def test_every_command_has_help(command):
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout and "Options:" in result.stdout


def test_no_arguments_shows_help_not_a_traceback():
    result = invoke()
    assert "Usage:" in result.output and "Traceback" not in result.output


def test_fetch_prints_the_summary_and_writes_csv(tmp_path):
    out = tmp_path / "trend.csv"
    result = invoke(
        "fetch", "st-demo-hr-us", "--start", "2025-11-03", "--end", "2025-11-09",
        "--tz", "America/New_York", "--demo", "--csv", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "unique_users" in result.stdout and "wrote 21 rows" in result.stdout
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 21 and rows[0]["metric"] == "unique" and rows[0]["date"] == "2025-11-03"
    assert {r["metric"] for r in rows} == {"unique", "new", "returning"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["--start", "2025-11-31", "--end", "2025-12-01", "--demo"],
            "--start: '2025-11-31' is not a date; give it as YYYY-MM-DD",
        ),
        (["--start", "2025-12-05", "--end", "2025-12-01", "--demo"], "after end"),
        (["--start", "2025-12-01", "--end", "2025-12-01", "--tz", "Mars/Base", "--demo"], "--tz:"),
        (["--start", "2025-12-01", "--end", "2025-12-01", "--tz", "UTC"], "KORE_HOST"),
        (["--start", "2025-12-01", "--end", "2025-12-01"], "give its time zone with --tz"),
        (
            ["--start", "2025-12-01", "--end", "2025-12-01", "--demo", "--channels", "a,b"],
            "--channels a,b",
        ),
    ],
)
def test_fetch_bad_input_is_one_sentence_and_exit_2(args, fragment):
    result = invoke("fetch", "st-demo-hr-us", *args)
    assert result.exit_code == 2
    assert fragment in " ".join(result.output.split()) and "Traceback" not in result.output


def test_fetch_unknown_stream_is_exit_1_with_the_platform_message():
    result = invoke(
        "fetch", "st-nope", "--start", "2025-12-01", "--end", "2025-12-01", "--demo", "--tz", "UTC"
    )
    assert result.exit_code == 1
    assert "404" in result.output and "General Settings" in result.output


def test_fetch_a_configured_stream_uses_its_zone_and_says_what_the_command_line_changed():
    result = invoke(
        "fetch", "st-demo-it-de", "--start", "2025-11-03", "--end", "2025-11-09", "--demo"
    )
    assert result.exit_code == 0 and "Europe/Berlin" in result.stdout, result.output
    override = invoke(
        "fetch", "st-demo-it-de", "--start", "2025-11-03", "--end", "2025-11-09", "--demo",
        "--tz", "UTC",
    )  # fmt: skip
    assert override.exit_code == 0 and "tz from the command line" in override.stderr
    assert "UTC" in override.stdout and "Europe/Berlin" not in override.stdout


def test_a_long_range_is_exact_when_the_platform_answers_it_whole():
    result = invoke(
        "fetch", "st-demo-it-de", "--start", "2025-09-01", "--end", "2025-11-30", "--demo"
    )
    assert result.exit_code == 0
    assert "not available" not in result.stdout and "unique_users" in result.stdout


def test_chunked_range_says_why_unique_is_missing(monkeypatch):
    from engagement_kit.cli import fetching
    from engagement_kit.demo import DemoPlatform, demo_client

    monkeypatch.setattr(
        fetching, "_client", lambda **_: demo_client(platform=DemoPlatform(max_days=31))
    )
    result = invoke(
        "fetch", "st-demo-it-de", "--start", "2025-09-01", "--end", "2025-11-30", "--demo"
    )
    assert result.exit_code == 0
    assert "not available (see below)" in result.stdout
    assert "at most 31 days per request" in " ".join(result.stdout.split())


def test_streams_lists_demo_and_config_streams(tmp_path):
    assert "st-demo-retail-in" in invoke("streams").stdout
    config = tmp_path / "streams.toml"
    config.write_text('[[stream]]\nid = "st-1"\nname = "Bot one"\ntz = "Asia/Kolkata"\n')
    result = invoke("streams", "--config", str(config))
    assert result.exit_code == 0 and "Bot one" in result.stdout
    config.write_text('[[stream]]\nid = "../x"\nname = "Bad"\ntz = "UTC"\n')
    bad = invoke("streams", "--config", str(config))
    assert bad.exit_code == 2 and "streams.toml" in bad.output


def test_store_info_and_clear(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite3"
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(path))
    invoke("fetch", "st-demo-it-de", "--start", "2025-11-03", "--end", "2025-11-09", "--demo")
    # demo answers go to the demo's own store, never to the store of real answers
    assert ResponseStore(demo_store_path()).info()["entries"] == 1
    assert ResponseStore(path).info()["entries"] == 0
    query = EngagementQuery(
        stream_id="st-demo-it-de", start="2025-11-03", end="2025-11-09", tz="Europe/Berlin"
    )  # the demo stream's own zone
    payload = ResponseStore(demo_store_path()).get(DEMO_HOST, query)
    assert payload is not None
    ResponseStore(path).put("https://platform.kore.ai", query, payload, final=True)
    info = invoke("store", "info")
    assert info.exit_code == 0 and str(path) in info.stdout.replace("\n", "")
    fetched = re.search(r"fetched (\S+ \S+ UTC) \.\. (\S+ \S+ UTC)", info.stdout)
    assert fetched, info.stdout  # timestamps to the second, no microseconds
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t) for t in fetched.groups())
    assert "st-demo-it-de  1  " in info.stdout  # a plain line per stream, not a cut table
    assert "st-demo-it-de" in info.stdout and "six months" in info.stdout
    assert invoke("store", "clear", input="n\n").exit_code == 1  # asked, declined
    assert ResponseStore(path).info()["entries"] == 1
    cleared = invoke("store", "clear", "--yes")
    assert cleared.exit_code == 0 and "deleted 1 answers" in cleared.stdout
    assert ResponseStore(path).info()["entries"] == 0


def test_token_prints_a_jwt_to_stdout_and_the_warning_to_stderr():
    env = {"KORE_CLIENT_ID": "cs-test", "KORE_CLIENT_SECRET": "s3cret-for-tests-only-1234567890"}
    result = runner.invoke(app, ["token"], env=env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    claims = jwt.decode(token, env["KORE_CLIENT_SECRET"], algorithms=["HS256"])
    assert claims["appId"] == "cs-test"
    assert "secret" in result.stderr.lower() and token not in result.stderr


def test_token_without_credentials_names_the_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    result = invoke("token")
    assert result.exit_code == 2
    assert "KORE_CLIENT_ID" in result.output and "KORE_CLIENT_SECRET" in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--demo", "--week", "2025-W99"], "week"),
        (["--demo", "--week", "2099-W01"], "week"),
        (["--demo", "--host", "https://platform.kore.ai"], "--host is for a real platform"),
        (["--config", "x.toml", "--stream", "st-1"], "x.toml: not found"),
        (["--stream", "st-1"], "give its time zone with --tz"),
        (["--name", "Bot"], "go with --stream"),
        (["--config", "missing.toml"], "missing.toml"),
        (["--stream", "../etc", "--demo"], "stream"),
        (["--demo", "--jobs", "0"], "jobs"),
    ],
)
def test_report_bad_arguments_exit_2_before_any_kernel(args, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("report", *args, "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert fragment in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.html"))  # nothing ran


def test_report_without_streams_explains_the_three_ways(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("report")
    assert result.exit_code == 2
    assert "--demo" in result.output and "--config" in result.output and "--stream" in result.output
