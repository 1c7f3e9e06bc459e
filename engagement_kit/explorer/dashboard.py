"""The dashboard: the Explorer notebook served by Voilà as a standalone web app on 127.0.0.1.

``engagement-kit dashboard`` (and ``make dashboard``) call :func:`serve`; tests and scripts use
:func:`running_dashboard`, a context manager that starts it on a free port, waits until it
answers and stops it (the whole process group: Voilà and its kernels) on exit.

What is served
--------------
An app page (:func:`app_notebook`, written to a temporary folder): a title, one line on what
it shows and where the data comes from, the Explorer panel, and below it the guide to the
controls from ``notebooks/explore/01_explore.ipynb`` (the notebook itself is never modified).

How it is served
----------------
* Voilà runs as a subprocess (``python -m voila``) bound to ``127.0.0.1`` only, with no code
  shown (``strip_sources``), no tracebacks, and one **preheated kernel** (``preheat_kernel``,
  pool size 1): the notebook is executed before the first visitor arrives, so the first page
  appears in about two seconds instead of seven to nine. Kernels use Unix sockets (``ipc``),
  so no kernel port is open on the machine.
* The page is fully offline: our Voilà template ``ek_dashboard``
  (``engagement_kit/templates/voila/templates/ek_dashboard``, found through ``JUPYTER_PATH``)
  is Voilà's ``lab`` template without its Font Awesome CDN links (Voilà's own bundle already
  carries the fonts) and without nbconvert's Mermaid CDN import. Everything else comes from
  the local server.
* The data (:mod:`engagement_kit.explorer.dashboard_app`): with platform settings (environment or the
  project's ``.env``), the real platform and the streams of ``streams.toml`` (or
  ``--config``); without them, or with ``--demo``, the built-in demo platform, which needs
  neither credentials nor a network. Voilà's kernels get ``ENGAGEMENT_KIT_HOME`` (the project
  folder), so they read the same settings; no secret is written into the page's notebook.
  "Today" is the real today in each stream's zone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from engagement_kit.errors import ConfigError, DashboardError
from engagement_kit.explorer.dashboard_app import APP_TITLE, AppSource, app_cells, app_source

__all__ = [
    "DEFAULT_PORT",
    "HOST",
    "INSTALL_DASHBOARD",
    "NOTEBOOK_RELATIVE",
    "TEMPLATE_NAME",
    "Dashboard",
    "DashboardError",
    "app_notebook",
    "default_notebook",
    "require_voila",
    "running_dashboard",
    "serve",
    "voila_command",
    "voila_environment",
]

#: The port ``engagement-kit dashboard`` listens on by default (Voilà's own default).
DEFAULT_PORT = 8866
#: The only interface the dashboard binds to.
HOST = "127.0.0.1"
#: The notebook served, relative to the project folder.
NOTEBOOK_RELATIVE = Path("notebooks") / "explore" / "01_explore.ipynb"
#: Our offline Voilà template (``<TEMPLATE_ROOT>/voila/templates/<TEMPLATE_NAME>``).
TEMPLATE_NAME = "ek_dashboard"
TEMPLATE_ROOT = Path(__file__).resolve().parents[1] / "templates"
#: Seconds to wait for Voilà to answer after starting it.
START_TIMEOUT = 60.0
#: Seconds to wait for Voilà to exit after SIGTERM before killing what is left.
STOP_TIMEOUT = 10.0

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: A small static file of Voilà's: answering it means the server (and its template) is up,
#: without executing the notebook (which ``/`` would do).
_READY_PATH = "/voila/static/voila.js"
#: ``python -m voila``, minus ``rfc3987_syntax``: jsonschema imports that optional IRI checker
#: eagerly and it costs about 2 s of Voilà's 3.5 s start (see charts.skip_slow_optional_imports;
#: nothing served here validates IRIs); and first :func:`engagement_kit.explorer.origin.protect`,
#: loaded from its file (not importing the Explorer), so only this dashboard's own origin is
#: served. ``{origin}`` and ``{port}`` are filled in by :func:`voila_command`.
_VOILA_MAIN = (
    "import sys, importlib.util as u; sys.modules.setdefault('rfc3987_syntax', None); "
    "s = u.spec_from_file_location('engagement_kit_origin', {origin!r}); "
    "m = u.module_from_spec(s); s.loader.exec_module(m); m.protect({port}); "
    "from voila.app import main; sys.exit(main())"
)
_ORIGIN_MODULE = Path(__file__).resolve().with_name("origin.py")


def default_notebook() -> Path:
    """The Explorer notebook: the checkout's, else the copy inside the installed package.

    Raises
    ------
    ConfigError
        When neither exists; the message names both paths that were tried.
    """
    from engagement_kit.config.project import bundled_file

    return bundled_file(NOTEBOOK_RELATIVE)


def app_notebook(source: str | os.PathLike[str], app: AppSource | None = None) -> dict[str, Any]:
    """The notebook the web app runs: title, one line, the Explorer, then the guide.

    The guide is the Explorer notebook's prose before its panel (the first code cell whose
    stored outputs hold a widget view), minus its title cell (which tells how to run the
    notebook); the title, the line on the data (``app``, default the demo platform) and the
    code cell come from :func:`engagement_kit.explorer.dashboard_app.app_cells`. The saved widget state
    is dropped and the page title set to :data:`APP_TITLE`. Plain JSON (nbformat 4 on disk), so
    starting the dashboard does not pay nbformat's import.

    Returns
    -------
    dict
        A new notebook (nbformat 4 JSON); ``source`` is not modified.

    Raises
    ------
    ConfigError
        The file is missing or is not a notebook (the message names the path).
    """
    path = Path(source)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"notebook: {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"notebook: cannot read {path} ({type(exc).__name__}: {exc})") from exc
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or nb.get("nbformat") != 4:
        raise ConfigError(f"notebook: {path} is not a Jupyter notebook (nbformat 4)")
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and any(
            _WIDGET_VIEW in (out.get("data") or {}) for out in cell.get("outputs") or []
        ):
            cells = cells[: index + 1]
            break
    if cells and cells[0].get("cell_type") == "markdown":
        cells = cells[1:]  # the notebook's title and how to run it: not for a web app
    guide = [cell for cell in cells if cell.get("cell_type") == "markdown"]
    nb["cells"] = app_cells(app if app is not None else AppSource(demo=True), guide)
    metadata = {k: v for k, v in (nb.get("metadata") or {}).items() if k != "widgets"}
    nb["metadata"] = {**metadata, "title": APP_TITLE}
    return nb


def voila_environment(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment for Voilà: ours, plus ``env`` (``None`` values remove a variable).

    Our template folder goes first on ``JUPYTER_PATH``, which is how Voilà finds
    :data:`TEMPLATE_NAME`.
    """
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    paths = [str(TEMPLATE_ROOT)]
    if merged.get("JUPYTER_PATH"):
        paths.append(merged["JUPYTER_PATH"])
    merged["JUPYTER_PATH"] = os.pathsep.join(paths)
    merged.setdefault("PYTHONUNBUFFERED", "1")
    return merged


