"""config: hosts, the environment and .env, streams.toml (clear errors naming file, entry, field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.settings import load_settings
from engagement_kit.config.streams import (
    StreamConfig,
    host_from_env,
    load_streams,
    normalize_host,
)
from engagement_kit.errors import ConfigError
from tests.builders import REPO


# -- hosts ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("platform.kore.ai", "https://platform.kore.ai"),
        ("  https://Platform.Kore.AI/ ", "https://platform.kore.ai"),
        ("https://bots.example.com:8443", "https://bots.example.com:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://127.255.0.9:1", "http://127.255.0.9:1"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_normalize_host_accepts(given, expected):
    assert normalize_host(given) == expected


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ("", "KORE_HOST"),
        ("http://platform.kore.ai", "unencrypted"),
        ("http://192.168.1.10", "unencrypted"),
        ("http://localhost.example.com", "unencrypted"),
        ("http://[::2]", "unencrypted"),
        ("ftp://platform.kore.ai", "https://"),
        ("https://platform.kore.ai/api/public", "path"),
        ("https://platform.kore.ai?x=1", "path or query"),
        ("https://user:pw@platform.kore.ai", "credentials in the URL"),
        ("https://platform.kore.ai:99999", "not a valid URL"),
        ("https://", "no host name"),
    ],
)
def test_normalize_host_refuses(given, needle):
    with pytest.raises(ConfigError, match="host") as info:
        normalize_host(given)
    assert needle in str(info.value)
    assert "user:pw" not in str(info.value)  # credentials are never echoed


# -- environment ----------------------------------------------------------------------------
def test_host_and_store_from_the_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        host_from_env({})
    assert "KORE_HOST" in str(info.value) and ".env.example" in str(info.value)
    assert str(tmp_path) in str(info.value)  # names where it looked
    (tmp_path / ".env").write_text("KORE_HOST=bots.kore.ai\n")
    assert host_from_env({}) == "https://bots.kore.ai"
    settings = load_settings({"ENGAGEMENT_KIT_STORE": "/data/r.sqlite3"})
    assert settings.host == "bots.kore.ai" and settings.store_path == Path("/data/r.sqlite3")
    with pytest.raises(ConfigError, match="KORE_HOST: host"):
        host_from_env({"KORE_HOST": "http://bots.kore.ai"})


def test_env_example_lists_every_variable():
    text = (REPO / ".env.example").read_text()
    for name in (
        "KORE_HOST",
        "KORE_CLIENT_ID",
        "KORE_CLIENT_SECRET",
        "KORE_JWT",
        "ENGAGEMENT_KIT_STORE",
    ):
        assert name in text
    assert "User Engagement Trend" in text


# -- StreamConfig ---------------------------------------------------------------------------
def test_stream_config_normalises_like_a_query():
    stream = StreamConfig(
        id="st-1",
        name="  Support  ",
        tz="Asia/Kolkata",
        conversation_type="Non Interactive",
        conversation_status="CLOSED",
        channels="RTM",
        channels_breakdown=["RTM", "msteams"],
    )
    assert stream.name == "Support"
    assert stream.conversation_type == "non_interactive"
    assert stream.conversation_status == "closed"
    assert stream.channels == ("rtm",)
    assert stream.channels_breakdown == ("rtm", "msteams")  # in the order given
    query = stream.query("2025-12-01", "2025-12-07")
    assert isinstance(query, EngagementQuery)
    assert query.to_params()["conversationType"] == "Non Interactive"
    assert query.tz == "Asia/Kolkata" and query.aggregation == "daily"
    assert stream.filters() == {
        "tz": "Asia/Kolkata",
        "conversation_type": "non_interactive",
        "conversation_status": "closed",
        "channels": ["rtm"],
    }
    assert StreamConfig(id="st-2", name="x", tz="UTC").filters()["channels"] is None


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"id": "st 1"}, "field id: 'st 1' is not a valid stream id"),
        ({"tz": "Mars/Base"}, "field tz: 'Mars/Base' is not an IANA"),
        ({"conversation_type": "bots"}, "field conversation_type: 'bots' is not allowed"),
        ({"conversation_status": "open"}, "field conversation_status:"),
        ({"channels": ["rtm", "all"]}, "field channels:"),
        ({"channels": ["rtm", "slack"]}, "list them in channels_breakdown"),
        ({"channels_breakdown": ["rtm", "all"]}, "'all' is not a channel"),
        ({"name": "  "}, "field name: empty"),
        ({"name": 3}, "field name:"),
        ({"colour": "red"}, "field colour: unknown field"),
    ],
)
def test_stream_config_errors_name_the_field(fields, needle):
    with pytest.raises(ConfigError) as info:
        StreamConfig(**{"id": "st-1", "name": "x", "tz": "UTC", **fields})
    assert needle in str(info.value)


@pytest.mark.parametrize("missing", ["id", "name", "tz"])
def test_stream_config_requires_id_name_tz(missing):
    fields = {"id": "st-1", "name": "x", "tz": "UTC"}
    del fields[missing]
    with pytest.raises(ConfigError, match=f"field {missing}: missing"):
        StreamConfig(**fields)


# -- streams.toml ---------------------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "streams.toml"
    path.write_text(text)
    return path


def test_load_streams(tmp_path):
    path = write(
        tmp_path,
        """
