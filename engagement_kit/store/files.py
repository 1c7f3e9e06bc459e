"""Files the toolkit writes: safe folder names, atomic writes, left-over temporary files.

Small on purpose and free of heavy imports, so ``engagement-kit fetch --csv`` writes its file
without loading the report machinery.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from engagement_kit.errors import ReportError, WriteError

__all__ = [
    "STALE_TEMP_SECONDS",
    "atomic_write",
    "atomic_write_all",
    "inside",
    "legacy_slug",
    "stream_folders",
    "stream_key",
    "stream_slug",
    "sweep_stale_temp_files",
    "write_error",
]

#: Temporary files older than this are left-overs of a killed run (a run takes minutes).
STALE_TEMP_SECONDS = 6 * 3600


def _slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-")


def stream_slug(name: str | None, stream_id: str | None = None) -> str:
    """The folder name of a stream under ``reports/``: lowercase ``[a-z0-9-]``, never empty.

    With a ``stream_id`` (as every report is written): the display name's slug and a short
    form of the id (:func:`stream_key`), e.g. ``support-bot-3f2a9c1d``, so two streams whose
    names slug alike ("Support bot", "Support Bot") never share a folder. Without one: the
    name's slug alone (the folder name before 0.x's issue 22, :func:`legacy_slug`).

    From the display name, else the id, else ``"stream"``: ``"../"``, ``"/"``, ``"%2e%2e"``,
    NUL bytes or markup can never make a path outside the reports folder.
    """
    if not isinstance(stream_id, str) or not stream_id:
        return legacy_slug(name, stream_id)
    base = legacy_slug(name, stream_id)[: 60 - 9].strip("-") or "stream"
    return f"{base}-{stream_key(stream_id)}"


def stream_key(stream_id: str) -> str:
    """Eight hex digits that stand for a stream id in its folder name."""
    return hashlib.sha256(stream_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def legacy_slug(name: str | None, stream_id: str | None = None) -> str:
    """The folder name earlier versions gave a stream (the name's slug only): still read, so
    reports written before keep being listed and sent."""
    for text in (name, stream_id):
        if isinstance(text, str):
            slug = _slugify(text)
            if slug:
                return slug
    return "stream"


def stream_folders(name: str | None, stream_id: str) -> tuple[str, ...]:
    """Where a stream's reports may be: its folder, then the folder of earlier versions."""
    return tuple(dict.fromkeys((stream_slug(name, stream_id), legacy_slug(name, stream_id))))


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


def write_error(path: str | os.PathLike[str], exc: OSError) -> WriteError:
    """One sentence for a file that could not be written: which file, why, what to do."""
    if isinstance(exc, WriteError):
        return exc
    code = errno.errorcode.get(exc.errno or 0, "")
    cause = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".")
    cause = cause[:1].lower() + cause[1:]
    fix = {
        errno.ENOSPC: "free some space",
        errno.EDQUOT: "free some space",
        errno.EACCES: "make the folder writable for this user",
        errno.EPERM: "make the folder writable for this user",
        errno.EROFS: "write to a writable folder",
    }.get(exc.errno or 0, "fix that")
    return WriteError(
        f"cannot write {path}: {cause}{f' ({code})' if code else ''}; {fix} and run again "
        "(the file keeps what it held before)",
        path=str(path),
        errno_=exc.errno,
    )


def _stage(target: Path, data: str | bytes | Iterable[bytes]) -> str:
    """``data`` in a flushed temporary file beside ``target``; its name."""
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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


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

    Raises
    ------
    WriteError
        (an ``OSError``) Out of space, a read-only folder, any ``OSError``: one sentence naming
        ``path`` and the cause.
    """
    return atomic_write_all([(path, data)])[0]


def atomic_write_all(
    files: Iterable[tuple[str | os.PathLike[str], str | bytes | Iterable[bytes]]],
) -> list[Path]:
    """Write several files that belong together (a report and its sidecar): every one is
    staged in full first, and only then are they renamed into place, so a full disk leaves
    all of them as they were, never a new page beside an old sidecar.

    Raises
    ------
    WriteError
        Naming the file that could not be written.
    """
    staged: list[tuple[Path, str]] = []
    try:
        for path, data in files:
            target = Path(path)
            try:
                staged.append((target, _stage(target, data)))
            except OSError as exc:
                raise write_error(target, exc) from exc
        for target, tmp in staged:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise write_error(target, exc) from exc
    finally:
        for _, tmp in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return [target for target, _ in staged]


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
