"""The one settings model, the project folder (found like git's), `init`, the bundled files."""

from __future__ import annotations

import os
import re
import stat

import pytest
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.config import settings
from engagement_kit.config import streams as config
from engagement_kit.config.project import BUNDLED, bundled_file, init_project
from engagement_kit.config.settings import Settings, find_project, kernel_environment, load_settings
from engagement_kit.config.streams import StreamConfig, project_streams
from engagement_kit.delivery import Ledger
from engagement_kit.demo import DEMO_STREAMS, demo_streams
from engagement_kit.errors import ConfigError, StoreError
from engagement_kit.metrics.first_seen import SessionCache
from engagement_kit.report import params as report_params
from tests.builders import REPO

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with .env and a notebooks/explore/ folder as the current folder."""
    root = tmp_path / "proj"
    deep = root / "notebooks" / "explore"
    deep.mkdir(parents=True)
    (root / ".env").write_text(
        "KORE_HOST=http://127.0.0.1:9\nKORE_CLIENT_ID=cid\n"
        f"KORE_CLIENT_SECRET={SECRET}\nENGAGEMENT_KIT_STORE=data/mine.sqlite3\nOTHER=x\n"
    )
    monkeypatch.delenv("ENGAGEMENT_KIT_STORE")
    monkeypatch.chdir(deep)
    return root


def test_dotenv_is_found_walking_up_like_git(project):
    found = load_settings()
    assert found.project.root == project and not found.project.explicit
    assert found.env_file == project / ".env"
    assert found.host == "http://127.0.0.1:9" and found.client_id == "cid"
    assert found.client_secret.get_secret_value() == SECRET
    assert found.store_path == project / "data" / "mine.sqlite3"  # relative to the project
    assert found.has_platform


def test_the_environment_wins_and_empty_values_count_as_unset(project, monkeypatch):
    monkeypatch.setenv("KORE_HOST", "https://env.example")
    monkeypatch.setenv("KORE_CLIENT_ID", "")
    found = load_settings()
    assert found.host == "https://env.example" and found.client_id == "cid"
    assert load_settings({"KORE_HOST": "https://given"}).host == "https://given"
    assert load_settings({}, dotenv=False).host is None


def test_secrets_never_show_in_repr_or_str(project):
    found = load_settings()
    assert SECRET not in repr(found) and SECRET not in str(found)
    assert SECRET not in repr(found.model_dump())


def test_engagement_kit_home_wins_over_the_walk_and_must_be_a_folder(project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / ".env").write_text("KORE_HOST=https://other.example\n")
    found = load_settings({"ENGAGEMENT_KIT_HOME": str(other)})
    assert found.project.root == other and found.project.explicit
    assert found.host == "https://other.example"
    with pytest.raises(ConfigError, match=r"ENGAGEMENT_KIT_HOME=.*not a folder"):
        find_project(env={"ENGAGEMENT_KIT_HOME": str(other / ".env")})


def test_a_streams_toml_alone_marks_the_project_and_nothing_found_is_named(tmp_path, monkeypatch):
    (tmp_path / "streams.toml").write_text('[[stream]]\nid = "st-a"\nname = "A"\ntz = "UTC"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert find_project().root == tmp_path
    assert [s.id for s in project_streams()] == ["st-a"]
    nowhere = tmp_path / "sub" / "x"
    nowhere.mkdir()
    (tmp_path / "streams.toml").unlink()
    monkeypatch.chdir(nowhere)
    assert find_project().root is None
    with pytest.raises(ConfigError) as info:
        config.host_from_env({})
    assert str(nowhere) in str(info.value) and "engagement-kit init" in str(info.value)
    with pytest.raises(ConfigError, match=r"no streams\.toml found"):
        project_streams()


def test_a_project_without_streams_toml_names_the_file_to_create(project):
    with pytest.raises(ConfigError, match=re.escape(str(project / "streams.toml"))):
        project_streams()


def test_missing_credentials_name_the_dotenv_that_was_read(project):
    (project / ".env").write_text("KORE_HOST=https://x.example\nKORE_CLIENT_ID=cid\n")
    from engagement_kit.client.auth import credentials_from_env

    with pytest.raises(ConfigError, match="KORE_CLIENT_SECRET") as info:
        credentials_from_env()
    assert str(project / ".env") in str(info.value)


def test_kernels_get_the_project_folder_and_never_a_secret(project):
    env = kernel_environment()
    assert env == {"ENGAGEMENT_KIT_HOME": str(project)}
    assert SECRET in settings.known_secrets()


def test_the_report_kernel_environment_points_at_the_project(project):

    with report_params.kernel_environment():
        assert os.environ["ENGAGEMENT_KIT_HOME"] == str(project)
        assert "KORE_CLIENT_SECRET" not in os.environ
    assert "ENGAGEMENT_KIT_HOME" not in os.environ


def test_the_store_path_comes_from_the_projects_dotenv(project):
    from engagement_kit.store import default_store_path

    assert default_store_path() == project / "data" / "mine.sqlite3"


# -- one stream model -------------------------------------------------------------------------
def test_demo_streams_are_stream_configs_with_channel_hints():
    streams = demo_streams()
    assert [s.id for s in streams] == [s.id for s in DEMO_STREAMS]
    assert all(isinstance(s, StreamConfig) and s.channels == () for s in streams)
    assert streams[0].known_channels == DEMO_STREAMS[0].channel_names


def test_from_stream_reads_mappings_and_validates_like_streams_toml():
    entry = StreamConfig.from_stream(
        {
            "id": "a",
            "name": " A ",
            "tz": "UTC",
            "channels": "rtm",
            "channels_breakdown": "rtm, slack",
        }
    )
    assert (entry.name, entry.channels) == ("A", ("rtm",))
    assert entry.channels_breakdown == ("rtm", "slack")
    with pytest.raises(ConfigError, match="channels_breakdown"):  # one channel per request
        StreamConfig.from_stream({"id": "a", "name": "A", "tz": "UTC", "channels": "rtm, slack"})
    with pytest.raises(ConfigError, match="field tz"):
        StreamConfig.from_stream({"id": "a", "name": "A", "tz": "Mars/Base"})


# -- init ---------------------------------------------------------------------------------------
def test_init_makes_a_project_and_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "mine"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "mine"
    assert {p.name for p in root.iterdir()} == {
        ".env", ".gitignore", "streams.toml", "README.md", "reports"
    }  # fmt: skip
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    assert "KORE_CLIENT_SECRET" in (root / "README.md").read_text()
    assert "engagement-kit doctor" in result.output


def test_what_init_writes_is_true_where_it_is_written(tmp_path, monkeypatch):
    """.env used to start "Copy to .env (... it is in .gitignore)" with no .gitignore written,
    put the store in the cache folder and point at a README and .env.example a pip user lacks;
    a second init still said "Next: fill in .env"."""
    from engagement_kit.store.location import default_store_path

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "mine"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "mine"
    env = (root / ".env").read_text()
    assert "Copy to .env" not in env and "this folder's .gitignore keeps it out" in env
    assert f"default: {default_store_path(adopt=False)}" in env and "cache" not in env
    settings_lines = [line for line in env.splitlines() if not line.startswith("#") and line]
    example = [
        line
        for line in (REPO / ".env.example").read_text().splitlines()
        if not line.startswith("#") and line
    ]
    assert settings_lines == example  # the same settings as the example
    assert (root / ".gitignore").read_text().splitlines()[-1] == ".env"
    for name in (".env", "streams.toml", "README.md"):
        text = (root / name).read_text()
        assert "see README" not in text and ".env.example" not in text, name
    assert "Copy to streams.toml" not in (root / "streams.toml").read_text()
    assert "docs" in (root / "streams.toml").read_text()
    assert "Next: fill in" in result.output and "KORE_CLIENT_SECRET" in result.output
    again = CliRunner().invoke(app, ["init", "mine"])
    said = " ".join(again.output.split())
    assert "already a project (nothing created); still to fill in" in said
    assert "Next:" not in said and not again.output.startswith("created")
    (root / ".env").write_text("KORE_HOST=https://mine.example\nKORE_JWT=abc\n")
    done = " ".join(CliRunner().invoke(app, ["init", "mine"]).output.split())
    assert "already a project with its settings filled in; nothing to do" in done
    again = init_project(root)
    assert again.created == [] and root / ".env" in again.kept
    assert (root / ".env").read_text() == "KORE_HOST=https://mine.example\nKORE_JWT=abc\n"


def test_init_adds_env_to_an_existing_gitignore_once(tmp_path):
    (tmp_path / ".gitignore").write_text("*.pyc")
    first = init_project(tmp_path)
    assert first.updated == [tmp_path / ".gitignore"]
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "*.pyc"
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()
    second = init_project(tmp_path)
    assert second.updated == [] and tmp_path / ".gitignore" in second.kept


def test_init_refuses_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        init_project(tmp_path / "file")


def test_project_option_points_every_setting_at_that_folder(tmp_path, monkeypatch):
    init_project(tmp_path / "p")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGAGEMENT_KIT_HOME", "")  # --project sets it; undone after the test
    result = CliRunner().invoke(app, ["--project", str(tmp_path / "p"), "streams"])
    assert result.exit_code == 0, result.output
    assert "ShopEasy" in result.output and "st-demo" not in result.output
    result = CliRunner().invoke(app, ["--project", str(tmp_path / "nope"), "streams"])
    assert result.exit_code == 2 and "not a folder" in " ".join(result.output.split())


# -- bundled files ------------------------------------------------------------------------------
def test_bundled_files_are_the_checkouts_in_an_editable_install():
    for relative in BUNDLED:
        assert bundled_file(relative) == REPO / relative
    with pytest.raises(ConfigError, match="looked for"):
        bundled_file("notebooks/nope.ipynb")


def test_setup_py_bundles_the_same_files():
    import ast

    tree = ast.parse((REPO / "setup.py").read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "BUNDLED"
    )
    assert tuple(listed) == BUNDLED
    manifest = (REPO / "MANIFEST.in").read_text().split()
    assert all(path in manifest for path in BUNDLED)


# -- Gaps the mutation run found in where settings were looked for, what a broken session cache


def test_without_a_project_the_error_names_the_folder_the_search_started_in(tmp_path, monkeypatch):
    start = tmp_path / "reports" / "q4"
    start.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the search started in `start`, not in the current folder
    settings = load_settings({}, dotenv=True, start=start)
    assert settings.project.root is None
    where = settings.where()
    assert f"no .env or streams.toml in {start} or any folder above it" in where, where
    assert "engagement-kit init" in where


def test_settings_made_without_a_project_say_so():
    assert Settings(project=None).where() == "the environment (no project)"


def test_a_session_cache_that_cannot_be_opened_says_how_to_fix_it(tmp_path):
    folder = tmp_path / "store.sqlite3"
    folder.mkdir()  # a folder where the store file should be
    cache = SessionCache(folder)
    with pytest.raises(StoreError) as caught:
        cache.count("https://platform.example.com", "st-1")
    message = str(caught.value)
    assert str(folder) in message
    assert "is a directory" in message and "set ENGAGEMENT_KIT_STORE to a file path" in message


def test_the_delivery_record_creates_the_folders_above_it(tmp_path):
    path = tmp_path / "data" / "engagement-kit" / "store.sqlite3"  # none of them exist yet
    with Ledger(path) as ledger:
        assert ledger.sent("st-1", "2025-W45", "mailto://x@example.com", "email") is None
        ledger.record("st-1", "2025-W45", "mailto://x@example.com", "email", "abc123")
        hash_, sent_at = ledger.sent("st-1", "2025-W45", "mailto://x@example.com", "email")
    assert hash_ == "abc123" and sent_at
    assert path.is_file()


def test_an_unknown_source_is_refused_naming_the_parameter_and_both_sources():
    from engagement_kit.data_source import check_source
    from engagement_kit.errors import InvalidQueryError

    with pytest.raises(InvalidQueryError) as caught:
        check_source("plattform")
    assert caught.value.field == "source"  # the parameter a notebook or form should flag
    assert "'demo'" in str(caught.value) and "'platform'" in str(caught.value)
    assert check_source("demo") == "demo"
