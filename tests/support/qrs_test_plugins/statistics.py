"""Goodness-of-fit tests of sampled counts against exact probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

#: An outcome this unlikely under the exact distribution must never be sampled.
IMPOSSIBLE = 1e-12


def chi_square_p_value(observed: NDArray[np.int64], expected_probabilities: NDArray[Any]) -> float:
    """Pearson's chi-square goodness of fit of ``observed`` counts (one per outcome index) to
    exact probabilities; bins with an expected count below 5 are pooled (with the smallest
    other bin if the pool itself stays below 5)."""
    shots = observed.sum()
    expected = expected_probabilities * shots
    assert not np.any(observed[expected_probabilities < IMPOSSIBLE]), "an impossible outcome"
    big = expected >= 5
    bins_observed = list(observed[big])
    bins_expected = list(expected[big])
    rest_observed, rest_expected = observed[~big].sum(), expected[~big].sum()
    if rest_expected >= 5:
        bins_observed.append(rest_observed)
        bins_expected.append(rest_expected)
    elif rest_expected > 0:
        smallest = int(np.argmin(bins_expected))
        bins_observed[smallest] += rest_observed
        bins_expected[smallest] += rest_expected
    o, e = np.array(bins_observed, dtype=float), np.array(bins_expected)
    if len(o) == 1:
        return 1.0  # one possible outcome, and no impossible one was sampled
    statistic = float(np.sum((o - e) ** 2 / e))
    return float(chi2.sf(statistic, len(o) - 1))
