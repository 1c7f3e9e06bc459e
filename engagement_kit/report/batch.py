"""Many reports at once, in the parent process: check the arguments, build one
:class:`~engagement_kit.report.task.ReportTask` per stream, run them in a bounded pool of worker
processes with one progress bar each, then write the index.

Imports nothing heavy: papermill and nbconvert load in the workers only
(:mod:`~engagement_kit.report.worker`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import queue as queue_module
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engagement_kit.charts.fast_import import skip_slow_optional_imports
from engagement_kit.client.auth import credentials_from_env
from engagement_kit.config.settings import STREAMS_ENV
from engagement_kit.config.streams import (
    StreamConfig,
    host_from_env,
    load_platforms,
    normalize_host,
)
from engagement_kit.config.weeks import ended_week
from engagement_kit.data_source import check_source
from engagement_kit.errors import ConfigError, InvalidQueryError, WriteError
from engagement_kit.report.index import write_index
from engagement_kit.report.params import DEFAULT_WEEKS_OF_HISTORY, one_sentence, report_parameters
from engagement_kit.report.signals import call_in_worker, stop_pool, worker_stops_on_signals
from engagement_kit.report.summary import print_summary
from engagement_kit.report.task import ReportResult, ReportTask, set_progress_queue
from engagement_kit.report.zygote import Zygote
from engagement_kit.store.files import stream_slug, write_error

if TYPE_CHECKING:
    from engagement_kit.config.platforms import PlatformProfile
    from engagement_kit.report.kernels import KernelPool, PoolPlan

__all__ = [
    "MAX_DEFAULT_JOBS",
    "default_jobs",
    "render_all",
    "render_report",
]

MAX_DEFAULT_JOBS = 4


def default_jobs() -> int:
    """Parallel report runs by default: the number of cores, at most 4."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def resolve_week(config: StreamConfig, week: str | None, today: dt.date | None) -> str:
    return ended_week(week, config.tz, today=today)


def _stream_hosts(
    configs: Sequence[StreamConfig],
    source: str,
    host: str | None,
    platforms: Mapping[str, PlatformProfile] | None,
) -> list[str]:
    """Each stream's API host: its ``[platform.NAME]`` profile's (for the demo: its demo
    platform's), else ``host``/``$KORE_HOST`` (checked, with the credentials, only when a stream
    uses the project's settings).

    A profile's credentials are not checked here: a profile whose variable is not set, or whose
    secret is wrong, fails its own streams (one sentence naming the platform), not the run.
    """
    hosts: list[str] = []
    default: str | None = None
    for config in configs:
        if config.platform and source == "demo":
            from engagement_kit.demo import demo_region

            hosts.append(demo_region(config.platform).host)
        elif config.platform:
            if platforms is None:
                from engagement_kit.data_source import platform_profile

                hosts.append(platform_profile(config.platform).host)
            elif config.platform in platforms:
                hosts.append(platforms[config.platform].host)
            else:
                raise ConfigError(
                    f"stream {config.id}: platform {config.platform!r} has no "
                    f"[platform.{config.platform}] table in the streams file"
                )
        elif source == "platform":
            default = default or _platform_host(host)
            hosts.append(default)
        else:
            hosts.append(normalize_host(host) if host else "")
    return hosts


def _folders(configs: Sequence[StreamConfig], hosts: Sequence[str]) -> list[str]:
    """Each stream's folder under ``reports/``: its name's slug; a stream whose slug another
    stream on another platform already has gets its platform's name added (the same bot in two
    regions is two streams, two folders)."""
    folders: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for config, host in zip(configs, hosts, strict=True):
        slug = stream_slug(config.name, config.id)
        if slug in seen and seen[slug][1] != host and config.platform:
            slug = stream_slug(f"{config.name} {config.platform}", config.id)
        if slug in seen:
            raise ConfigError(
                f"streams {seen[slug][0]!r} and {config.id!r} would share the folder {slug!r}; "
                "give them distinct names"
            )
        seen[slug] = (config.id, host)
        folders.append(slug)
    return folders


