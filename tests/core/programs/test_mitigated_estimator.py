"""The mapping of a legacy estimator job onto the client-side estimator's machinery:
options, which paths are honoured, and PUBs narrowed to the qubits that act and put back."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_runtime_server.errors import InvalidRequest
from qiskit_runtime_server.programs import mitigated_estimator as me


def test_legacy_options_map_onto_the_client_side_options() -> None:
    options = me.client_options(
        {
            "resilience_level": 2,
            "default_shots": 100,  # resolved by the core, not mapped
            "twirling": {"num_randomizations": 8, "strategy": "active"},
            "resilience": {
                "zne": {"noise_factors": [1, 2, 3], "extrapolator": "linear"},
                "layer_noise_learning": {"max_layers_to_learn": 2},
            },
            "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
        }
    )
    assert options.resilience_level == 2
    assert options.twirling.num_randomizations == 8
    assert options.twirling.strategy == "active"
    assert list(options.resilience.zne.noise_factors) == [1, 2, 3]
    assert options.resilience.zne.extrapolator == "linear"
    assert options.dynamical_decoupling.sequence_type == "XY4"
    finalized = me.finalize(options)
    assert finalized.twirling.enable_gates
    assert finalized.resilience.zne_mitigation
    assert me.applies(finalized)
    assert not me.applies(me.finalize(me.client_options({"resilience_level": 0})))


def test_a_value_the_client_refuses_is_a_clear_400() -> None:
    with pytest.raises(InvalidRequest, match=r"twirling\.num_randomizations"):
        me.client_options({"twirling": {"num_randomizations": 0}})


def test_honoured_paths_are_the_mapped_ones() -> None:
    paths = [
        "resilience_level",
        "twirling.enable_gates",
        "resilience.zne.amplifier",
        "resilience.pec.max_overhead",
        "resilience.measure_noise_learning.num_randomizations",
        "resilience.layer_noise_model",
        "resilience.measure_noise_learning.shots_per_randomization",
        "resilience.layer_noise_learning.max_layers_to_learn",
        "execution.init_qubits",
    ]
    assert me.honoured_paths(paths) == paths[:6]


def test_a_device_wide_pub_runs_on_the_qubits_that_act() -> None:
    """A Bell pair on qubits 2 and 5 of a 7-qubit circuit, observables also on qubits 1, 4 and
    6: narrowed to qubits (1, 2, 4, 5, 6) with the same expectation values; the program's
    circuits are put back on the device's qubits."""
    circuit = QuantumCircuit(7)
    circuit.h(2)
    circuit.cx(2, 5)
    circuit.barrier()
    observables = [SparsePauliOp("IIIIZZI"), SparsePauliOp("ZIXIIXI")]
    pub = EstimatorPub.coerce((circuit, observables), 0.01)
    qubits = me._acting_qubits([pub])
    assert qubits == (1, 2, 4, 5, 6)
    narrow = me._narrowed(pub, qubits)
    assert narrow.circuit.num_qubits == 5
    for wide_obs, narrow_obs in zip(
        pub.observables.tolist(), narrow.observables.tolist(), strict=True
    ):
        wide_value = Statevector(circuit).expectation_value(
            SparsePauliOp.from_list(list(wide_obs.items()))
        )
        narrow_value = Statevector(narrow.circuit).expectation_value(
            SparsePauliOp.from_list(list(narrow_obs.items()))
        )
        assert np.isclose(wide_value, narrow_value)
    measured = narrow.circuit.copy()
    measured.measure_all()
    wide = me._widened(measured, qubits, 7)
    assert wide.num_qubits == 7
    assert wide.cregs == measured.cregs
    assert [wide.find_bit(q).index for q in wide.data[0].qubits] == [qubits[1]]  # the H
