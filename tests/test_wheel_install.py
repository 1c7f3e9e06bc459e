"""pip install is a way in: the wheel carries the notebooks and examples, and works anywhere.

The wheel is built from a copy of the project (as ``pip install .`` or a release would), then
installed without its dependencies into a fresh virtual environment that borrows this test
environment's packages through a ``.pth`` file. From an empty folder, ``engagement-kit report
--demo`` must write ``reports/…`` there, ``init`` must make a project from the bundled
examples, and the dashboard must serve.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from tests.builders import REPO, free_port

pytestmark = pytest.mark.slow

_SKIP = {".venv", ".git", "build", "dist", "reports", "test-output", ".hypothesis"}


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=lambda folder, names: [
            n
            for n in names
            if (n in _SKIP and Path(folder) == REPO) or n.endswith((".egg-info", "__pycache__"))
        ],
    )
    wheels = work / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)])
    (wheel,) = wheels.glob("engagement_kit-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ]
    )
    purelib = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # this environment's dependencies, after the venv's own packages (the wheel comes first)
    (purelib / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    found = _run(
        [str(python), "-c", "import engagement_kit; print(engagement_kit.__file__)"], cwd=work
    )
    assert Path(found.stdout.strip()).is_relative_to(venv), found.stdout
    return venv / "bin"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KORE_", "ENGAGEMENT_KIT_"))}
    env.pop("PYTHONPATH", None)
    # the borrowed dependencies' data files (nbconvert's and Voilà's templates) live in this
    # environment's share/jupyter, which a real install puts into the venv itself
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    return env


def test_report_demo_from_an_empty_folder_writes_reports_there(installed, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**_env(), "ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3")}
    _run(
        [
            str(installed / "engagement-kit"),
            "report",
            "--demo",
            "--stream",
            "st-demo-retail-in",
            "--week",
            "2025-W48",
            "--jobs",
            "1",
        ],
        cwd=empty,
        env=env,
        timeout=300,
    )
    pages = list((empty / "reports").glob("*/2025-W48.html"))
    assert len(pages) == 1 and (empty / "reports" / "index.html").is_file()
    assert "ShopEasy Retail Assistant" in pages[0].read_text(encoding="utf-8")


def test_init_uses_the_examples_inside_the_wheel(installed, tmp_path):
    _run([str(installed / "engagement-kit"), "init", "mine"], cwd=tmp_path, env=_env())
    env = (tmp_path / "mine" / ".env").read_text()
    assert "KORE_CLIENT_SECRET=" in env and "Copy to .env" not in env
    assert "[[stream]]" in (tmp_path / "mine" / "streams.toml").read_text()
    assert (tmp_path / "mine" / ".gitignore").read_text().splitlines()[-1] == ".env"


def test_the_dashboard_serves_from_the_wheel(installed, tmp_path):
    import httpx

    env = {
        **_env(),
        "ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3"),
    }
    port = free_port()
    process = subprocess.Popen(
        [str(installed / "engagement-kit"), "dashboard", "--port", str(port), "--demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        page = ""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=90, trust_env=False).text
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert "Engagement explorer" in page, (
            process.stdout.read1().decode() if process.poll() is not None else page[-2000:]
        )
    finally:
        import signal

        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
