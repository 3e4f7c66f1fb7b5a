"""IBM's error mitigation of legacy ``EstimatorV2`` jobs on a noisy fake device of the custatevec
executor.

custatevec simulates the device's noise by quantum trajectories; on this CPU host its executor
runs on the NumPy reference kernel (``QRS_CUSTATEVEC_KERNEL=numpy``, a second server, as in
test_custatevec.py), the same simulation the GPU runs. The mitigated estimator
(``programs/mitigated_estimator.py``) runs the client's QuantumProgram as one sampler task on the
job's executor, so TREX applies there exactly as on aer: these tests show it on GHZ-4 on
fake_kolkata, whose ideal values are all 1 (the circuit and observables of
test_estimator_mitigation.py).
"""

from __future__ import annotations

import numpy as np
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService
from qrs_test_plugins.mitigation import GHZ4_OBSERVABLES, ghz4

BACKEND = "fake_kolkata@custatevec"
PRECISION = 0.02


def run(service: QiskitRuntimeService, seed: int, **resilience: object) -> object:
    """GHZ-4 at level 1 on fake_kolkata@custatevec, seeded, with ``resilience`` options."""
    estimator = EstimatorV2(mode=service.backend(BACKEND))
    estimator.options.resilience_level = 1
    estimator.options.seed_estimator = seed
    estimator.options.simulator.seed_simulator = seed
    for name, value in resilience.items():
        setattr(estimator.options.resilience, name, value)
    return estimator.run([(ghz4(), GHZ4_OBSERVABLES)], precision=PRECISION).result()


def test_trex_removes_the_readout_bias_on_custatevec(
    numpy_kernel_service: QiskitRuntimeService,
) -> None:
    """Level 1 (measurement twirling and TREX) against level 1 with ``measure_mitigation`` off
    (the same twirled, sampled circuits, with the device's readout error: 1-2 % per qubit on
    qubits 0-3, so about 2-4 % on each weight-2 observable and 4-8 % on XXXX) at precision
    0.02: with TREX the mean bias against the ideal 1 is at most 0.85x that without (the
    issue's ratio; aer's level-1/level-0 ratio is 0.31-0.43), and the values lie above the
    unmitigated ones by more than 5 sigma on average. (custatevec's level 0 is no baseline
    for TREX: its own estimator computes expectation values per trajectory, without readout
    error, as Aer's estimator does.)"""
    plain = run(numpy_kernel_service, 5, measure_mitigation=False)
    trex = run(numpy_kernel_service, 5)
    for result in (plain, trex):
        assert result.metadata["qiskit_runtime_server"]["executor"] == "custatevec"
        assert result.metadata["qiskit_runtime_server"]["ignored_options"] == []
        assert result.metadata["twirling"]["enable_measure"] is True
    assert plain.metadata["resilience"]["measure_mitigation"] is False
    assert trex.metadata["resilience"]["measure_mitigation"] is True
    bias_plain = float(np.mean(np.abs(1 - plain[0].data.evs)))
    bias_trex = float(np.mean(np.abs(1 - trex[0].data.evs)))
    assert bias_trex <= 0.85 * bias_plain, (plain[0].data.evs, trex[0].data.evs)
    gap = float(np.mean(trex[0].data.evs - plain[0].data.evs))
    sigma = float(np.sqrt(np.sum(trex[0].data.stds ** 2 + plain[0].data.stds ** 2))) / 4
    assert gap > 5 * sigma, (trex[0].data.evs, plain[0].data.evs, sigma)
