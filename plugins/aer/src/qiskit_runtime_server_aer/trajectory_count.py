"""The opt-in trajectory count ``options.experimental.trajectories = K``: what it means, how it
is parsed and checked, how shots are split among trajectories, and what results say about it.

Two executors honour it with the same semantics: this one (trajectories.py, on Aer) and the
custatevec executor (its simulation.Trajectories). Both import this module, which needs neither
Aer nor a GPU, so that a job is checked the same way at submit wherever it goes.

Semantics: K noisy trajectories per parameter set instead of one per shot (``min(K, shots)``),
each trajectory's final state sampled ``shots / K`` times (the first ``shots % K`` trajectories
one more), readout errors applied to every drawn bit independently. Expectation values are
unbiased; shots of one trajectory share its noise events, so counts are more spread than those
of independent shots (docs/simulation.md quotes the measured design effect).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit_runtime_server import EstimatorTask, ExecutionTask

OPTION = "experimental.trajectories"
DOCUMENTED_BIAS = (
    "no bias on expectation values; shots of one trajectory are correlated, so the effective "
    "number of shots lies between K and shots (docs/simulation.md)"
)


def requested_trajectories(raw_options: object) -> int | None:
    """The K a job asks for, or None; ValueError when it is not a positive integer."""
    experimental = raw_options.get("experimental") if isinstance(raw_options, dict) else None
    if not isinstance(experimental, dict) or experimental.get("trajectories") is None:
        return None
    value = experimental["trajectories"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"options.{OPTION} must be a positive integer, got {value!r}")
    return value


def validate_trajectories(task: ExecutionTask, estimator_alternative: str) -> None:
    """The submit check (ValueError: the job gets a 400): K a positive integer, and a sampler
    job; an estimator's cost is set by its precision, which ``estimator_alternative`` names
    (each executor's estimator spends it differently)."""
    if requested_trajectories(task.options.raw) is not None and isinstance(task, EstimatorTask):
        raise ValueError(f"options.{OPTION} applies to SamplerV2 jobs; {estimator_alternative}")


def shots_per_trajectory(shots: int, trajectories: int) -> NDArray[np.int64]:
    """The shots drawn from each of ``min(trajectories, shots)`` trajectories: ``shots // k``
    each, one more for the first ``shots % k`` (empty for no shots)."""
    k = min(trajectories, shots)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    split = np.full(k, shots // k, dtype=np.int64)
    split[: shots % k] += 1
    return split


def pub_metadata(split: NDArray[np.int64]) -> dict[str, Any]:
    """What a PUB's ``metadata["simulator"]`` says about its trajectories (``split``: from
    :func:`shots_per_trajectory`)."""
    return {
        "trajectories": int(split.size),
        "shots_per_trajectory": int(split[0]) if split.size else 0,
        "trajectories_bias": DOCUMENTED_BIAS,
    }


def approximation_label(trajectories: int) -> str:
    """The part of a job's ``noise`` statement after "APPROXIMATED: "."""
    return f"{trajectories} trajectories (correlated shots)"
