"""Warm kernels for a batch: each worker process starts its next kernel while the current report
runs, and that kernel has the toolkit, pandas and altair imported before it is needed.

Kernels are forked from the batch's :class:`~engagement_kit.report.zygote.Zygote`, a process
that did those imports once (shared by the workers through a
:class:`~engagement_kit.report.zygote.ZygoteLink`); without one (it failed to start) a kernel is started the usual way
and runs :data:`PRELOAD`. A kernel runs exactly one notebook and is then shut down, so no state
passes from one stream to the next; only the imports are done ahead. papermill takes the
started kernel through its ``km=`` argument (nbclient then neither starts nor stops it:
``NotebookClient.owns_km`` is false), and :meth:`KernelPool.kernel` shuts it down afterwards.

How many kernels start ahead is shared by the workers of a batch (:class:`PoolPlan`): a kernel
starts only while more streams wait than kernels are already warming, so the last reports of a
batch do not warm kernels nobody will use.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from queue import Empty
from typing import Any

import psutil
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from engagement_kit.report.execute import KERNEL_ARGUMENTS, START_TIMEOUT, ipc_kernel_manager
from engagement_kit.report.params import kernel_environment_values
from engagement_kit.report.signals import remove_on_stop
from engagement_kit.report.task import DEFAULT_KERNEL
from engagement_kit.report.zygote import Zygote, ZygoteLink

__all__ = [
    "PRELOAD",
    "ForkedKernel",
    "KernelPool",
    "PoolPlan",
    "QuickReadyClient",
    "WarmKernel",
    "ZygoteProvisioner",
]

#: What a warm kernel runs before its notebook: imports only (modules, no names in the user's
#: namespace), the quick-import switch first, and one chart validated so altair's schema
#: validator is built. Nothing is displayed, so the notebook's outputs are unchanged.
PRELOAD = """\
def _ek_preload():
    import engagement_kit.charts as charts
    charts.skip_slow_optional_imports()
    import altair, pandas, IPython.display
    import engagement_kit.report.weekly, engagement_kit.data_source, engagement_kit.client
    import engagement_kit.demo
    altair.Chart(pandas.DataFrame({"x": [1]})).mark_point().encode(x="x:Q").to_dict()
