"""Gaps the mutation run found in where settings were looked for, what a broken session cache
tells the user and where the delivery record is kept (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import pytest

from engagement_kit.config.settings import Settings, load_settings
from engagement_kit.delivery import Ledger
from engagement_kit.errors import StoreError
from engagement_kit.metrics.first_seen import SessionCache


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
    assert "delete the file or set ENGAGEMENT_KIT_STORE to another path" in message


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
