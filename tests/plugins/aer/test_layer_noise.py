"""The aer plugin's answer to qiskit_runtime_device_noise: the errors it simulates with."""

from __future__ import annotations

import numpy as np
from qiskit.quantum_info import SuperOp
from qiskit_aer.noise import NoiseModel, depolarizing_error
from qiskit_ibm_runtime.fake_provider import FakeKolkataV2
from qiskit_runtime_server.catalogue import Catalogue
from qiskit_runtime_server.device_noise import GateRef, NoiseQuery
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server_aer.layer_noise import device_noise
from qiskit_runtime_server_aer.noise import NoiseModelCache

HOST = PluginHost.load()
CATALOGUE = Catalogue(HOST)


def query(
    backend: str, gates: tuple[GateRef, ...], measured: tuple[int, ...] = (), model: object = None
) -> NoiseQuery:
    found = CATALOGUE.get(backend)
    assert found is not None
    return NoiseQuery("aer", backend, found.description, gates, measured, model)


def test_device_errors_are_those_of_the_simulated_model() -> None:
    gates = (GateRef("cx", (0, 1)), GateRef("sx", (1,)), GateRef("rz", (0,)))
    answer = HOST.device_noise(query("fake_kolkata@aer", gates, (0, 1)))
    full = NoiseModelCache().on_qubits(CATALOGUE.get("fake_kolkata@aer").description, {0, 1})  # type: ignore[union-attr]
    for gate in gates[:2]:
        channel = answer.gate_errors[gate]
        assert channel is not None
        expected = full._local_quantum_errors[gate.name][gate.qubits].to_quantumchannel()
        assert np.allclose(SuperOp(channel).data, SuperOp(expected).data)
    assert answer.gate_errors[GateRef("rz", (0,))] is None  # a virtual gate
    properties = FakeKolkataV2().properties()
    for qubit in (0, 1):
        flips = properties.qubit_property(qubit)
        assert answer.readout_errors[qubit] == (
            flips["prob_meas1_prep0"][0],
            flips["prob_meas0_prep1"][0],
        )
    assert "fake_kolkata" in answer.source


def test_a_users_model_replaces_the_device() -> None:
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    answer = device_noise(
        query("ideal_simulator@aer", (GateRef("cx", (3, 4)), GateRef("sx", (3,))), (), model),
        NoiseModelCache(),
    )
    channel = answer.gate_errors[GateRef("cx", (3, 4))]
    assert channel is not None
    assert np.allclose(
        SuperOp(channel).data, SuperOp(depolarizing_error(0.1, 2).to_quantumchannel()).data
    )
    assert answer.gate_errors[GateRef("sx", (3,))] is None
    assert answer.readout_errors == {}


def test_a_device_without_calibrations_is_noiseless() -> None:
    answer = device_noise(
        query("ideal_simulator@aer", (GateRef("cx", (0, 1)),), (0,)), NoiseModelCache()
    )
    assert answer.gate_errors == {GateRef("cx", (0, 1)): None}
    assert answer.readout_errors == {}
