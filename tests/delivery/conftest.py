"""Fixtures the delivery tests share: both demo streams' reports of one week."""

from __future__ import annotations

import shutil

import pytest

from tests.delivery.test_delivery import HR, IT, write_report


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Both streams' reports of WEEK, written once per module (copied per test by ``out``)."""
    from engagement_kit.demo import demo_client
    from engagement_kit.store import ResponseStore

    store = ResponseStore(tmp_path_factory.mktemp("store") / "responses.sqlite3")
    base = tmp_path_factory.mktemp("written")
    with demo_client(store=store) as client:
        for stream in (HR, IT):
            write_report(base, stream, client=client)
    return base


@pytest.fixture
def out(pages, tmp_path):
    target = tmp_path / "reports"
    shutil.copytree(pages, target)
    return target
