"""Goodness-of-fit tests of sampled counts against exact probabilities, and of correlated
counts (``options.experimental.trajectories``) against a reference's expectation values."""

from __future__ import annotations

from collections.abc import Mapping
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


def z_and_zz(counts: Mapping[str, float]) -> NDArray[np.float64]:
    """<Z_i> of every clbit and <Z_i Z_i+1> of neighbouring clbits, from counts (or
    probabilities) keyed by bitstrings (clbit 0 last)."""
    total = sum(counts.values())
    width = len(next(iter(counts)))
    values = np.zeros(2 * width - 1)
    for bitstring, count in counts.items():
        signs = np.array([1 - 2 * int(b) for b in reversed(bitstring)])
        values += count * np.concatenate([signs, signs[:-1] * signs[1:]])
    return values / total


def correlated_agreement(
    estimates: NDArray[np.float64],
    reference: NDArray[np.float64],
    reference_shots: int,
    shots: int,
) -> tuple[NDArray[np.float64], float]:
    """For runs whose shots are correlated (shots of one trajectory share its noise), each row
    of ``estimates`` one run's <Z>/<ZZ> statistics (:func:`z_and_zz`) of ``shots`` shots, and
    ``reference`` the same statistics of an exact sampler's ``reference_shots`` shots: the
    z-score of the runs' mean of each statistic (standard error from the runs' own spread,
    which includes the correlation, and the reference's sampling error), and the median design
    effect (a run's variance over that of ``shots`` independent shots; between 1 and the
    shots per trajectory for trajectories sampled shots/K times each)."""
    runs = estimates.shape[0]
    spread = estimates.var(axis=0, ddof=1)
    standard_error = np.sqrt(spread / runs + (1 - reference**2) / reference_shots)
    z_scores = (estimates.mean(axis=0) - reference) / standard_error
    independent = np.clip(1 - reference**2, 1e-3, None) / shots
    return z_scores, float(np.median(spread / independent))
