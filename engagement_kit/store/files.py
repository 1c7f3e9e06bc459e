"""Files the toolkit writes: safe folder names, atomic writes, left-over temporary files.

Small on purpose and free of heavy imports, so ``engagement-kit fetch --csv`` writes its file
without loading the report machinery.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from engagement_kit.errors import ReportError

__all__ = [
    "STALE_TEMP_SECONDS",
    "atomic_write",
    "inside",
    "stream_slug",
    "sweep_stale_temp_files",
]

#: Temporary files older than this are left-overs of a killed run (a run takes minutes).
STALE_TEMP_SECONDS = 6 * 3600


def _slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-")


def stream_slug(name: str | None, stream_id: str | None = None) -> str:
    """The folder name of a stream under ``reports/``: lowercase ``[a-z0-9-]``, never empty.

    From the display name, else the id, else ``"stream"``: ``"../"``, ``"/"``, ``"%2e%2e"``,
    NUL bytes or markup can never make a path outside the reports folder.
    """
    for text in (name, stream_id):
        if isinstance(text, str):
            slug = _slugify(text)
            if slug:
                return slug
    return "stream"


def inside(base: Path, *parts: str) -> Path:
    """``base / parts`` after checking it stays inside ``base`` (defence in depth).

    Raises
    ------
    ReportError
        When the path would leave ``base``.
    """
    root = base.resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise ReportError(f"refusing to write outside {root}: {path}")
    return path


def atomic_write(path: str | os.PathLike[str], data: str | bytes | Iterable[bytes]) -> Path:
    """Write a file so that readers see the old content or the new, never a half-written one.

    The data goes to a temporary file in the same directory, is flushed to disk, then renamed
    over ``path`` (``os.replace``). On any failure the temporary file is removed and ``path``
    keeps its previous bytes.

    Parameters
    ----------
    data : str, bytes or iterable of bytes
        Text is written as UTF-8.

    Returns
    -------
    Path
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, str):
                fh.write(data.encode("utf-8"))
            elif isinstance(data, bytes | bytearray):
                fh.write(data)
            else:
                for chunk in data:
                    fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def sweep_stale_temp_files(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove our temporary files (``.<name>...tmp...``) that a killed run left behind.

    Only hidden files with ``.tmp`` in their name and older than :data:`STALE_TEMP_SECONDS`,
    so a run going on at the same time keeps its files.

    Returns
    -------
    list of Path
        What was removed.
    """
    now = time.time() if now is None else now
    removed = []
    for path in folder.glob(".*tmp*"):
        try:
            if path.is_file() and now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed
