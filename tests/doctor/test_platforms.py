"""doctor with platform profiles: each platform checked once (DNS, TLS, token, clock), then its
streams; a wrong secret on one platform fails that platform only; no secret in the output."""

from __future__ import annotations

import pytest

from engagement_kit import doctor
from engagement_kit.demo import DemoPlatform, get_stream, running_server

US = ("cs-us-app", "us-secret-for-doctor-padded-to-32-bytes")
EU = ("cs-eu-app", "eu-secret-for-doctor-padded-to-32-bytes")
WRONG = "a-wrong-eu-secret-padded-to-32-bytes-long"
HR, IT = get_stream("st-demo-hr-us"), get_stream("st-demo-it-de")


def _servers(eu_secret):
    us = running_server(platform=DemoPlatform(client_id=US[0], client_secret=US[1], streams=(HR,)))
    eu = running_server(platform=DemoPlatform(client_id=EU[0], client_secret=EU[1], streams=(IT,)))
    return us, eu


def _project(tmp_path, monkeypatch, us_url, eu_url, eu_secret, *, default_stream=True):
    monkeypatch.chdir(tmp_path)
    for name in ("KORE_HOST", "KORE_CLIENT_ID", "KORE_CLIENT_SECRET", "KORE_JWT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "store.sqlite3"))
    env = f"EU_ID={EU[0]}\nEU_SECRET={eu_secret}\n"
    if default_stream:
        env = f"KORE_HOST={us_url}\nKORE_CLIENT_ID={US[0]}\nKORE_CLIENT_SECRET={US[1]}\n" + env
    (tmp_path / ".env").write_text(env)
    streams = (
        f'[platform.eu]\nhost = "{eu_url}"\nclient_id = "${{EU_ID}}"\n'
        'client_secret = "${EU_SECRET}"\n'
        '[[stream]]\nid = "st-demo-it-de"\nname = "IT bot"\ntz = "Europe/Berlin"\n'
        'platform = "eu"\n'
    )
    if default_stream:
        streams += '[[stream]]\nid = "st-demo-hr-us"\nname = "HR bot"\ntz = "America/New_York"\n'
    (tmp_path / "streams.toml").write_text(streams)


def _rows(diagnosis):
    return {c.name: c for c in diagnosis.checks}


@pytest.mark.parametrize("eu_secret", [EU[1], WRONG])
def test_each_platform_is_checked_once_then_its_streams(tmp_path, monkeypatch, eu_secret):
    us_server, eu_server = _servers(eu_secret)
    with us_server as us, eu_server as eu:
        _project(tmp_path, monkeypatch, us.url, eu.url, eu_secret)
        diagnosis = doctor.diagnose()
        requests = (us.stats.requests, eu.stats.requests)
    rows = _rows(diagnosis)
    for name in ("host name", "TLS handshake", "token minted", "token accepted", "clock"):
        assert rows[name].status == "ok", rows[name]
        assert f"platform eu / {name}" in rows
    assert rows["stream HR bot"].status == "ok"
    assert rows["platform eu / settings"].status == "ok"
    assert (
        "eu-secret" not in str(diagnosis)
        and "EU_SECRET" not in rows["platform eu / settings"].detail
    )
    assert requests == (1, 1)  # one request per stream, each to its own host
    eu_stream = rows["platform eu / stream IT bot"]
    if eu_secret == EU[1]:
        assert eu_stream.status == "ok" and diagnosis.ok
        assert rows["platform eu / token accepted"].status == "ok"
    else:  # the wrong secret fails the EU platform only
        assert rows["platform eu / token accepted"].status == "fail"
        assert eu_stream.status == "fail"
        assert not diagnosis.ok and diagnosis.exit_code == 1
        assert all(
            c.status != "fail" for c in diagnosis.checks if not c.name.startswith("platform eu")
        )
        assert WRONG not in str(diagnosis)


def test_an_unset_variable_of_a_profile_is_a_settings_failure_naming_it(tmp_path, monkeypatch):
    us_server, eu_server = _servers(EU[1])
    with us_server as us, eu_server as eu:
        _project(tmp_path, monkeypatch, us.url, eu.url, EU[1])
        (tmp_path / ".env").write_text(
            f"KORE_HOST={us.url}\nKORE_CLIENT_ID={US[0]}\nKORE_CLIENT_SECRET={US[1]}\n"
            f"EU_ID={EU[0]}\n"
        )
        rows = _rows(doctor.diagnose())
    check = rows["platform eu / settings"]
    assert check.status == "fail" and check.settings
    assert check.fix == (
        "platform eu: client_secret = ${EU_SECRET} is not set; set EU_SECRET in the environment "
        "or in .env"
    )
    assert rows["platform eu / stream IT bot"].status == "skip"
    assert rows["stream HR bot"].status == "ok"


def test_without_a_stream_on_the_projects_settings_they_are_not_needed(tmp_path, monkeypatch):
    us_server, eu_server = _servers(EU[1])
    with us_server as us, eu_server as eu:
        _project(tmp_path, monkeypatch, us.url, eu.url, EU[1], default_stream=False)
        diagnosis = doctor.diagnose()
    rows = _rows(diagnosis)
    assert rows["settings"].status == "ok" and "every stream names" in rows["settings"].detail
    assert "host name" not in rows and rows["platform eu / stream IT bot"].status == "ok"
    assert diagnosis.ok
