"""Backends through the real client: the catalogue, documents, target and status."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.providers.exceptions import QiskitBackendNotFoundError
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.exceptions import IBMRuntimeError
from qiskit_ibm_runtime.fake_provider import FakeManilaV2, FakeProviderForBackendV2
from qiskit_runtime_server.testing import LiveServer


def test_every_fake_device_and_the_ideal_simulator_for_every_executor(
    service: QiskitRuntimeService, server: LiveServer
) -> None:
    names = {backend.name for backend in service.backends()}
    devices = {backend.name for backend in FakeProviderForBackendV2().backends()}
    assert len(devices) == 68
    executors = set(server.state.plugins.executors)
    assert {"aer", "testkit"} <= executors
    assert "reference" not in executors  # the example executor is opt-in
    expected = {f"{device}@{ex}" for device in [*devices, "ideal_simulator"] for ex in executors}
    # With IBM's names of the devices that have one, on the default executor (test_ibm_names).
    assert {name for name in names if "@" in name} == expected
    assert len(names - expected) == 66


def test_fake_device_documents_are_the_real_ones(service: QiskitRuntimeService) -> None:
    backend = service.backend("fake_manila@aer")
    fake = FakeManilaV2()
    assert backend.name == "fake_manila@aer"
    assert backend.num_qubits == 5
    assert not backend.configuration().simulator
    assert sorted(backend.configuration().coupling_map) == sorted(fake.configuration().coupling_map)
    target = backend.target
    assert target.num_qubits == 5
    for name in ("ecr", "cx"):
        if name in fake.target:
            assert set(target[name]) == set(fake.target[name])
    props = backend.properties()
    assert props.t1(0) == fake.properties().t1(0)
    assert props.readout_error(3) == fake.properties().readout_error(3)


def test_ideal_simulator_is_noiseless_all_to_all(service: QiskitRuntimeService) -> None:
    backend = service.backend("ideal_simulator@aer")
    config = backend.configuration()
    assert config.simulator
    assert backend.num_qubits >= 32
    assert config.coupling_map is None
    # All-to-all: two-qubit gates are allowed on any pair.
    assert backend.target.instruction_supported("cx", (0, 31))


def test_ideal_simulator_configuration_has_the_fields_ibms_have(
    service: QiskitRuntimeService,
) -> None:
    """``backend.meas_map`` raised AttributeError on the ideal simulator (issue 13): its
    configuration now has every field that every fake device's configuration has."""
    ideal = service.backend("ideal_simulator@aer")
    assert ideal.meas_map == [[qubit] for qubit in range(ideal.num_qubits)]
    config = ideal.configuration()
    fakes = FakeProviderForBackendV2().backends()
    common = set.intersection(*(set(fake._get_conf_dict_from_json()) for fake in fakes))
    assert "meas_map" in common
    for field in sorted(common):
        getattr(config, field)  # AttributeError where it lacks one
    assert config.n_registers == 1
    assert config.credits_required is False
    # The transpiler still sees an all-to-all device.
    isa = generate_preset_pass_manager(optimization_level=1, backend=ideal).run(_ghz(3))
    assert isa.count_ops()["cx"] == 2


def _ghz(num_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    for qubit in range(1, num_qubits):
        circuit.cx(0, qubit)
    circuit.measure_all()
    return circuit


def test_status(service: QiskitRuntimeService) -> None:
    status = service.backend("fake_manila@aer").status()
    assert status.operational
    assert status.status_msg == "active"
    assert status.pending_jobs >= 0


def test_a_backend_in_its_calibration_and_no_other(service: QiskitRuntimeService) -> None:
    """Each device has one calibration snapshot, with a stable id: a backend (and its jobs)
    pinned to that id works; another id is refused, as IBM refuses a calibration it lacks."""
    calibration_id = service.backend("fake_manila@aer").configuration().calibration_id
    assert service.backend("fake_manila@aer").properties().calibration_id == calibration_id
    pinned = service.backend("fake_manila@aer", calibration_id=calibration_id)
    assert pinned.calibration_id == calibration_id
    assert pinned.target.num_qubits == 5  # properties fetched with the calibration id
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    job = SamplerV2(mode=pinned).run([circuit], shots=20)
    assert job.result()[0].data.meas.num_shots == 20
    with pytest.raises(QiskitBackendNotFoundError):
        service.backend("fake_manila@aer", calibration_id="no-such-id")

    # A backend object whose calibration the server no longer has (here: a made-up one on
    # the ideal simulator, whose client checks nothing else) cannot submit jobs.
    ideal = service.backend("ideal_simulator@aer")
    ideal._calibration_id = "20200101T000000Z-000000000000"
    with pytest.raises(IBMRuntimeError, match="keeps one calibration per device"):
        SamplerV2(mode=ideal).run([circuit], shots=5)