[[stream]]
id = "st-a"
name = "A"
tz = "Europe/Berlin"

[[stream]]
id = "st-b"
name = "B"
tz = "America/New_York"
conversation_type = "interactive"
conversation_status = "closed"
channels = ["msteams"]
""",
    )
    streams = load_streams(path)
    assert [s.id for s in streams] == ["st-a", "st-b"]
    assert streams[1].channels == ("msteams",)
    assert streams[0].conversation_type == "all"


def test_the_example_file_loads():
    streams = load_streams(REPO / "streams.example.toml")
    assert len(streams) == 3
    assert {s.tz for s in streams} == {"Asia/Kolkata", "America/New_York", "Europe/Berlin"}


def test_default_path_is_streams_toml_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"streams\.toml: not found") as info:
        load_streams()
    assert "streams.example.toml" in str(info.value)
    write(tmp_path, '[[stream]]\nid = "st-x"\nname = "X"\ntz = "UTC"\n')
    assert load_streams()[0].id == "st-x"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[[stream]]\nid = 'st-a'\nname = \n", ["not valid TOML", "line 3"]),
        ("", ["no streams"]),
        ("title = 'x'\n", ["unknown top-level key", "title"]),
        ("stream = 'x'\n", ["[[stream]] tables"]),
        (
            "[[stream]]\nid = 'st-a'\nname = 'A'\ntz = 'UTC'\n[[stream]]\nid = 'st-b'\nname = 'B'\ntz = 'Europe/Nowhere'\n",
            ["stream #2 (st-b)", "field tz", "Europe/Nowhere"],
        ),
        ("[[stream]]\nid = 'st-a'\nname = 'A'\n", ["stream #1 (st-a)", "field tz: missing"]),
        ("[[stream]]\nid = 'bad id'\nname = 'A'\ntz = 'UTC'\n", ["stream #1 (bad id)", "field id"]),
        (
            "[[stream]]\nid = 'st-a'\nname = 'A'\ntz = 'UTC'\nzone = 'UTC'\n",
            ["field zone: unknown field"],
        ),
        (
            "[[stream]]\nid = 'st-a'\nname = 'A'\ntz = 'UTC'\n[[stream]]\nid = 'st-a'\nname = 'B'\ntz = 'UTC'\n",
            ["stream #2 (st-a)", "already used by stream #1"],
        ),
        (
            "[[stream]]\nid = 'st-a'\nname = 'A'\ntz = 'UTC'\nconversation_type = 'robots'\n",
            [
                "stream #1 (st-a)",
                "field conversation_type",
                "'all', 'interactive', 'non_interactive'",
            ],
        ),
    ],
)
def test_load_streams_errors_name_file_entry_and_field(tmp_path, text, needles):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_streams(path)
    message = str(info.value)
    assert message.startswith(str(path))
    for needle in needles:
        assert needle in message


def test_load_streams_rejects_non_utf8(tmp_path):
    path = tmp_path / "streams.toml"
    path.write_bytes(b"[[stream]]\nname = '\xff'\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_streams(path)


def test_a_host_with_a_token_in_its_query_is_refused_without_echoing_it():
    from engagement_kit.config.streams import normalize_host
    from engagement_kit.errors import ConfigError

    with pytest.raises(ConfigError, match="path or query") as info:
        normalize_host("https://platform.kore.ai/?token=canary-abc123")
    assert "canary-abc123" not in str(info.value)


# -- one way to name a stream ------------------------------------------------------------------


def _configured():
    from engagement_kit.config.streams import StreamConfig

    return [
        StreamConfig(
            id="st-hr",
            name="HR bot",
            tz="America/New_York",
            conversation_type="interactive",
            conversation_status="closed",
            cohorts=True,
        )
    ]


def test_a_configured_id_means_the_stream_with_all_its_settings():
    from engagement_kit.config.streams import name_stream

    named = name_stream("st-hr", _configured())
    assert named.configured and named.overridden == () and named.note() == ""
    c = named.config
    assert (c.name, c.tz, c.conversation_type, c.conversation_status, c.cohorts) == (
        "HR bot",
        "America/New_York",
        "interactive",
        "closed",
        True,
    )


def test_a_flag_beside_a_configured_id_overrides_one_setting_visibly():
    from engagement_kit.config.streams import name_stream

    named = name_stream("st-hr", _configured(), tz="UTC", conversation_status="closed")
    assert named.config.tz == "UTC" and named.config.conversation_type == "interactive"
    assert named.overridden == ("tz",)  # the same value as configured is no override
    assert named.note() == "from streams.toml; tz from the command line"


def test_an_unconfigured_id_needs_tz_and_is_ad_hoc():
    from engagement_kit.config.streams import name_stream

    with pytest.raises(
        ConfigError, match=r"stream st-x is not in streams.toml: give its time zone with --tz"
    ):
        name_stream("st-x", _configured())
    with pytest.raises(ConfigError, match=r"no streams.toml"):
        name_stream("st-x", [])
    named = name_stream("st-x", _configured(), tz="Asia/Kolkata")
    assert not named.configured and named.config.name == "st-x"
    assert named.config.conversation_type == "all"
    assert named.note() == "ad hoc: not in streams.toml; settings from the command line"
