"""Shares of users and how sure they are: Wilson intervals and tests of two shares.

Pure functions of counts (numbers or numpy arrays), used by
:mod:`engagement_kit.metrics.outcomes`; no scipy needed.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from engagement_kit.errors import InvalidQueryError

__all__ = ["fisher_exact_p", "two_proportion_test", "wilson_interval"]


def wilson_interval(
    successes: Any, trials: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / trials`` (arrays or numbers; NaN where trials = 0).

    Examples
    --------
    >>> low, high = wilson_interval(5, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.2366, 0.7634)
    """
    if not 0 < confidence < 1:
        raise InvalidQueryError(
            f"confidence: {confidence!r} must be between 0 and 1 (e.g. 0.95)", field="confidence"
        )
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        # exact at the ends (no rounding dust): none seen -> 0, all seen -> 1
        low = np.where(n > 0, np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
        high = np.where(n > 0, np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    return low, high


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test of the 2×2 table (x1, n1 - x1; x2, n2 - x2):
    the probability, given the margins, of a table at most as likely as the one seen.

    Examples
    --------
    >>> round(fisher_exact_p(3, 4, 1, 4), 4)  # Fisher's lady tasting tea
    0.4857
    """
    total = x1 + x2
    lo, hi = max(0, total - n2), min(total, n1)
    base = _log_comb(n1 + n2, total)
    logs = [_log_comb(n1, k) + _log_comb(n2, total - k) - base for k in range(lo, hi + 1)]
    seen = logs[x1 - lo]
    return min(1.0, sum(math.exp(v) for v in logs if v <= seen + 1e-9))


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> dict[str, Any]:
    """Is ``x1 / n1`` different from ``x2 / n2`` beyond chance? (two-sided).

    The two-proportion z test (pooled variance) when every expected count is at least 5 (the
    normal approximation holds), else Fisher's exact test (:func:`fisher_exact_p`).

    Returns
    -------
    dict
        ``rate1``, ``rate2``, ``ratio`` (rate1 / rate2, ``None`` when rate2 is 0), ``z``,
        ``p_value``, ``method`` (``"two-proportion z test"`` or ``"Fisher's exact test"``),
        ``enough`` (whether the normal approximation holds).
    """
    if min(n1, n2) <= 0:
        return {"rate1": None, "rate2": None, "ratio": None, "z": None, "p_value": None,
                "method": None, "enough": False}  # fmt: skip
    r1, r2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    expected = (n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (r1 - r2) / se if se > 0 else 0.0
    enough = min(expected) >= 5
    return {
        "rate1": r1,
        "rate2": r2,
        "ratio": r1 / r2 if r2 > 0 else None,
        "z": z,
        "p_value": math.erfc(abs(z) / math.sqrt(2)) if enough else fisher_exact_p(x1, n1, x2, n2),
        "method": "two-proportion z test" if enough else "Fisher's exact test",
        "enough": enough,
    }
