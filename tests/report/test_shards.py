"""``report --shard K/N`` and ``report --index-only``: a batch split over machines, one index."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.config.streams import StreamConfig
from engagement_kit.demo import demo_streams
from engagement_kit.errors import InvalidQueryError
from engagement_kit.report.shards import parse_shard, shard_of, shard_streams

runner = CliRunner()
WEEK = "2025-W47"


@pytest.mark.parametrize(
    ("text", "parsed"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))]
)
def test_a_shard_is_k_of_n(text, parsed):
    assert parse_shard(text) == parsed


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "1", "a/b", "", "-1/2", "1/2/3"])
def test_a_bad_shard_names_the_option_and_the_form(text):
    with pytest.raises(InvalidQueryError, match=r"^--shard: .* K/N .* --shard 1/4"):
        parse_shard(text)


def _configs(ids):
    return [StreamConfig(id=i, name=f"Bot {n}", tz="UTC") for n, i in enumerate(ids)]


@given(
    ids=st.lists(st.text("abcdef-0123456789", min_size=1, max_size=12), unique=True, max_size=40),
    n=st.integers(1, 7),
)
def test_the_parts_cover_every_stream_once_in_order(ids, n):
    configs = _configs(ids)
    parts = [shard_streams(configs, k, n) for k in range(1, n + 1)]
    assert sorted(c.id for p in parts for c in p) == sorted(ids)
    for p in parts:  # each part keeps the configured order
        assert [c.id for c in p] == [c.id for c in configs if c in p]


def test_a_streams_part_depends_on_its_id_alone():
    # adding streams never moves another one; the split is the same on every machine
    assert shard_of("st-demo-retail-in", 4) == shard_of("st-demo-retail-in", 4)
    before = {i: shard_of(i, 3) for i in ("st-a", "st-b", "st-c")}
    after = {i: shard_of(i, 3) for i in ("st-a", "st-b", "st-c", "st-d", "st-e")}
    assert all(after[i] == p for i, p in before.items())
    # and it spreads: 300 ids over 3 parts, none empty or with more than half
    counts = [sum(shard_of(f"st-{i}", 3) == k for i in range(300)) for k in (1, 2, 3)]
    assert min(counts) > 50 and max(counts) < 150, counts


def test_index_only_wants_no_report_options(tmp_path):
    result = runner.invoke(
        app, ["report", "--index-only", "--shard", "1/2", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--index-only writes no report" in result.output
    result = runner.invoke(app, ["report", "--index-only", "--out-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "is not a folder of reports" in " ".join(result.output.split())


def test_a_bad_shard_is_one_sentence_on_the_command_line(tmp_path):
    result = runner.invoke(app, ["report", "--demo", "--shard", "3/2", "--out-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--shard: '3/2' is not K/N" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_two_shards_then_the_index_list_every_stream_once(tmp_path):
    ids = [s.id for s in demo_streams()]
    parts = {k: [s.id for s in shard_streams(demo_streams(), k, 2)] for k in (1, 2)}
    assert sorted(parts[1] + parts[2]) == sorted(ids)
    for k in (1, 2):
        result = runner.invoke(
            app,
            [
                "report",
                "--demo",
                "--shard",
                f"{k}/2",
                "--week",
                WEEK,
                "--jobs",
                "1",
                "--out-dir",
                str(tmp_path),
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"shard {k}/2: {len(parts[k])} of {len(ids)} streams" in result.output
        assert not (tmp_path / "index.html").exists()  # a shard leaves the index alone
    sidecars = [json.loads(p.read_text()) for p in tmp_path.glob(f"*/{WEEK}.json")]
    assert sorted(s["stream_id"] for s in sidecars) == sorted(ids)
    result = runner.invoke(app, ["report", "--index-only", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "index.html").read_text()
    for s in demo_streams():
        assert index.count(f">{s.name}<") >= 1, s.name