@contextlib.contextmanager
def _streams_file_for_kernels(streams_file: str | os.PathLike[str] | None) -> Iterator[None]:
    """``ENGAGEMENT_KIT_STREAMS`` for the kernels (they read their stream's profile there) when
    the streams file is not the project's own; undone afterwards."""
    if streams_file is None or STREAMS_ENV in os.environ:
        yield
        return
    os.environ[STREAMS_ENV] = str(Path(streams_file).resolve())
    try:
        yield
    finally:
        os.environ.pop(STREAMS_ENV, None)


def _platform_host(host: str | None) -> str:
    """The API host for ``source="platform"``, after checking credentials are set (fail fast).

    Credentials are only checked for presence here; the kernels read them again from their
    environment. The host is not a secret and travels as a parameter.
    """
    resolved = normalize_host(host) if host else host_from_env()
    credentials_from_env()  # ConfigError naming the variables when none are set
    return resolved


def render_all(
    configs: Sequence[StreamConfig],
    *,
    week: str | None = None,
    out_dir: str | os.PathLike[str] = "reports",
    jobs: int | None = None,
    keep_notebook: bool = False,
    self_contained: bool = False,
    source: str = "demo",
    host: str | None = None,
    weeks_of_history: int = DEFAULT_WEEKS_OF_HISTORY,
    notebook: str | os.PathLike[str] | None = None,
    console: Console | None = None,
    quiet: bool = False,
    today: dt.date | None = None,
    streams_file: str | os.PathLike[str] | None = None,
    index: bool = True,
    stream_notes: Mapping[str, str] | None = None,
) -> list[ReportResult]:
    """Write the weekly report of every stream, in parallel, then the index page.

    Parameters
    ----------
    configs : sequence of StreamConfig
        The streams (``config.load_streams``, or the demo streams).
    week : str, optional
        ``'YYYY-Www'``; default the last complete ISO week in each stream's own zone.
    out_dir : path
        Reports go to ``out_dir/<stream-slug>/<week>.html`` and ``.json``; the index to
        ``out_dir/index.html``.
    jobs : int, optional
        Parallel notebook runs (worker processes); default :func:`default_jobs`.
    keep_notebook : bool
        Also keep each executed notebook as ``<week>.ipynb``.
    self_contained : bool
        Inline the chart libraries (about 900 KB) into every page. Default: the pages share
        one copy, written once into ``out_dir/_assets/`` (see :func:`write_assets`), and load
        it by relative path; they open offline as long as the folder travels whole.
    source : {"demo", "platform"}
    host : str, optional
        The API host for ``source="platform"`` (default ``$KORE_HOST``); credentials always come
        from the environment or ``.env`` and are checked for presence before anything runs.
    notebook : path, optional
        The report notebook (default :func:`default_notebook`).
    console : rich.console.Console, optional
        Where the progress bars and the summary table go (default: stderr).
    quiet : bool
        Show neither.
    today : date, optional
        "Today" for the default week (tests).
    streams_file : path, optional
        The streams file the configs came from, when it is not the project's ``streams.toml``:
        a stream with ``platform = "NAME"`` uses that file's ``[platform.NAME]`` profile.
    index : bool
        Rebuild ``out_dir/index.html`` afterwards (a shard of a split batch leaves it to the
        final ``report --index-only``).
    stream_notes : mapping, optional
        Stream id → where its settings came from when not all from ``streams.toml``
        (:meth:`engagement_kit.config.streams.NamedStream.note`), shown in its report.

    Returns
    -------
    list of ReportResult
        In the order of ``configs``. A failed stream is a result with ``status="failed"``;
        the others are still written.

    Raises
    ------
    InvalidQueryError, ConfigError
        Bad arguments or settings, before anything runs: an invalid or unfinished week, an
        unknown source, no host or credentials for ``source="platform"``, two streams with the
        same folder name, no streams.
    WriteError
        The index (or the reports folder) could not be written, e.g. out of space: raised
        after the summary; reports that could not be written are failed results instead.
    """
    source = check_source(source)
    if not configs:
        raise ConfigError("no streams to report on; list them in streams.toml or use --demo")
    if jobs is None:
        jobs = default_jobs()
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise InvalidQueryError(f"jobs: {jobs!r} must be a whole number >= 1", field="jobs")
    with _streams_file_for_kernels(streams_file):
        platforms = load_platforms(streams_file) if streams_file is not None else None
        hosts = _stream_hosts(configs, source, host, platforms)
    if notebook is None:
        from engagement_kit.report.execute import (
            default_notebook,  # papermill stays out of the parent
        )

        nb_path = default_notebook()
    else:
        nb_path = Path(notebook)
    if not nb_path.is_file():
        raise ConfigError(f"notebook: {nb_path} does not exist")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out, exc) from exc

    tasks: list[ReportTask] = []
    folders = _folders(configs, hosts)
    for key, (config, slug) in enumerate(zip(configs, folders, strict=True)):
        stream_week = resolve_week(config, week, today)
        params = report_parameters(
            config,
            stream_week,
            source=source,
            host=hosts[key],
            weeks_of_history=weeks_of_history,
            stream_note=(stream_notes or {}).get(config.id, ""),
        )
        tasks.append(
            ReportTask(
                key=key,
                parameters=params,
                slug=slug,
                out_dir=str(out.resolve()),
                notebook=str(nb_path.resolve()),
                keep_notebook=keep_notebook,
                self_contained=self_contained,
            )
        )

    console = console or Console(stderr=True)
    with (
        _streams_file_for_kernels(streams_file),
        _progress(tasks, console=console, quiet=quiet) as update,
    ):
        results = run_tasks(tasks, jobs=min(jobs, len(tasks)), update=update)
    index_error: WriteError | None = None
    if index:
        try:
            write_index(out)
        except WriteError as exc:  # a full disk: the summary first, then the one sentence
            index_error = exc
    if not quiet:
        print_summary(results, console=console, index=index and index_error is None)
    if index_error is not None:
        raise index_error
    return results


