"""The longest range one request may cover on a host, per aggregation, as learned from the
platform's refusals (:mod:`engagement_kit.client.ranges`) and remembered in the response store, so a
later client splits long ranges at once instead of being refused again."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from engagement_kit.errors import StoreError

if TYPE_CHECKING:
    from engagement_kit.store import ResponseStore

__all__ = ["LearnedLimits"]

logger = logging.getLogger("engagement_kit.client")


class LearnedLimits:
    """The learned limits of one host (``None``: none learned yet), thread-safe; read from the
    store (if any) on first use, written back when a smaller one is learned. A store that cannot
    be read or written is logged and otherwise ignored."""

    def __init__(self, host: str, store: ResponseStore | None) -> None:
        self.host = host
        self.store = store
        self._days: dict[str, int | None] = {}  # aggregation -> learned max days
        self._lock = threading.Lock()

    def get(self, aggregation: str) -> int | None:
        """The learned limit for ``aggregation``, or ``None``."""
        with self._lock:
            if aggregation not in self._days:
                learned = None
                if self.store is not None:
                    try:
                        learned = self.store.max_days(self.host, aggregation)
                    except StoreError as exc:
                        logger.warning("cannot read the learned range limit: %s", exc)
                self._days[aggregation] = learned
            return self._days[aggregation]

    def learn(self, aggregation: str, days: int) -> None:
        """Remember that the host answers at most ``days`` per request (a larger one is ignored)."""
        with self._lock:
            current = self._days.get(aggregation)
            if current is not None and current <= days:
                return
            self._days[aggregation] = days
        logger.info(
            "%s answers at most %d days per %s request; longer ranges are split from now on",
            self.host,
            days,
            aggregation,
        )
        if self.store is not None:
            try:
                self.store.set_max_days(self.host, aggregation, days)
            except StoreError as exc:
                logger.warning("cannot remember the range limit: %s", exc)
