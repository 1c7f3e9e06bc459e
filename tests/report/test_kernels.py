"""Warm kernels: forked with the imports done, one notebook each, nothing shared, nothing left."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import signal

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from engagement_kit.report import execute_notebook
from engagement_kit.report.kernels import KernelPool, PoolPlan, QuickReadyClient, WarmKernel
from engagement_kit.report.zygote import Zygote


def _plan(tasks: int) -> PoolPlan:
    return PoolPlan.for_batch(multiprocessing.get_context("spawn"), tasks)


def test_plan_warms_one_kernel_per_stream_and_no_more():
    plan = _plan(5)
    workers = [plan.claim_start(), plan.claim_start()]  # each worker warms one at start
    assert workers == [True, True]
    started = 2
    for _ in range(5):  # five streams, each taken with a warm kernel, the next one warmed
        plan.claim_stream(had_kernel=True)
        started += plan.claim_start()
    assert started == 5  # not 7: the last two streams warm nothing
    assert (plan.waiting.value, plan.warming.value) == (0, 0)


def test_plan_for_one_stream_on_two_workers():
    plan = _plan(1)
    assert [plan.claim_start(), plan.claim_start()] == [True, False]


def test_a_stream_without_a_warm_kernel_keeps_the_count():
    plan = _plan(3)
    assert plan.claim_start()
    plan.claim_stream(had_kernel=False)  # a worker whose kernel failed runs cold
    assert (plan.waiting.value, plan.warming.value) == (2, 1)
    assert plan.claim_start()  # 2 waiting > 1 warming
    assert not plan.claim_start()


def _notebook(path, *sources: str) -> None:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _text(nb, index: int) -> str:
    outputs = nb.cells[index].outputs
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


@pytest.mark.slow
def test_forked_kernels_have_the_imports_and_share_no_state(tmp_path):
    _notebook(
        tmp_path / "a.ipynb",
        "import sys; print(sorted(m for m in ('pandas', 'altair', 'engagement_kit.report.weekly')"
        " if m in sys.modules))",
        "leak = 'from stream A'\nimport os; print(os.getpid())",
    )
    _notebook(
        tmp_path / "b.ipynb",
        "print('leak' in globals())",
        "import os; print(os.getpid())",
    )
    zygote = Zygote()
    try:
        first, second = WarmKernel(zygote=zygote), WarmKernel(zygote=zygote)
        assert first.ready() and second.ready(), (first.error, second.error)
        pids = [first.km.provisioner.pid, second.km.provisioner.pid]
        a = execute_notebook(tmp_path / "a.ipynb", tmp_path / "a-out.ipynb", {}, km=first.km)
        b = execute_notebook(tmp_path / "b.ipynb", tmp_path / "b-out.ipynb", {}, km=second.km)
        assert _text(a, 0).strip() == "['altair', 'engagement_kit.report.weekly', 'pandas']"
        assert _text(b, 0).strip() == "False"  # stream A's variable is not in stream B's kernel
        assert int(_text(a, 1)) == pids[0] and int(_text(b, 1)) == pids[1] != pids[0]
        for kernel in (first, second):
            kernel.discard()
        for pid in pids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    finally:
        zygote.close()


@pytest.mark.slow
def test_pool_hands_out_each_kernel_once_and_cleans_up(tmp_path):
    _notebook(tmp_path / "n.ipynb", "import os; print(os.getpid())")
    pool = KernelPool(_plan(2), zygote=Zygote())
    pool.prepare()
    zygote_pid = pool.zygote.pid
    seen = []
    for i in range(2):
        with pool.kernel() as km:
            assert km is not None
            nb = execute_notebook(tmp_path / "n.ipynb", tmp_path / f"o{i}.ipynb", {}, km=km)
            seen.append(int(_text(nb, 0)))
    assert seen[0] != seen[1]
    assert not pool.warming  # two streams, two kernels: none warming for nobody
    pool.close()
    assert not psutil.pid_exists(zygote_pid) or psutil.Process(zygote_pid).status() == "zombie"
    for pid in seen:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


@pytest.mark.slow
def test_forked_kernel_exits_when_its_zygote_does():
    zygote = Zygote()
    kernel = WarmKernel(zygote=zygote)
    try:
        assert kernel.ready(), kernel.error
        pid = kernel.km.provisioner.pid
        zygote.close()  # e.g. the batch was stopped, or its parent killed (stdin closed)
        with contextlib.suppress(psutil.NoSuchProcess):  # the zygote stops it, or the
            psutil.Process(pid).wait(timeout=10)  # kernel's parent poller notices
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    finally:
        kernel.discard()
        zygote.close()


@pytest.mark.slow
def test_forked_kernels_inherit_the_zygote_heap_frozen(tmp_path):
    # gc.freeze() in the zygote: a kernel's collections skip (and never write to) the imports
    _notebook(tmp_path / "f.ipynb", "import gc; print(gc.get_freeze_count() > 10_000)")
    zygote = Zygote()
    kernel = WarmKernel(zygote=zygote)
    try:
        assert kernel.ready(), kernel.error
        nb = execute_notebook(tmp_path / "f.ipynb", tmp_path / "f-out.ipynb", {}, km=kernel.km)
        assert _text(nb, 0).strip() == "True"
    finally:
        kernel.discard()
        zygote.close()


async def _ready_then_run(client: QuickReadyClient, code: str) -> list[str]:
    """wait_for_ready, then the IOPub messages of one execution up to its idle."""
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=10)
        msg_id = client.execute(code)
        seen = []
        while True:
            msg = await client.get_iopub_msg(timeout=10)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(msg.get("content", {}).get("text") or msg["msg_type"])
            if msg["content"].get("execution_state") == "idle":
                return seen
    finally:
        client.stop_channels()


@pytest.mark.slow
def test_quick_ready_client_is_ready_with_iopub_connected_and_notices_a_dead_kernel():
    zygote = Zygote()
    kernel = WarmKernel(zygote=zygote)
    try:
        assert kernel.ready(), kernel.error
        client = kernel.km.client()
        assert isinstance(client, QuickReadyClient)  # what papermill gets for a warm kernel
        seen = asyncio.run(_ready_then_run(client, "print('hello')"))
        assert "hello\n" in seen  # the output came over IOPub: it was connected when ready
        os.kill(kernel.km.provisioner.pid, signal.SIGKILL)
        dead = kernel.km.client()
        with pytest.raises(RuntimeError, match=r"died|respond"):
            asyncio.run(_ready_then_run(dead, "1"))
    finally:
        kernel.discard()
        zygote.close()


@pytest.mark.slow
def test_workers_share_one_zygote_through_its_link():
    zygote = Zygote()
    link = pickle.loads(pickle.dumps(zygote.link()))  # as a worker process receives it
    kernels = [WarmKernel(zygote=link), WarmKernel(zygote=link)]
    try:
        assert all(k.ready() for k in kernels), [k.error for k in kernels]
        pids = [k.km.provisioner.pid for k in kernels]
        assert pids[0] != pids[1]
        assert [psutil.Process(pid).ppid() for pid in pids] == [zygote.pid, zygote.pid]
    finally:
        for kernel in kernels:
            kernel.discard()
        zygote.close()
    assert not psutil.pid_exists(zygote.pid) or psutil.Process(zygote.pid).status() == "zombie"