def render_report(config: StreamConfig, **options: Any) -> ReportResult:
    """Write one stream's weekly report (in one worker process) and refresh the index.

    The keyword arguments of :func:`render_all` (``week``, ``out_dir``, ``keep_notebook``,
    ``self_contained``, ``source``, ``host``, ``weeks_of_history``, ``notebook``, ``console``, ``quiet``,
    ``today``), for a single stream.

    Returns
    -------
    ReportResult
    """
    return render_all([config], **{**options, "jobs": 1})[0]


@contextlib.contextmanager
def _progress(
    tasks: Sequence[ReportTask], *, console: Console, quiet: bool
) -> Iterator[Callable[[int, int, int], None]]:
    """One rich progress bar per stream; yields ``update(key, done, total)``."""
    if quiet:
        yield lambda key, done, total: None
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        ids = {
            t.key: progress.add_task(
                f"{t.parameters['stream_name']} {t.parameters['week']}", total=None, state="waiting"
            )
            for t in tasks
        }

        def update(key: int, done: int, total: int) -> None:
            task_id = ids.get(key)
            if task_id is None:
                return
            if done < 0:
                progress.update(task_id, total=total, completed=total, state="failed")
            else:
                state = "done" if done >= total else "running"
                progress.update(task_id, total=total, completed=done, state=state)

        yield update


# -- the worker processes ---------------------------------------------------------------------

_kernels: KernelPool | None = None


