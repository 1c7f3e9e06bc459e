"""Numbers as short texts, shared by the report blocks, the index page and the CLI summary."""

from __future__ import annotations

from typing import Any

__all__ = ["count_text", "signed_percent"]


def signed_percent(value: float | None) -> str:
    """``0.125`` → ``"+12.5 %"``, ``-0.05`` → ``"−5.0 %"`` (a real minus), ``None`` → ``"n/a"``."""
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f} %".replace("-", "−")


def count_text(value: Any) -> str:
    """``12345`` → ``"12,345"``; anything that is not a number → ``"–"``."""
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else "–"
