"""Splitting a batch for a scheduler: ``report --shard K/N`` reports a deterministic part of the
configured streams, so a CI matrix, Airflow's dynamic task mapping or a Kubernetes indexed job
runs the parts on several machines against one store; ``report --index-only`` then builds the
index from the sidecars the parts wrote.

A stream's shard depends on its id alone (the SHA-256 of the id, modulo N): adding or removing a
stream never moves another one to a different shard, and every machine computes the same split
without talking to the others.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TypeVar

from engagement_kit.errors import InvalidQueryError

__all__ = ["parse_shard", "shard_of", "shard_streams"]

T = TypeVar("T")

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``: part K of N, counted from 1.

    Raises
    ------
    InvalidQueryError
        Naming ``--shard`` and the form it takes, for anything else.
    """
    m = _SHARD.fullmatch(text or "")
    k, n = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if not m or n < 1 or not 1 <= k <= n:
        raise InvalidQueryError(
            f"--shard: {text!r} is not K/N with 1 <= K <= N; e.g. --shard 1/4 for the first of "
            "four parts",
            field="shard",
        )
    return k, n


def shard_of(stream_id: str, parts: int) -> int:
    """The part (1 … ``parts``) that reports ``stream_id``."""
    digest = hashlib.sha256(stream_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % parts + 1


def shard_streams(configs: Sequence[T], k: int, n: int) -> list[T]:
    """The streams of part ``k`` of ``n`` (each config has an ``id``), in their order."""
    return [c for c in configs if shard_of(c.id, n) == k]  # type: ignore[attr-defined]