def voila_command(
    notebook: str | os.PathLike[str],
    *,
    port: int = DEFAULT_PORT,
    preheat: bool = True,
    pool_size: int = 1,
) -> list[str]:
    """The command line (``python -m voila``, quicker) that serves ``notebook`` on ``127.0.0.1:port``.

    Never opens a browser itself (:func:`serve` does that once the page answers) and never
    moves to another port when ``port`` is taken (``port_retries=0``). Answers only requests
    for its own origin (``Host`` and ``Origin`` 127.0.0.1, localhost or [::1] with this port;
    anything else gets 403, see :mod:`engagement_kit.explorer.origin`). Kernels talk to Voilà
    over Unix sockets in Voilà's private connection folder, not TCP ports on localhost.
    """
    return [
        sys.executable,
        "-c",
        _VOILA_MAIN.format(origin=str(_ORIGIN_MODULE), port=int(port)),
        str(notebook),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={int(port)}",
        "--Voila.port_retries=0",
        f"--template={TEMPLATE_NAME}",
        "--theme=light",
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--preheat_kernel={bool(preheat)}",
        f"--pool_size={int(pool_size)}",
        "--KernelManager.transport=ipc",
    ]


#: What to run when Voilà is missing (the ``dashboard`` extra; ``make dashboard`` installs it).
INSTALL_DASHBOARD = "pip install 'engagement-kit[dashboard]'"


