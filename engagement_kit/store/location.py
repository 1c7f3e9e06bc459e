"""Where the response store lives, and the one-time move out of the old cache folder.

The store is the long-term record of what the platform said, so it lives in the user *data*
folder (``platformdirs.user_data_dir("engagement-kit")``), which tools and people do not clear
the way they clear caches. Versions before 0.2 kept it in the user *cache* folder; the first
default store opened after an upgrade moves that file (and its ``-wal``/``-shm`` companions)
across, once, and logs where it went.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path

__all__ = [
    "STORE_ENV",
    "adopt_legacy_store",
    "default_store_location",
    "default_store_path",
    "legacy_store_path",
]

logger = logging.getLogger("engagement_kit.store")

STORE_ENV = "ENGAGEMENT_KIT_STORE"
_APP = "engagement-kit"
_FILE = "responses.sqlite3"


def _configured() -> Path | str | None:
    from engagement_kit.config.settings import load_settings

    settings = load_settings()
    return settings.store_url or settings.store_path


def default_store_location(*, adopt: bool = True) -> Path | str:
    """The store: ``ENGAGEMENT_KIT_STORE`` (a file path, or a ``postgresql://`` URL as
    written), else ``responses.sqlite3`` in the user data folder (see
    :func:`default_store_path`)."""
    configured = _configured()
    if isinstance(configured, str):
        return configured
    return default_store_path(adopt=adopt)


def default_store_path(*, adopt: bool = True) -> Path:
    """The store file: ``ENGAGEMENT_KIT_STORE``, else ``responses.sqlite3`` in the user data folder
    (also when ``ENGAGEMENT_KIT_STORE`` is a PostgreSQL URL: the local files, e.g. the demo's
    store, stay there; :func:`default_store_location` gives the store itself).

    ``ENGAGEMENT_KIT_STORE`` is read from the environment or the project's ``.env`` (a relative
    path counts from the project folder; see :mod:`engagement_kit.config.settings`). This is the one
    place the store's path is resolved: the CLI, notebooks, report kernels, the dashboard and
    the delivery record all come here.

    Parameters
    ----------
    adopt : bool
        For the default place: first move a store left in the old cache folder there
        (:func:`adopt_legacy_store`), so whoever opens the file first finds the old answers.
        :class:`~engagement_kit.store.ResponseStore` passes ``False`` and does it on first use.
    """
    configured = _configured()
    if isinstance(configured, Path):
        return configured
    from platformdirs import user_data_dir

    path = Path(user_data_dir(_APP)) / _FILE
    if adopt:
        try:
            adopt_legacy_store(path)
        except OSError as exc:
            logger.warning("could not move the old response store: %s", exc)
    return path


def store_is_configured() -> bool:
    """Whether ``ENGAGEMENT_KIT_STORE`` names the store (then nothing is ever moved into it)."""
    return _configured() is not None


def legacy_store_path() -> Path:
    """Where versions before 0.2 kept the default store (the user cache folder)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(_APP)) / _FILE


def _remove_with_companions(path: Path) -> None:
    for suffix in ("-wal", "-shm", ""):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


def adopt_legacy_store(new: Path, old: Path | None = None) -> bool:
    """Move the store at ``old`` (default :func:`legacy_store_path`) to ``new``, once.

    Nothing happens when ``new`` exists or ``old`` does not. The copy is made with SQLite's
    backup API (so whatever is still in ``old``'s write-ahead log comes along), published with
    an atomic hard link, and only then are ``old`` and its ``-wal``/``-shm`` files removed.
    Two processes starting at once are safe: only one link succeeds, the other discards its copy.

    Returns
    -------
    bool
        ``True`` when this call moved the store.
    """
    old = legacy_store_path() if old is None else old
    if new.exists() or not old.is_file():
        return False
    new.parent.mkdir(parents=True, exist_ok=True)
    tmp = new.with_name(f".{new.name}.moving-{os.getpid()}-{threading.get_ident()}")
    try:
        from engagement_kit.store.sqlite_file import copy_sqlite

        try:
            # existing_only never creates a file: if another process just moved it, this fails
            copy_sqlite(old, tmp, existing_only=True)
        except sqlite3.Error as exc:
            if old.is_file():
                logger.warning("could not move the response store from %s to %s: %s", old, new, exc)
            return False
        try:
            os.link(tmp, new)
        except FileExistsError:
            return False  # another process moved it first
        except OSError:  # pragma: no cover - a file system without hard links
            if new.exists():
                return False
            os.replace(tmp, new)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    _remove_with_companions(old)
    logger.warning(
        "moved the response store from the cache folder %s to the data folder %s "
        "(cache folders get cleared; the store is your long-term record)",
        old,
        new,
    )
    return True
