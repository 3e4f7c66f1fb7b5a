"""Circuits wider than a statevector fits, through the real client: each PUB runs on the method
that fits it (stabilizer, MPS), or is refused at submit with every method's reason."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit, random_clifford_circuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qrs_test_plugins.circuits import ghz


def test_a_noisy_100_qubit_ghz_runs_on_fake_kyiv_as_an_mps(service: QiskitRuntimeService) -> None:
    backend = service.backend("fake_kyiv@aer")
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(
        ghz(100, measure=True)
    )
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 11
    job = sampler.run([isa], shots=100)
    result = job.result()
    simulator = result[0].metadata["simulator"]
    assert simulator["method"] == "matrix_product_state"
    assert simulator["bond_dimension"] == 2
    assert simulator["active_qubits"] == 100
    bitstrings = result[0].data.meas.get_bitstrings()
    assert len(bitstrings) == 100
    assert all(len(bits) == 100 for bits in bitstrings)
    # A GHZ state's shots are all zeros or all ones; 100 qubits of device noise (about 300
    # noisy gates and 100 readouts) leave few of them intact, yet each shot stays mostly one
    # value: most of its bits agree.
    intact = sum(bits in ("0" * 100, "1" * 100) for bits in bitstrings)
    assert intact < 100
    majority = [max(bits.count("0"), bits.count("1")) for bits in bitstrings]
    assert sum(majority) / len(majority) > 70
    assert "matrix_product_state" in job.logs()


def test_the_ideal_simulator_runs_its_whole_width_on_the_stabilizer_method(
    service: QiskitRuntimeService,
) -> None:
    backend = service.backend("ideal_simulator@aer")
    assert backend.num_qubits == 5000
    bell = QuantumCircuit(32)
    bell.h(30)
    bell.cx(30, 31)
    bell.measure_all()
    clifford = random_clifford_circuit(50, num_gates=300, seed=5)
    clifford.measure_all()
    result = (
        SamplerV2(mode=backend).run([ghz(32, measure=True), bell, clifford], shots=200).result()
    )
    ghz_counts = result[0].data.meas.get_counts()
    assert set(ghz_counts) <= {"0" * 32, "1" * 32}
    assert sum(ghz_counts.values()) == 200
    assert set(result[1].data.meas.get_counts()) <= {"0" * 32, "11" + "0" * 30}
    assert result.metadata["simulator"]["method"] == "stabilizer"
    assert all(pub.metadata["simulator"]["method"] == "stabilizer" for pub in result)


def test_a_pub_no_method_fits_is_refused_at_submit_with_each_reason(
    service: QiskitRuntimeService,
) -> None:
    backend = service.backend("ideal_simulator@aer")
    entangling = random_circuit(40, 30, max_operands=2, seed=4, measure=True)
    with pytest.raises(Exception, match="no simulation method fits 40 active qubits") as error:
        SamplerV2(mode=backend).run([entangling], shots=10)
    message = str(error.value)
    for method in ("statevector", "density_matrix", "stabilizer", "matrix_product_state"):
        assert f"{method}:" in message