def init_worker(queue: object, plan: PoolPlan | None = None) -> None:
    """Pool initializer: progress queue, the quick-import switch, and the warm kernels.

    With a ``plan`` (:class:`~engagement_kit.report.kernels.PoolPlan`) the worker starts
    warming its first kernel at once, while it imports papermill and nbconvert, from the batch's
    zygote (or its own, when the plan has none).
    """
    global _kernels
    set_progress_queue(queue)
    skip_slow_optional_imports()
    worker_stops_on_signals()
    if plan is not None:
        # first: a zygote of its own imports while this worker does
        zygote = plan.zygote if plan.zygote is not None else Zygote()
        from engagement_kit.report.kernels import (
            KernelPool,  # jupyter_client loads in the worker only
        )

        _kernels = KernelPool(plan, zygote=zygote)
        _kernels.prepare()


def _run_task(task: ReportTask) -> ReportResult:
    """Worker: one stream's report (:func:`~engagement_kit.report.worker.run_task`)."""
    from engagement_kit.report.worker import (
        run_task,  # papermill and nbconvert load in the worker only
    )

    if _kernels is None:
        return run_task(task)
    with _kernels.kernel() as km:
        return run_task(task, km=km)


def run_tasks(
    tasks: Sequence[ReportTask],
    *,
    jobs: int,
    update: Callable[[int, int, int], None],
    warm: bool = True,
) -> list[ReportResult]:
    """Run the tasks in a bounded pool of worker processes; collect results in task order.

    Always in worker processes (``spawn``), even for one job: a kernel or zmq failure cannot
    take the caller down, the caller's process keeps its imports and environment, and workers
    can skip a slow optional import (:func:`engagement_kit.charts.skip_slow_optional_imports`).
    With ``warm`` (POSIX only) each worker runs its notebooks in kernels started ahead
    (:mod:`~engagement_kit.report.kernels`), one kernel per notebook, all forked from one
    zygote that starts here, before the workers, and stops when they are done.
    """
    ctx = multiprocessing.get_context("spawn")  # never fork a threaded parent
    plan = None
    zygote: Zygote | None = None
    if warm and os.name == "posix":
        from engagement_kit.report.kernels import PoolPlan

        zygote = Zygote()
        plan = PoolPlan.for_batch(ctx, len(tasks), tasks[0].kernel_name, zygote.link())
    messages = ctx.Queue()
    stop = threading.Event()

    def drain(timeout: float) -> bool:
        try:
            key, done, total = messages.get(timeout=timeout)
        except (queue_module.Empty, EOFError, OSError, ValueError):
            return False
        update(key, done, total)
        return True

    def pump() -> None:
        while not stop.is_set():
            drain(0.1)

    reader = threading.Thread(target=pump, name="engagement-kit-progress", daemon=True)
    reader.start()
    results: list[ReportResult] = []
    try:
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=init_worker, initargs=(messages, plan)
        ) as pool:
            try:
                futures = [pool.submit(call_in_worker, _run_task, t) for t in tasks]
                for task, future in zip(tasks, futures, strict=True):
                    try:
                        results.append(future.result())
                    except Exception as exc:  # the worker process itself died
                        results.append(
                            ReportResult(
                                stream_id=task.parameters["stream_id"],
                                stream_name=task.parameters["stream_name"],
                                slug=task.slug,
                                week=task.parameters["week"],
                                status="failed",
                                error=one_sentence(
                                    f"the report worker stopped ({type(exc).__name__}: {exc})"
                                ),
                            )
                        )
                        update(task.key, -1, 1)
            except KeyboardInterrupt:  # Ctrl-C, or SIGTERM/SIGHUP (see stopping.py)
                stop_pool(pool)  # the workers and their kernels, not only the pending work
                raise
    finally:
        if zygote is not None:
            zygote.close()  # with any kernel a stopped worker left running
        stop.set()
        reader.join(timeout=5)
        while drain(0.01):  # messages still in the pipe after the workers exited
            pass
        messages.close()
        messages.join_thread()
    return results
