"""Sampler PUBs whose parameter sets get independent shots.

When every shot is its own noisy trajectory, Aer seeds shot i of a circuit with the circuit's
seed + i, and the circuits of one run ``AER_CIRCUIT_SEED_STRIDE`` apart, seeded by the job or
not. A parameter sweep run in one go therefore gives parameter set j+1 the noise events of set
j's shots from the 2113th on (measured: two identical sets of 4096 shots agree on every
overlapping shot). Shots on hardware are independent, so such PUBs run one parameter set at a
time with seeds a PUB's shots apart. Sampling from one final state (no noise, or the density
matrix) draws from one stream and shares nothing (also measured), so it keeps one run, as do
PUBs with one set or fewer shots than the stride.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.primitives.containers import BitArray, DataBin, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.result import Result
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

#: How far apart Aer seeds the circuits of one run (measured on qiskit-aer 0.18).
AER_CIRCUIT_SEED_STRIDE = 2113


def sample_pub(
    simulator: AerSimulator, pub: SamplerPub, seed: int | None, *, trajectories: bool
) -> SamplerPubResult:
    """``pub`` on Aer's SamplerV2, every parameter set with its own random numbers;
    ``trajectories``: the simulator runs a noisy trajectory per shot."""
    shots = pub.shots or 0
    shape = pub.parameter_values.shape
    if not trajectories or pub.parameter_values.size <= 1 or shots <= AER_CIRCUIT_SEED_STRIDE:
        result: SamplerPubResult = (
            AerSamplerV2.from_backend(simulator, seed=seed).run([pub]).result()[0]
        )
        return result
    base = seed if seed is not None else int(np.random.default_rng().integers(2**62))
    parts: list[SamplerPubResult] = []
    for offset, index in enumerate(np.ndindex(shape)):
        single = SamplerPub(pub.circuit, pub.parameter_values[index], shots, validate=False)
        sampler = AerSamplerV2.from_backend(simulator, seed=(base + offset * shots) % 2**63)
        parts.append(sampler.run([single]).result()[0])
    fields: dict[str, BitArray] = {}
    for name in parts[0].data.keys():  # noqa: SIM118 - DataBin is not a mapping
        arrays = [part.data[name] for part in parts]
        stacked = np.stack([array.array for array in arrays])
        fields[name] = BitArray(stacked.reshape(*shape, *stacked.shape[1:]), arrays[0].num_bits)
    return SamplerPubResult(DataBin(**fields, shape=shape), metadata=dict(parts[0].metadata))


class _Finished:
    """What ``AerSimulator.run`` returns, for results already computed."""

    def __init__(self, result: Result) -> None:
        self._result = result

    def result(self) -> Result:
        return self._result


class IndependentShotsSimulator(AerSimulator):  # type: ignore[misc]
    """An AerSimulator whose ``run`` of several circuits with more shots than the stride runs
    each circuit alone, seeds a run's shots apart: for primitives that hand Aer all their
    circuits at once (the estimator's Pauli-basis circuits of every parameter set), which
    would otherwise share noise trajectories."""

    def run(self, circuits: Any, **options: Any) -> Any:
        shots = int(options.get("shots") or self.options.shots or 0)
        if not isinstance(circuits, list) or len(circuits) < 2 or shots <= AER_CIRCUIT_SEED_STRIDE:
            return super().run(circuits, **options)
        seed = options.pop("seed_simulator", None)
        base = seed if seed is not None else int(np.random.default_rng().integers(2**62))
        results = [
            super(IndependentShotsSimulator, self)
            .run(circuit, seed_simulator=(base + index * shots) % 2**63, **options)
            .result()
            for index, circuit in enumerate(circuits)
        ]
        merged = results[0]
        merged.results = [experiment for result in results for experiment in result.results]
        return _Finished(merged)
