"""``[platform.NAME]`` profiles of streams.toml: parsing, refusals, references, secrets."""

from __future__ import annotations

import pytest

from engagement_kit.client.auth import credentials_for
from engagement_kit.config.streams import load_platforms, load_streams
from engagement_kit.errors import ConfigError

STREAM = '[[stream]]\nid = "st-1"\nname = "Bot"\ntz = "UTC"\n'


def write(tmp_path, text):
    path = tmp_path / "streams.toml"
    path.write_text(text)
    return path


def test_a_profile_and_a_stream_on_it(tmp_path):
    path = write(
        tmp_path,
        '[platform.eu]\nhost = "de-platform.kore.ai"\nclient_id = "${EU_ID}"\n'
        'client_secret = "${EU_SECRET}"\n' + STREAM + 'platform = "eu"\n',
    )
    (stream,) = load_streams(path)
    profile = load_platforms(path)["eu"]
    assert stream.platform == "eu" and stream.key == "eu/st-1"
    assert profile.host == "https://de-platform.kore.ai"
    assert profile.references == ["EU_ID", "EU_SECRET"]
    env = {"EU_ID": "cs-1", "EU_SECRET": "s3cr3t-value-long-enough-for-hs256!!"}
    creds = credentials_for(profile, env)
    assert creds.client_id == "cs-1" and creds.mode == "client secret"
    assert "s3cr3t" not in repr(profile) + repr(creds)
    assert profile.secrets(env) == ["s3cr3t-value-long-enough-for-hs256!!"]


def test_a_ready_token_by_reference(tmp_path):
    path = write(
        tmp_path,
        '[platform.jp]\nhost = "https://jp-platform.kore.ai"\ntoken = "${JP_JWT}"\n' + STREAM,
    )
    creds = credentials_for(load_platforms(path)["jp"], {"JP_JWT": "opaque-token"})
    assert creds.mode == "token"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (
            'host = "https://x.kore.ai"\nclient_id = "a"\nclient_secret = "plain"\n',
            'client_secret is written in the file; put it in the environment or .env and write client_secret = "${EU_CLIENT_SECRET}"',
        ),
        ('host = "https://x.kore.ai"\ntoken = "eyJabc"\n', 'write token = "${EU_JWT}"'),
        ('client_id = "a"\nclient_secret = "${S}"\n', "host missing"),
        ('host = "http://x.kore.ai"\nclient_id = "a"\nclient_secret = "${S}"\n', "plain http://"),
        ('host = "https://x.kore.ai"\nclient_id = "a"\n', "client_secret missing"),
        ('host = "https://x.kore.ai"\nsecret = "${S}"\n', "unknown key(s) secret"),
        ('host = "https://x.kore.ai"\ntoken = "${T}"\nclient_id = "a"\n', "not both"),
    ],
)
def test_bad_profiles_are_refused_naming_platform_and_key(tmp_path, table, words):
    path = write(tmp_path, "[platform.eu]\n" + table + STREAM)
    with pytest.raises(ConfigError) as err:
        load_streams(path)
    assert "[platform.eu]" in str(err.value) and words in str(err.value)
    assert 'plain"' not in str(err.value) and "eyJabc" not in str(err.value)


def test_a_stream_naming_an_unknown_platform(tmp_path):
    path = write(tmp_path, STREAM + 'platform = "apac"\n')
    with pytest.raises(ConfigError, match=r"platform: 'apac' has no \[platform.apac\] table"):
        load_streams(path)


def test_the_same_id_on_two_hosts_is_two_streams_but_not_twice_on_one(tmp_path):
    profile = '[platform.eu]\nhost = "https://de-platform.kore.ai"\ntoken = "${T}"\n'
    two = load_streams(write(tmp_path, profile + STREAM + STREAM + 'platform = "eu"\n'))
    assert [s.key for s in two] == ["st-1", "eu/st-1"]
    with pytest.raises(ConfigError, match="already used by stream #1 on the same platform"):
        load_streams(
            write(tmp_path, profile + STREAM + 'platform = "eu"\n' + STREAM + 'platform = "eu"\n')
        )


def test_an_unset_reference_names_platform_and_variable_never_a_value(tmp_path):
    path = write(
        tmp_path,
        '[platform.eu]\nhost = "https://x.kore.ai"\nclient_id = "${EU_ID}"\nclient_secret = "${EU_SECRET}"\n'
        + STREAM,
    )
    with pytest.raises(ConfigError) as err:
        credentials_for(load_platforms(path)["eu"], {"EU_ID": "cs-1"})
    assert str(err.value) == (
        "platform eu: client_secret = ${EU_SECRET} is not set; set EU_SECRET in the "
        "environment or in .env"
    )


def test_profile_secrets_are_known_secrets(tmp_path, monkeypatch):
    from engagement_kit.config.platforms import known_secrets

    write(tmp_path, '[platform.eu]\nhost = "https://x.kore.ai"\ntoken = "${EU_JWT}"\n' + STREAM)
    (tmp_path / ".env").write_text("EU_JWT=the-eu-token-value\n")
    monkeypatch.chdir(tmp_path)
    assert "the-eu-token-value" in known_secrets()
