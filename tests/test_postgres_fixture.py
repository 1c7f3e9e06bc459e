"""The throwaway PostgreSQL server the team-store tests use answers, and each test gets its own
empty database."""

from __future__ import annotations

import subprocess


def test_the_test_server_answers_and_the_database_is_empty(postgres_url):
    done = subprocess.run(
        ["psql", postgres_url, "-Atc", "select count(*) from pg_tables where schemaname='public'"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
