"""Independent shots across the experiments of one Aer run.

When every shot is its own noisy trajectory, Aer seeds shot i of an experiment with the
experiment's seed + i, and the experiments of one run (circuits, and each parameter set of a
circuit) ``AER_CIRCUIT_SEED_STRIDE`` apart, seeded by the job or not. A parameter sweep, or the
estimator's measurement circuits, run in one go therefore give experiment j+1 the noise events
of experiment j's shots from the 2113th on (measured: two identical sets of 4096 shots agree on
every overlapping shot). Shots on hardware are independent, so with more shots than that the
experiments run one at a time, seeds a run's shots apart. Sampling from one final state (no
noise, or the density matrix) draws from one stream and shares nothing (also measured): those
plans keep the plain ``AerSimulator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.result import Result
from qiskit_aer import AerSimulator

#: How far apart Aer seeds the experiments of one run (measured on qiskit-aer 0.18).
AER_CIRCUIT_SEED_STRIDE = 2113


class _Finished:
    """What ``AerSimulator.run`` returns, for results already computed."""

    def __init__(self, result: Result) -> None:
        self._result = result

    def result(self) -> Result:
        return self._result


class IndependentShotsSimulator(AerSimulator):  # type: ignore[misc]
    """An AerSimulator whose ``run`` of several experiments with more shots than the stride
    runs each alone, seeds a run's shots apart. Aer's SamplerV2 and Qiskit's
    BackendEstimatorV2 both hand it all their circuits (and parameter sets, as
    ``parameter_binds``) at once; the merged result lists the experiments in Aer's order."""

    def run(self, circuits: Any, **options: Any) -> Any:
        shots = int(options.get("shots") or self.options.shots or 0)
        listed = circuits if isinstance(circuits, list) else [circuits]
        binds = options.pop("parameter_binds", None)
        experiments: list[tuple[Any, list[dict[Any, Any]] | None]] = []
        for index, circuit in enumerate(listed):
            values = binds[index] if binds else None
            if not values:
                experiments.append((circuit, None))
                continue
            sets = len(next(iter(values.values())))
            for j in range(sets):
                experiments.append(
                    (circuit, [{name: [column[j]] for name, column in values.items()}])
                )
        if len(experiments) < 2 or shots <= AER_CIRCUIT_SEED_STRIDE:
            if binds is not None:
                options["parameter_binds"] = binds
            return super().run(circuits, **options)
        seed = options.pop("seed_simulator", None)
        base = seed if seed is not None else int(np.random.default_rng().integers(2**62))
        results = []
        for offset, (circuit, values) in enumerate(experiments):
            extra = {} if values is None else {"parameter_binds": values}
            run = super().run(
                circuit, seed_simulator=(base + offset * shots) % 2**63, **options, **extra
            )
            results.append(run.result())
        merged = results[0]
        merged.results = [experiment for result in results for experiment in result.results]
        return _Finished(merged)


def simulator_class(per_shot_trajectories: bool) -> type[AerSimulator]:
    """The simulator for a plan: independent experiments where each shot is a trajectory."""
    return IndependentShotsSimulator if per_shot_trajectories else AerSimulator
