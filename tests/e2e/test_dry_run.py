"""Dry runs through the real client: ``run(pubs, dry_run=True)`` sends the job to the
backend's mock counterpart (``mock_manila@aer`` for ``fake_manila@aer``), which checks it as
the backend would and completes it at once with random data, without running an executor."""

from __future__ import annotations

import re
import uuid

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, EstimatorV2, QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.exceptions import IBMRuntimeError
from qrs_test_plugins.circuits import ghz
from qrs_test_plugins.gate import Gate


@pytest.fixture(scope="module")
def manila(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("fake_manila@aer")


def test_a_dry_run_on_a_fake_device(service: QiskitRuntimeService, manila) -> None:  # type: ignore[no-untyped-def]
    """The issue's call: it raised QiskitBackendNotFoundError for ``mock_manila@aer``."""
    isa = generate_preset_pass_manager(optimization_level=1, backend=manila).run(
        ghz(2, measure=True)
    )
    job = SamplerV2(mode=manila).run([isa], shots=100, dry_run=True)

    assert job.backend().name == "mock_manila@aer"
    assert job.backend().is_mock
    assert job.status() == "DONE"
    result = job.result()
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 100
    assert all(len(bits) == 2 for bits in counts)
    assert result[0].metadata["shots"] == 100
    assert result.metadata["qiskit_runtime_server"]["dry_run"] is True
    assert "execution_spans" in result.metadata["execution"]
    assert job.usage() == 0
    assert job.metrics()["executions"] == 100
    assert "dry run" in job.logs()
    # The mock serves the device's documents under its own name.
    mock = service.backend("mock_manila@aer")
    assert mock.configuration().coupling_map == manila.configuration().coupling_map
    assert mock.target.num_qubits == 5
    assert mock.properties().t1(0) == manila.properties().t1(0)


def test_a_dry_run_runs_no_executor(service: QiskitRuntimeService, gate: Gate) -> None:
    """The testkit executor would hold this circuit at the closed gate: a real job stays
    running, the dry run completes without reaching it."""
    backend = service.backend("ideal_simulator@testkit")
    circuit = ghz(2, measure=True)
    circuit.metadata = {"testkit": "gate"}
    gate.close()
    try:
        job = SamplerV2(mode=backend).run([circuit], shots=8, dry_run=True)
        assert job.backend().name == "mock_simulator@testkit"
        assert job.result()[0].data.meas.num_shots == 8
        assert job.job_id() not in gate.started()
    finally:
        gate.open()


def test_a_dry_run_is_refused_where_a_run_is(service: QiskitRuntimeService) -> None:
    """The server's checks apply to dry runs too (here a circuit wider than the device, which
    the client does not check on a simulator), with the same message."""
    ideal = service.backend("ideal_simulator@aer")
    wide = QuantumCircuit(ideal.num_qubits + 1)
    wide.measure_all()
    messages = []
    for dry_run in (False, True):
        with pytest.raises(
            IBMRuntimeError, match=f"the circuit has {wide.num_qubits} qubits"
        ) as caught:
            SamplerV2(mode=ideal).run([wide], dry_run=dry_run)
        text = str(caught.value).replace("mock_simulator@aer", "ideal_simulator@aer")
        messages.append(re.sub(r'"trace":"[^"]*"', "", text))
    assert messages[0] == messages[1]


def test_an_estimator_dry_run_has_the_shapes_of_a_run(service: QiskitRuntimeService) -> None:
    ideal = service.backend("ideal_simulator@aer")
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.rx(theta, 0)
    circuit.cx(0, 1)
    observables = [[SparsePauliOp(["ZZ", "XI"], [2.0, 0.5])], [SparsePauliOp("IZ")]]
    values = np.linspace(0, np.pi, 3).reshape(3, 1, 1, 1)  # sets of shape (3, 1, 1)
    job = EstimatorV2(mode=ideal).run(
        [(circuit, observables, values)], precision=0.05, dry_run=True
    )
    pub_result = job.result()[0]
    assert pub_result.data.evs.shape == (3, 2, 1)
    assert pub_result.data.stds.shape == (3, 2, 1)
    assert np.all(np.abs(pub_result.data.evs[:, 0]) <= 2.5)
    assert np.all(np.abs(pub_result.data.evs[:, 1]) <= 1.0)
    assert pub_result.metadata["target_precision"] == 0.05


def test_mocks_stay_out_of_listings(service: QiskitRuntimeService, manila) -> None:  # type: ignore[no-untyped-def]
    """As on IBM: mock backends and their jobs are listed only with ``include_mocks``."""
    assert not any(backend.is_mock for backend in service.backends())
    mocks = service.backends(include_mocks=True, name="mock_manila@aer")
    assert [(backend.name, backend.is_mock) for backend in mocks] == [("mock_manila@aer", True)]
    assert not service.least_busy().name.startswith("mock_")

    sampler = SamplerV2(mode=service.backend("ideal_simulator@aer"))
    tags = [f"dry-{uuid.uuid4().hex}"]
    sampler.options.environment.job_tags = tags
    dry = sampler.run([ghz(2, measure=True)], shots=4, dry_run=True)
    real = sampler.run([ghz(2, measure=True)], shots=4)
    real.wait_for_final_state()
    assert [job.job_id() for job in service.jobs(job_tags=tags)] == [real.job_id()]
    listed = service.jobs(job_tags=tags, include_mocks=True)
    assert [job.job_id() for job in listed] == [real.job_id(), dry.job_id()]
    retrieved = service.job(dry.job_id())
    assert retrieved.backend().name == "mock_simulator@aer"
    assert retrieved.result()[0].data.meas.num_shots == 4


def test_a_dry_run_in_a_batch(service: QiskitRuntimeService, manila) -> None:  # type: ignore[no-untyped-def]
    isa = generate_preset_pass_manager(optimization_level=1, backend=manila).run(
        ghz(2, measure=True)
    )
    with Batch(backend=manila) as batch:
        sampler = SamplerV2(mode=batch)
        dry = sampler.run([isa], shots=10, dry_run=True)
        real = sampler.run([isa], shots=10)
        assert dry.session_id == real.session_id == batch.session_id
        assert dry.result()[0].data.meas.num_shots == 10
        assert real.result()[0].data.meas.num_shots == 10