def require_voila() -> None:
    """Raise :class:`DashboardError` in one sentence when Voilà (the ``dashboard`` extra) is
    not installed: reports and notebooks do not need it, so a plain install leaves it out."""
    import importlib.util

    if importlib.util.find_spec("voila") is None:
        raise DashboardError(
            f"the dashboard needs Voilà, which is not installed here: run {INSTALL_DASHBOARD} "
            "(in a clone: make dashboard)"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
        return False


@dataclasses.dataclass
class Dashboard:
    """A running dashboard (see :func:`running_dashboard`).

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:<port>/``.
    port : int
    process : subprocess.Popen
        The Voilà process (leader of its own process group).
    notebook : Path
        The served copy (:func:`app_notebook`) in a temporary folder.
    log : Path or None
        Voilà's output, when it was captured.
    """

    url: str
    port: int
    process: subprocess.Popen[bytes]
    notebook: Path
    log: Path | None = None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines Voilà printed (empty when its output was not captured)."""
        if self.log is None or not self.log.is_file():
            return ""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop Voilà and its kernels: SIGTERM to the process group, SIGKILL what is left
        after ``timeout`` seconds (of the group and of the kernels Voilà started).

        Returns
        -------
        int or None
            Voilà's exit status.
        """
        _stop_group(self.process, timeout)
        return self.process.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _group_alive(pgid: int) -> bool:
    return _signal_group(pgid, 0)  # type: ignore[arg-type]


def _kernels_of(pid: int) -> list[Any]:
    """Voilà's child processes (its kernels), as ``psutil.Process``; ``[]`` without psutil.

    jupyter_client starts each kernel in a session of its own, so signalling Voilà's process
    group does not reach them: Voilà shuts them down on SIGTERM, and these are killed if they
    outlive it (psutil comes with ipykernel).
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - ipykernel depends on psutil
        return []
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to Voilà's process group, then SIGKILL to whatever outlives ``timeout``.

    "Whatever" is the group and the kernels Voilà had started (see :func:`_kernels_of`).
    """
    pgid = process.pid  # start_new_session=True: the leader's pid is the group's id
    kernels = _kernels_of(process.pid) if process.poll() is None else []
    if process.poll() is None:
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)  # Voilà's helpers exiting after it
    if _group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout)
    if kernels:
        import psutil

        _, alive = psutil.wait_procs(kernels, timeout=max(0.1, deadline - time.monotonic()))
        for kernel in alive:
            with contextlib.suppress(psutil.Error):
                kernel.kill()
        psutil.wait_procs(alive, timeout=timeout)


def _wait_until_answering(
    url: str, process: subprocess.Popen[bytes], timeout: float, describe: Callable[[], str]
) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while True:
            code = process.poll()
            if code is not None:
                raise DashboardError(f"Voilà exited with status {code} while starting{describe()}")
            try:
                answer = client.head(url.rstrip("/") + _READY_PATH)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise DashboardError(
                    f"Voilà did not answer on {url} within {timeout:.0f} s{describe()}"
                )
            time.sleep(0.1)


def _usable_port(port: int | None) -> int:
    """``port``, checked and free, or a free one chosen by the OS when ``None``."""
    if port is None:
        return _free_port()
    if not 0 < int(port) < 65536:
        raise ConfigError(f"port: {port} is not a TCP port (1-65535)")
    if _port_in_use(int(port)):
        raise DashboardError(
            f"port {port} on {HOST} is already in use (another dashboard?); stop it or choose "
            "another port with --port"
        )
    return int(port)


def _dashboard_environment(env: Mapping[str, str | None] | None) -> dict[str, str]:
    """Voilà's environment: ``env`` applied, plus the kernels' settings it does not set."""
    from engagement_kit.config.settings import kernel_environment

    environment = voila_environment(env)
    environment.update(
        {k: v for k, v in kernel_environment(environment).items() if k not in environment}
    )
    return environment


