"""Module-scoped fixtures run before the per-test isolation: they must still never reach the
developer's own store or rate-limit budget."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SEEN: dict[str, str | None] = {}


@pytest.fixture(scope="module")
def module_env():
    _SEEN.update(
        {n: os.environ.get(n) for n in ("ENGAGEMENT_KIT_STORE", "ENGAGEMENT_KIT_RATELIMIT_DB")}
    )
    return _SEEN


def test_module_fixtures_see_a_temporary_store_and_budget(module_env, tmp_path_factory):
    base = Path(tmp_path_factory.getbasetemp())
    for name, value in module_env.items():
        assert value is not None, name
        assert Path(value).is_relative_to(base), (name, value)
        assert ".cache" not in value and ".local" not in value
