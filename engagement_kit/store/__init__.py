"""The response store: a cache for re-runs and the long-term record of what the platform said.

See :mod:`engagement_kit.store.responses` (the store, settling, revisions),
:mod:`engagement_kit.store.database` (the one database layer: SQLite or PostgreSQL, connections,
locking, retries, errors), :mod:`engagement_kit.store.schema` (every table and its migrations),
:mod:`engagement_kit.store.upkeep` (clear, backup, merging imported rows),
:mod:`engagement_kit.store.host_limits` (the longest range each host accepts),
:mod:`engagement_kit.store.location` (where it
lives), :mod:`engagement_kit.store.compare` (lost data and revised numbers),
:mod:`engagement_kit.store.history` (revisions listed, the report's note) and
:mod:`engagement_kit.store.portable` (export / import).
"""

from engagement_kit.store.location import STORE_ENV, default_store_path, legacy_store_path
from engagement_kit.store.responses import (
    DEFAULT_SETTLE,
    DEFAULT_TTL,
    ResponseStore,
    Revision,
    StoreEntry,
)

__all__ = [
    "DEFAULT_SETTLE",
    "DEFAULT_TTL",
    "STORE_ENV",
    "ResponseStore",
    "Revision",
    "StoreEntry",
    "default_store_path",
    "legacy_store_path",
]