@contextlib.contextmanager
def running_dashboard(
    *,
    port: int | None = None,
    notebook: str | os.PathLike[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    preheat: bool = True,
    pool_size: int = 1,
    timeout: float = START_TIMEOUT,
    capture_output: bool = True,
    demo: bool = False,
    config: str | os.PathLike[str] | None = None,
) -> Iterator[Dashboard]:
    """Start the dashboard, wait until it answers, yield it, and stop it on exit.

    Parameters
    ----------
    port : int, optional
        Port on 127.0.0.1; default any free port.
    notebook : path, optional
        The notebook to serve (default :func:`default_notebook`), cut by :func:`app_notebook`.
    env : mapping, optional
        Environment changes for Voilà and its kernels (``None`` removes a variable), e.g.
        ``{"ENGAGEMENT_KIT_STORE": ...}``.
    preheat, pool_size
        Voilà's ``preheat_kernel`` and ``pool_size``.
    timeout : float
        Seconds to wait for the server to answer.
    capture_output : bool
        Write Voilà's output to a log file (:attr:`Dashboard.log`) instead of this terminal.
    demo, config
        The data: the demo platform (``demo``, or no platform settings), else the platform of
        the settings with the streams of ``config`` (default the project's ``streams.toml``);
        see :func:`engagement_kit.explorer.dashboard_app.app_source`. Settings are read with ``env``
        applied, from the project folder, which the kernels are pointed at
        (``ENGAGEMENT_KIT_HOME``).

    Yields
    ------
    Dashboard

    Raises
    ------
    ConfigError
        The notebook is missing or unreadable (the message names the path).
    DashboardError
        The port is taken, or Voilà exited or stayed silent while starting (the message ends
        with the last lines of its log).
    """
    require_voila()
    source = Path(notebook) if notebook is not None else default_notebook()
    if not source.is_file():
        raise ConfigError(
            f"cannot find the dashboard notebook {source}; pass the path of an existing notebook"
        )
    environment = _dashboard_environment(env)
    nb = app_notebook(source, app_source(demo=demo, config=config, env=environment))
    port = _usable_port(port)
    with tempfile.TemporaryDirectory(prefix="engagement-kit-dashboard-") as tmp:
        folder = Path(tmp)
        served = folder / source.name
        served.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
        log_path = folder / "voila.log" if capture_output else None
        log_file: IO[bytes] | None = log_path.open("wb") if log_path else None
        try:
            process = subprocess.Popen(
                voila_command(served, port=port, preheat=preheat, pool_size=pool_size),
                cwd=folder,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT if log_file else None,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        except OSError as exc:
            if log_file:
                log_file.close()
            raise DashboardError(f"cannot start Voilà ({exc})") from exc
        dashboard = Dashboard(
            url=f"http://{HOST}:{port}/",
            port=int(port),
            process=process,
            notebook=served,
            log=log_path,
        )

        def describe() -> str:
            tail = dashboard.log_tail()
            return f"; its last output:\n{tail}" if tail else ""

        try:
            _wait_until_answering(dashboard.url, process, timeout, describe)
            yield dashboard
        finally:
            dashboard.stop()
            if log_file:
                log_file.close()


def serve(
    port: int = DEFAULT_PORT,
    *,
    open_browser: bool = False,
    notebook: str | os.PathLike[str] | None = None,
    echo: Callable[[str], Any] = print,
    demo: bool = False,
    config: str | os.PathLike[str] | None = None,
) -> int:
    """Serve the dashboard on ``http://127.0.0.1:PORT/`` until Ctrl-C (``engagement-kit dashboard``).

    Voilà's log goes to this terminal. Returns Voilà's exit status (0 after Ctrl-C, or after
    SIGTERM/SIGHUP within :func:`engagement_kit.report.signals.stop_on_signals`). ``port=0`` picks
    a free port.

    Raises
    ------
    ConfigError, DashboardError
        See :func:`running_dashboard`.
    """
    with running_dashboard(
        port=port or None, notebook=notebook, capture_output=False, demo=demo, config=config
    ) as dashboard:
        echo(f"Dashboard on {dashboard.url} (Ctrl-C to stop)")
        if open_browser:
            webbrowser.open(dashboard.url)
        try:
            code = dashboard.process.wait()
        except KeyboardInterrupt:
            echo("Stopping the dashboard…")
            return 0
    return int(code)
