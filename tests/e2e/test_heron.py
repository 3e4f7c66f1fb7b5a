"""What IBM's Heron devices offer and local testing mode does not: fractional gates (``rx``,
``rzz``) and the mid-circuit measurement ``measure_2``, through the real client."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.circuit import MidCircuitMeasure

SHOTS = 4000


@pytest.mark.parametrize("device", ["fake_fez", "fake_torino"])
def test_fractional_gates_are_offered_with_derived_calibrations(
    service: QiskitRuntimeService, device: str
) -> None:
    plain = service.backend(f"{device}@aer")
    assert not {"rx", "rzz"} & set(plain.target.operation_names)  # hidden unless asked for
    fractional = service.backend(f"{device}@aer", use_fractional_gates=True)
    target = fractional.target
    assert {"rx", "rzz"} <= set(target.operation_names)
    # rzz on every pair that has a cz, rx on every qubit that has an sx; where the snapshot has
    # no calibration of its own (every rzz of fake_torino), the cz's or sx's.
    assert set(target["rzz"]) == set(target["cz"])
    assert set(target["rx"]) == set(target["sx"])
    derived = set()
    for pair in target["cz"]:
        assert target["rzz"][pair].error < 1 or target["cz"][pair].error >= 1
        if target["rzz"][pair].error == target["cz"][pair].error:
            assert target["rzz"][pair].duration == target["cz"][pair].duration
            derived.add(pair)
    description = fractional.configuration().description
    assert "rzz: cz's calibration on each pair where the snapshot has none" in description
    if device == "fake_torino":
        assert derived == set(target["cz"])


def test_fractional_gates_are_not_offered_before_heron(service: QiskitRuntimeService) -> None:
    with pytest.raises(Exception, match="does not support fractional gates"):
        service.backend("fake_sherbrooke@aer", use_fractional_gates=True)


def test_a_circuit_with_fractional_gates_runs_with_the_devices_noise(
    service: QiskitRuntimeService,
) -> None:
    backend = service.backend("fake_fez@aer", use_fractional_gates=True)
    circuit = QuantumCircuit(2)
    circuit.rx(0.9, 0)
    circuit.rx(0.4, 1)
    circuit.rzz(0.7, 0, 1)
    circuit.rx(1.1, 0)
    exact = Statevector(circuit).probabilities_dict()
    circuit.measure_all()
    isa = generate_preset_pass_manager(
        optimization_level=1, backend=backend, initial_layout=[0, 1], seed_transpiler=1
    ).run(circuit)
    assert {"rx", "rzz"} <= set(isa.count_ops()), isa.count_ops()
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 5
    result = sampler.run([isa], shots=SHOTS).result()
    counts = result[0].data.meas.get_counts()
    # fake_fez's errors on qubits 0 and 1: cz 1.0e-2, sx 7.6e-4 and 1.8e-4, readout 1.1e-2 and 1.2e-2:
    # the noisy distribution stays within 0.06 (total variation) of the exact one.
    distance = 0.5 * sum(abs(counts.get(k, 0) / SHOTS - exact.get(k, 0)) for k in exact)
    assert distance < 0.06, (counts, exact)
    # fake_fez calibrates rx on every qubit, rzz on (0, 1) only with a placeholder.
    assert result.metadata["derived_calibrations"] == {
        "rzz": "cz's calibration on each pair where the snapshot has none or a placeholder "
        "(98 of 352)"
    }


def mid_circuit_measurement() -> QuantumCircuit:
    """X, a mid-circuit ``measure_2`` into c0, X again, a final measure into c1: "01"."""
    circuit = QuantumCircuit(1, 2)
    circuit.x(0)
    circuit.append(MidCircuitMeasure(), [0], [0])
    circuit.x(0)
    circuit.measure(0, 1)
    return circuit


def test_measure_2_is_a_measurement_with_the_qubits_readout_error(
    service: QiskitRuntimeService,
) -> None:
    backend = service.backend("fake_kingston@aer")
    assert "measure_2" in backend.target.operation_names
    isa = generate_preset_pass_manager(
        optimization_level=1, backend=backend, initial_layout=[0], seed_transpiler=1
    ).run(mid_circuit_measurement())
    assert "measure_2" in isa.count_ops()
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 3
    counts = sampler.run([isa], shots=SHOTS).result()[0].data.c.get_counts()
    # Qubit 0's readout errors (prob_meas0_prep1 1.6e-2, prob_meas1_prep0 2.9e-3) flip each
    # bit now and then; the measurement collapses and keeps the state, so "01" dominates.
    readout = backend.properties().readout_error(0)
    assert counts["01"] / SHOTS > 1 - 4 * readout - 0.02, counts
    assert set(counts) <= {"00", "01", "10", "11"}
    assert counts["01"] < SHOTS, "no readout error at all"


def test_measure_2_on_a_device_without_it_is_refused(service: QiskitRuntimeService) -> None:
    backend = service.backend("fake_fez@aer")
    assert "measure_2" not in backend.target.operation_names
    isa = generate_preset_pass_manager(
        optimization_level=1, backend=service.backend("fake_kingston@aer"), initial_layout=[0]
    ).run(mid_circuit_measurement())
    with pytest.raises(Exception, match="measure_2"):  # the client's ISA check refuses it
        SamplerV2(mode=backend).run([isa], shots=10)