_ek_preload()
del _ek_preload
"""


@dataclasses.dataclass
class PoolPlan:
    """Counters shared by the workers of one batch (``multiprocessing`` values).

    Attributes
    ----------
    waiting : Value
        Streams no worker has started yet.
    warming : Value
        Kernels started ahead and not yet given a notebook.
    kernel_name : str
    zygote : ZygoteLink, optional
        The batch's zygote, which the workers share; without one each worker starts its own.
    """

    waiting: Any
    warming: Any
    kernel_name: str = DEFAULT_KERNEL
    zygote: ZygoteLink | None = None

    @classmethod
    def for_batch(
        cls,
        ctx: Any,
        tasks: int,
        kernel_name: str = DEFAULT_KERNEL,
        zygote: ZygoteLink | None = None,
    ) -> PoolPlan:
        """A plan for ``tasks`` streams (``ctx``: the pool's multiprocessing context)."""
        return cls(ctx.Value("i", tasks), ctx.Value("i", 0), kernel_name, zygote)

    def claim_start(self) -> bool:
        """Whether to warm one more kernel (and count it): more streams wait than kernels warm."""
        with self.waiting.get_lock():
            if self.waiting.value > self.warming.value:
                self.warming.value += 1
                return True
            return False

    def claim_stream(self, *, had_kernel: bool) -> None:
        """A worker starts a stream, in a kernel warmed ahead or not."""
        with self.waiting.get_lock():
            self.waiting.value -= 1
            if had_kernel:
                self.warming.value -= 1


class ForkedKernel:
    """What jupyter_client expects of ``subprocess.Popen``, for a kernel the zygote forked."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._process = psutil.Process(pid)

    def poll(self) -> int | None:
        try:
            alive = self._process.is_running() and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        return None if alive else 0

    def wait(self, timeout: float | None = None) -> int:
        with contextlib.suppress(psutil.Error):
            self._process.wait(timeout)
        return 0

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ZygoteProvisioner(LocalProvisioner):
    """A ``LocalProvisioner`` that forks its kernel from a :class:`Zygote`."""

    zygote: Zygote | ZygoteLink | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        assert self.zygote is not None
        argv = cmd[cmd.index("-f") :]  # after "python -m ipykernel_launcher"
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        # the kernel exits when its parent (the zygote) does, as jupyter_client's launcher
        # arranges (JPY_PARENT_PID) for the kernels it starts itself; ipykernel read that
        # variable when the zygote imported it, so it goes on the command line instead
        argv = [*argv, f"--IPKernelApp.parent_handle={self.zygote.pid}"]
        pid = self.zygote.spawn(argv, env, kwargs.get("cwd"))
        self.process = ForkedKernel(pid)  # type: ignore[assignment]
        self.pid = pid
        self.pgid = pid
        return self.connection_info


class QuickReadyClient(AsyncKernelClient):
    """The client papermill gets for a warm kernel: ready as soon as the kernel has answered
    ``kernel_info`` and IOPub has delivered the ``idle`` status of that request.

    jupyter_client's own ``wait_for_ready`` then also waits for 0.2 s of silence on IOPub
    ("flush"), every time: a fifth of a second per report for a kernel that is known to be up
    and idle. The ``idle`` of our own request proves IOPub is connected and carries nothing
    older; when it does not come within :attr:`IOPUB_WAIT` (a subscriber that joined late),
    the request is sent again, as jupyter_client does.
    """

    IOPUB_WAIT = 0.5

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await self._reply_to(msg_id, deadline)
            if reply is not None and await self._idle_after(msg_id):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _reply_to(self, msg_id: str, deadline: float) -> dict[str, Any] | None:
        while True:
            wait = min(1.0, max(0.0, deadline - time.monotonic()))
            try:
                msg = await self._async_get_shell_msg(timeout=wait)
            except Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    async def _idle_after(self, msg_id: str) -> bool:
        end = time.monotonic() + self.IOPUB_WAIT
        while (wait := end - time.monotonic()) > 0:
            try:
                msg = await self._async_get_iopub_msg(timeout=wait)
            except Empty:
                return False
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return True
        return False


class WarmKernel:
    """One kernel, started in a background thread: forked from ``zygote``, or started the
    usual way and then running :data:`PRELOAD`."""

    def __init__(
        self, kernel_name: str = DEFAULT_KERNEL, zygote: Zygote | ZygoteLink | None = None
    ) -> None:
        self._sockets = tempfile.TemporaryDirectory(prefix="ek-kernel-")
        remove_on_stop(self._sockets.name)
        self.km = ipc_kernel_manager(self._sockets.name)(kernel_name=kernel_name)
        # the kernel is up and idle when papermill gets it: no 0.2 s IOPub flush
        self.km.client_factory = QuickReadyClient
        self.zygote = zygote
        if zygote is not None:
            self.km.kernel_id = str(uuid.uuid4())
            provisioner = ZygoteProvisioner(
                kernel_id=self.km.kernel_id, kernel_spec=self.km.kernel_spec, parent=self.km
            )
            provisioner.zygote = zygote
            self.km.provisioner = provisioner
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="ek-warm-kernel", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            env = {**os.environ, **kernel_environment_values()}
            self.km.start_kernel(extra_arguments=list(KERNEL_ARGUMENTS), env=env)
            client = self.km.blocking_client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=START_TIMEOUT)
                if self.zygote is not None:
                    return  # forked with the imports done
                msg_id = client.execute(PRELOAD, silent=True, store_history=False)
                while True:
                    reply = client.get_shell_msg(timeout=START_TIMEOUT)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
                if reply["content"].get("status") != "ok":
                    raise RuntimeError(f"kernel preload failed: {reply['content'].get('evalue')}")
            finally:
                client.stop_channels()
        except BaseException as exc:  # reported by ready(); the batch then starts a cold kernel
            self.error = exc

    def ready(self, timeout: float = START_TIMEOUT * 2) -> bool:
        """Wait for the start; whether the kernel is alive and preloaded."""
        self._thread.join(timeout)
        return not self._thread.is_alive() and self.error is None

    def discard(self) -> None:
        """Shut the kernel down at once and remove its sockets; safe to call twice."""
        self._thread.join(START_TIMEOUT * 2)
        with contextlib.suppress(Exception):
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.km.cleanup_resources()
        self._sockets.cleanup()


class KernelPool:
    """The warm kernel of one worker process (at most one ahead), planned with the others."""

    def __init__(self, plan: PoolPlan, *, zygote: Zygote | ZygoteLink | None = None) -> None:
        self.plan = plan
        self.zygote = zygote
        self._next: WarmKernel | None = None
        self._discarding: list[threading.Thread] = []
        atexit.register(self.close)

    @property
    def warming(self) -> bool:
        """A kernel is warming (or warm) for this worker's next report."""
        return self._next is not None

    def prepare(self) -> None:
        """Start warming a kernel if the batch still needs one."""
        if self._next is None and self.plan.claim_start():
            self._next = WarmKernel(self.plan.kernel_name, self.zygote)

    @contextlib.contextmanager
    def kernel(self) -> Iterator[Any]:
        """The kernel manager to run one notebook in (``None``: start a cold one), then discard.

        The next kernel starts warming as soon as this one is handed out; a used kernel is shut
        down in a background thread, so the worker goes on with its next report at once.
        """
        warm, self._next = self._next, None
        self.plan.claim_stream(had_kernel=warm is not None)
        self.prepare()
        if warm is not None and not warm.ready():
            warm.discard()
            warm = None
        try:
            yield warm.km if warm is not None else None
        finally:
            if warm is not None:
                self._discard_later(warm)

    def _discard_later(self, kernel: WarmKernel) -> None:
        self._discarding = [t for t in self._discarding if t.is_alive()]
        thread = threading.Thread(target=kernel.discard, name="ek-discard-kernel", daemon=True)
        thread.start()
        self._discarding.append(thread)

    def close(self) -> None:
        """Wait for the kernels being shut down; discard a kernel warmed for a stream that never
        came; stop the zygote."""
        for thread in self._discarding:
            thread.join(START_TIMEOUT)
        self._discarding = []
        if self._next is not None:
            self._next.discard()
            self._next = None
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
