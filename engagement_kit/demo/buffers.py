"""An append-only numpy buffer (the demo logs grow one day at a time)."""

from __future__ import annotations

import numpy as np

__all__ = ["GrowableArray"]


class GrowableArray:
    """An append-only numpy buffer with amortised O(1) appends and a contiguous view."""

    def __init__(self, dtype: type | np.dtype) -> None:
        self._buf = np.empty(1024, dtype=dtype)
        self._n = 0

    def append(self, values: np.ndarray) -> None:
        need = self._n + len(values)
        if need > len(self._buf):
            bigger = np.empty(max(need, 2 * len(self._buf)), dtype=self._buf.dtype)
            bigger[: self._n] = self._buf[: self._n]
            self._buf = bigger
        self._buf[self._n : need] = values
        self._n = need

    def view(self) -> np.ndarray:
        """A read-only view of what was appended so far.

        Later appends only write past its end (or into a new buffer), so a view never changes:
        it is a free, immutable snapshot.
        """
        view = self._buf[: self._n]
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return self._n
