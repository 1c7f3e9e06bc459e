"""Wilson intervals, the two-proportion z test and Fisher's exact test against textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics import proportions


def test_wilson_and_the_two_proportion_test_against_textbook_values():
    low, high = proportions.wilson_interval(np.array([5, 0, 0]), np.array([10, 10, 0]))
    assert low[0] == pytest.approx(0.2366, abs=1e-4) and high[0] == pytest.approx(0.7634, abs=1e-4)
    assert low[1] == 0.0 and high[1] == pytest.approx(0.2775, abs=1e-4)
    assert math.isnan(low[2]) and math.isnan(high[2])
    test = proportions.two_proportion_test(30, 100, 15, 100)
    assert test["z"] == pytest.approx(0.15 / math.sqrt(0.225 * 0.775 * 0.02))  # 2.5400
    assert test["p_value"] == pytest.approx(0.01109, abs=1e-4)
    assert test["ratio"] == pytest.approx(2.0) and test["enough"]
    assert test["method"] == "two-proportion z test"
    small_test = proportions.two_proportion_test(3, 4, 1, 4)  # Fisher's lady tasting tea
    assert not small_test["enough"] and small_test["method"] == "Fisher's exact test"
    assert small_test["p_value"] == pytest.approx(0.4857, abs=1e-4)
    assert proportions.fisher_exact_p(10, 10, 0, 10) == pytest.approx(2 / math.comb(20, 10))
    assert proportions.fisher_exact_p(2, 4, 2, 4) == pytest.approx(1.0)
    with pytest.raises(InvalidQueryError, match="confidence"):
        proportions.wilson_interval(1, 2, confidence=95)
