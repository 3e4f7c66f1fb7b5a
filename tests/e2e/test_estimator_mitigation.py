"""IBM's error mitigation applied to legacy ``EstimatorV2`` jobs on a noisy fake device.

The server maps the job's PUBs and ``resilience``/``twirling``/``dynamical_decoupling`` options
onto the client-side estimator's own preparation and post-processing (qiskit-mitigation,
samplomatic) and runs the resulting QuantumProgram on the device's noise
(``programs/mitigated_estimator.py``). These tests check the effect of each level and option
against the ideal values of a GHZ state.

Circuits are narrow (4 qubits in fake_kolkata's basis on physical qubits 0-3, where CX(0,1),
CX(1,2) and CX(2,3) exist), as in test_mitigation.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService
from qrs_test_plugins.mitigation import isa_h

pytestmark = pytest.mark.parametrize("server", ["sqlite"], indirect=True)

KOLKATA = "fake_kolkata@aer"
#: Z0Z1, Z1Z2, Z2Z3 and XXXX (qubit 0 rightmost); every ideal value of GHZ-4 is 1.
OBSERVABLES = [SparsePauliOp(label) for label in ("IIZZ", "IZZI", "ZZII", "XXXX")]


def ghz4() -> QuantumCircuit:
    circuit = QuantumCircuit(4)
    isa_h(circuit, 0)
    for qubit in range(3):
        circuit.cx(qubit, qubit + 1)
    return circuit


def run(service: QiskitRuntimeService, level: int, precision: float, **opts: object) -> object:
    estimator = EstimatorV2(mode=service.backend(KOLKATA))
    estimator.options.resilience_level = level
    estimator.options.default_precision = precision
    for path, value in opts.items():
        target = estimator.options
        *parents, name = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
    return estimator.run([(ghz4(), OBSERVABLES)]).result()


def test_levels_reduce_the_bias_of_ghz4(service: QiskitRuntimeService) -> None:
    results = {level: run(service, level, 0.02) for level in (0, 1, 2)}
    bias = {level: float(np.mean(np.abs(1 - r[0].data.evs))) for level, r in results.items()}
    assert bias[1] <= 0.85 * bias[0], bias
    assert bias[2] <= 0.85 * bias[1], bias
