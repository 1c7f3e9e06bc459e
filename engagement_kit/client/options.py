"""Checks of the client's numeric options (timeouts, retries, workers): a clear
:class:`~engagement_kit.errors.ConfigError` naming the option, before anything is sent."""

from __future__ import annotations

import math

from engagement_kit.errors import ConfigError

__all__ = ["check_int", "check_number"]


def check_int(name: str, value: object, *, minimum: int) -> None:
    """Raise ``ConfigError`` unless ``value`` is a whole number (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: {value!r} must be a whole number >= {minimum}")


def check_number(name: str, value: object, *, minimum: float) -> None:
    """Raise ``ConfigError`` unless ``value`` is a finite number (not a bool) >= ``minimum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
    ):
        raise ConfigError(f"{name}: {value!r} must be a number >= {minimum:g}")
