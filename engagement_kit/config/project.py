"""The project folder for pip users, and the files the package ships.

``engagement-kit init [DIR]`` (:func:`init_project`) makes a project folder: ``streams.toml``
and ``.env`` from the examples (``.env`` readable by you only), ``reports/`` and a README of
what to fill in. Existing files are never overwritten.

:func:`bundled_file` finds a notebook or an example file: the checkout's own (an editable
install, ``make``) or the copy the build put into the wheel (``engagement_kit/_bundled/``).
"""

from __future__ import annotations

import os
from pathlib import Path

from engagement_kit.config.settings import ENV_EXAMPLE, ENV_FILE, STREAMS_EXAMPLE, STREAMS_FILE
from engagement_kit.errors import ConfigError

__all__ = ["BUNDLED", "DOCS", "InitResult", "bundled_file", "init_project"]

#: Where a pip user reads the documentation (the wheel ships no docs/ folder).
DOCS = "the engagement-kit documentation (the docs/ pages of its repository)"

#: Files the build copies into the wheel, relative to the project root (see setup.py).
BUNDLED = (
    "notebooks/reports/weekly_report.ipynb",
    "notebooks/explore/01_explore.ipynb",
    ENV_EXAMPLE,
    STREAMS_EXAMPLE,
)
_PACKAGE = Path(__file__).resolve().parents[1]  # the engagement_kit package folder
_CHECKOUT = _PACKAGE.parent
_WHEEL_COPY = _PACKAGE / "_bundled"

README = f"""\
# My engagement-kit project

This folder is an engagement-kit project: run `engagement-kit` anywhere inside it and it reads
the settings below (like git finds its repository, it looks here and in the folders above).

What to fill in:

1. `.env`: `KORE_HOST` (your platform host) and the app's `KORE_CLIENT_ID` and
   `KORE_CLIENT_SECRET` (or a ready-made `KORE_JWT`). It holds a secret: keep it private
   (readable by you only) and out of version control.
2. `streams.toml`: one `[[stream]]` table per bot: its stream id (the app's General Settings
   page), a display name and the time zone the platform counts in.

Then:

    engagement-kit doctor            # checks host, credentials and every stream
    engagement-kit report            # last week's report per stream, in reports/
    engagement-kit dashboard         # the Explorer as a web app on 127.0.0.1:8866

`engagement-kit report --demo` works without any settings (the built-in demo platform).
`.gitignore` lists `.env`, so the secret stays out of git. Every command explains its options
with `--help`; the pages "The project folder", "Delivery and alerts" and "Weekly reports" of
{DOCS} say more.
"""

_ENV_HEADER = (
    "# engagement-kit settings of this project (written by engagement-kit init). It will hold\n"
    "# the app's secret: it is readable by you only, and this folder's .gitignore keeps it out\n"
    "# of git. Real environment variables win over this file.\n"
)
_GITIGNORE = "# engagement-kit: the settings file holds a secret\n.env\n"


def bundled_file(relative: str | os.PathLike[str]) -> Path:
    """A file the package ships (a notebook, an example): the checkout's, else the wheel's.

    Raises
    ------
    ConfigError
        When neither exists, naming both places.
    """
    candidates = [_CHECKOUT / relative, _WHEEL_COPY / relative]
    for path in candidates:
        if path.is_file():
            return path
    tried = " or ".join(str(p) for p in candidates)
    raise ConfigError(
        f"cannot find {relative} (looked for {tried}); the installation is incomplete: "
        "reinstall engagement-kit"
    )


class InitResult:
    """What :func:`init_project` did: ``created``, ``updated`` (``.env`` added to a
    ``.gitignore``) and ``kept`` (existing) paths."""

    __slots__ = ("created", "folder", "kept", "updated")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.created: list[Path] = []
        self.updated: list[Path] = []
        self.kept: list[Path] = []


def env_text(store_path: str | os.PathLike[str] | None = None) -> str:
    """The ``.env`` that ``init`` writes: the example's settings, with a header that is true
    where the file is (it *is* ``.env``, and the ``.gitignore`` beside it lists it) and the
    store's real default location."""
    example = bundled_file(ENV_EXAMPLE).read_text(encoding="utf-8")
    lines = example.splitlines()[2:]  # the example's own header says "Copy to .env"
    out = []
    for line in lines:
        if store_path is not None and line.startswith("# Optional: where answers are stored"):
            line = f"# Optional: where answers are stored (default: {store_path};"
        out.append(line)
    return _ENV_HEADER + "\n".join(out).rstrip("\n") + "\n"


def streams_text() -> str:
    """The ``streams.toml`` that ``init`` writes: the example, minus its "copy me" line."""
    text = bundled_file(STREAMS_EXAMPLE).read_text(encoding="utf-8")
    return text.replace("Copy to streams.toml and edit.", "List your streams here.", 1)


def init_project(
    folder: str | os.PathLike[str] = ".", *, store_path: str | os.PathLike[str] | None = None
) -> InitResult:
    """Make ``folder`` an engagement-kit project; never overwrites a file that exists.

    Creates ``streams.toml`` and ``.env`` from the examples (``.env`` with mode 600: it will
    hold a secret, and says where the store is: ``store_path``), ``reports/``, ``README.md``
    (what to fill in) and a ``.gitignore`` listing ``.env`` (added to an existing one that
    does not list it).

    Raises
    ------
    ConfigError
        When ``folder`` is a file or cannot be written.
    """
    root = Path(folder).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: is a file; give a folder for the project")
    result = InitResult(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, text, mode in (
            (STREAMS_FILE, streams_text(), 0o644),
            (ENV_FILE, env_text(store_path), 0o600),
            ("README.md", README, 0o644),
        ):
            _create(root / name, text, mode, result)
        _ignore_env(root / ".gitignore", result)
        reports = root / "reports"
        if reports.is_dir():
            result.kept.append(reports)
        else:
            reports.mkdir()
            result.created.append(reports)
    except OSError as exc:
        raise ConfigError(
            f"{root}: cannot create the project there ({exc.strerror or exc})"
        ) from exc
    return result


def _ignore_env(path: Path, result: InitResult) -> None:
    """A ``.gitignore`` that lists ``.env``: created, or ``.env`` added to an existing one."""
    if not path.exists():
        _create(path, _GITIGNORE, 0o644, result)
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    if any(line.strip() in (".env", "/.env", ".env*", "*.env") for line in lines):
        result.kept.append(path)
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("" if not lines or path.read_text().endswith("\n") else "\n") + _GITIGNORE)
    result.updated.append(path)


def _create(path: Path, text: str, mode: int, result: InitResult) -> None:
    """Write a new file with ``mode`` from the start (no moment with wider permissions)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        result.kept.append(path)
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)  # the umask may have narrowed it; never widened beyond ``mode``
    result.created.append(path)
