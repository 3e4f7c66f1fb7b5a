"""The ``executor`` program through the real client: ``Executor`` with a ``QuantumProgram``, the
client-side ``Sampler`` and ``Estimator``, in job, session and batch mode, and bad programs
refused with a 400 and nothing stored.

The statistical claims about twirling and mitigation live in test_mitigation.py.
"""

from __future__ import annotations

import base64
import copy
import json
import zlib
from typing import Any

import httpx
import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import PrimitiveResult
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, Executor, QiskitRuntimeService, Session
from qiskit_ibm_runtime.exceptions import IBMRuntimeError
from qiskit_ibm_runtime.executor_estimator import Estimator
from qiskit_ibm_runtime.executor_sampler import Sampler
from qiskit_ibm_runtime.quantum_program import QuantumProgram
from qiskit_ibm_runtime.results import QuantumProgramResult
from qiskit_runtime_server.testing import LiveServer
from qiskit_runtime_server.testing.contract import twirled_bell, within_sigmas
from qiskit_runtime_server.testing.jobs import encode_quantum_program
from qrs_test_plugins.circuits import ghz


@pytest.fixture(scope="module")
def manila(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("fake_manila@aer")


@pytest.fixture(scope="module")
def ideal(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("ideal_simulator@aer")


def swept_ry() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(Parameter("t"), 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def test_executor_runs_circuit_items(service: QiskitRuntimeService, ideal) -> None:  # type: ignore[no-untyped-def]
    angles = np.array([[0.0], [np.pi / 3], [np.pi]])
    program = QuantumProgram(shots=1000)
    program.append_circuit_item(swept_ry(), circuit_arguments=angles)
    program.append_circuit_item(ghz(3, measure=True))
    job = Executor(mode=ideal).run(program)
    result = job.result()
    assert isinstance(result, QuantumProgramResult)
    assert result[0]["meas"].shape == (3, 1000, 2)
    assert result[1]["meas"].shape == (1000, 3)
    for index, (angle,) in enumerate(angles):
        ones = result[0]["meas"][index, :, 0]
        assert np.array_equal(ones, result[0]["meas"][index, :, 1])
        assert within_sigmas(float(ones.mean()), float(np.sin(angle / 2) ** 2), 1000)
    # The job is an executor job like any other: its inputs decode back to the program.
    again = service.job(job.job_id())
    assert again.primitive_id == "executor"
    inputs = again.inputs["quantum_program"]
    assert isinstance(inputs, QuantumProgram)
    assert inputs.shots == 1000
    assert np.array_equal(inputs.items[0].circuit_arguments, angles)
    metrics = again.metrics()
    assert metrics["executions"] == 1000 * 3 + 1000
    assert metrics["num_qubits"] == [2, 3]
    assert metrics["usage"]["seconds"] > 0
    assert "job completed" in again.logs()


def test_client_side_sampler_next_to_sampler_v2(manila) -> None:  # type: ignore[no-untyped-def]
    from qiskit_ibm_runtime import SamplerV2

    isa = generate_preset_pass_manager(1, backend=manila, seed_transpiler=3).run(
        ghz(2, measure=True)
    )
    result = Sampler(mode=manila).run([isa], shots=2000).result()
    assert isinstance(result, PrimitiveResult)
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 2000
    reference = SamplerV2(mode=manila).run([isa], shots=2000).result()[0].data.meas.get_counts()
    # Same device noise through both programs: the error rates agree within 5 sigma.
    errors = (2000 - counts.get("00", 0) - counts.get("11", 0)) / 2000
    reference_errors = (2000 - reference.get("00", 0) - reference.get("11", 0)) / 2000
    assert 0 < errors < 0.2
    assert abs(errors - reference_errors) <= 5 * np.sqrt(2 * 0.2 * 0.8 / 2000)


def test_client_side_estimator_on_the_noisy_device(manila) -> None:  # type: ignore[no-untyped-def]
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    isa = generate_preset_pass_manager(1, backend=manila, seed_transpiler=3).run(circuit)
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in ("ZZ", "XX", "ZI")]
    estimator = Estimator(mode=manila)
    estimator.options.resilience_level = 0
    result = estimator.run([(isa, observables)], precision=0.02).result()
    evs = result[0].data.evs
    assert evs.shape == (3,)
    # The device's noise pulls <ZZ> and <XX> below their ideal 1; <ZI> stays near 0.
    assert 0.7 < evs[0] < 0.995
    assert 0.7 < evs[1] < 0.995
    assert abs(evs[2]) < 0.1


def test_sessions_and_batches(manila) -> None:  # type: ignore[no-untyped-def]
    isa = generate_preset_pass_manager(1, backend=manila, seed_transpiler=3).run(
        ghz(2, measure=True)
    )
    with Session(backend=manila) as session:
        job = Sampler(mode=session).run([isa], shots=100)
        assert job.session_id == session.session_id
        assert job.result()[0].data.meas.num_shots == 100
    with Batch(backend=manila) as batch:
        jobs = [Sampler(mode=batch).run([isa], shots=50) for _ in range(2)]
        assert {job.session_id for job in jobs} == {batch.session_id}
        assert all(job.result()[0].data.meas.num_shots == 50 for job in jobs)


def test_cancel(service: QiskitRuntimeService, gate) -> None:  # type: ignore[no-untyped-def]
    backend = service.backend("ideal_simulator@testkit")
    circuit = ghz(2, measure=True)
    circuit.metadata = {"testkit": "gate"}
    program = QuantumProgram(shots=5)
    program.append_circuit_item(circuit)
    gate.close()
    try:
        job = Executor(mode=backend).run(program)
        gate.wait_started({job.job_id()})
        job.cancel()
        assert service.job(job.job_id()).status() == "CANCELLED"
    finally:
        gate.open()


def test_max_execution_time(service: QiskitRuntimeService) -> None:
    from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError

    circuit = ghz(2, measure=True)
    circuit.metadata = {"testkit": "sleep:60"}
    program = QuantumProgram(shots=5)
    program.append_circuit_item(circuit)
    executor = Executor(mode=service.backend("ideal_simulator@testkit"))
    executor.options.max_execution_time = 1
    job = executor.run(program)
    with pytest.raises(RuntimeJobMaxTimeoutError):
        job.result()
    assert "maximum execution time of 1 s" in service.job(job.job_id()).logs()


def test_dry_run(service: QiskitRuntimeService, manila) -> None:  # type: ignore[no-untyped-def]
    isa = generate_preset_pass_manager(1, backend=manila, seed_transpiler=3).run(
        ghz(2, measure=True)
    )
    sampler = Sampler(mode=manila)
    sampler.options.twirling.enable_gates = True
    job = sampler.run([isa], shots=64, dry_run=True)
    assert job.backend().name == "mock_manila@aer"
    result = job.result()
    assert result[0].data.meas.num_shots == 64


# -- bad programs: a 400 with a clear message, and no job stored ----------------------------------


def _twirled_program() -> dict[str, Any]:
    template, samplex = twirled_bell()
    program = QuantumProgram(shots=10)
    program.append_samplex_item(template, samplex=samplex, shape=(4,))
    return encode_quantum_program(program)


def _post(server: LiveServer, params: dict[str, Any]) -> httpx.Response:
    body = {"program_id": "executor", "backend": "ideal_simulator@aer", "params": params}
    return httpx.post(f"{server.url}/api/v1/jobs", json=body, timeout=60)


def _job_count(server: LiveServer) -> int:
    response = httpx.get(f"{server.url}/api/v1/jobs", params={"limit": 1}, timeout=60)
    count: int = response.json()["count"]
    return count


def _corrupt_samplex(params: dict[str, Any]) -> None:
    samplex = params["quantum_program"]["items"][0]["samplex"]
    samplex["samplex_json"] = samplex["samplex_json"][: len(samplex["samplex_json"]) // 2]


def _newer_qpy(params: dict[str, Any]) -> None:
    circuits = params["quantum_program"]["circuits"]
    blob = bytearray(zlib.decompress(base64.b64decode(circuits["b64_data"])))
    blob[6] = 99  # the QPY header's version byte
    circuits["b64_data"] = base64.b64encode(zlib.compress(bytes(blob))).decode()
    circuits["qpy_version"] = 99


def _over_the_limit(params: dict[str, Any]) -> None:
    params["quantum_program"]["shots"] = 2_000_000  # x 4 randomizations > 5,000,000


def _missing_argument(params: dict[str, Any]) -> None:
    item = params["quantum_program"]["items"][0]
    item["item_type"] = "circuit"
    item["circuit_arguments"] = item.pop("samplex_arguments", None) or {}


def _other_schema(params: dict[str, Any]) -> None:
    params["schema_version"] = "v9.9"


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_corrupt_samplex, "could not be decoded"),
        (_newer_qpy, "QPY version 99"),
        (_over_the_limit, "more than the limit of 5,000,000"),
        (_missing_argument, "not a valid QuantumProgram"),
        (_other_schema, "schema_version 'v2.0'"),
    ],
    ids=["corrupted-samplex", "qpy-too-new", "over-the-executions-limit", "bad-item", "schema"],
)
def test_bad_programs_get_a_400_and_nothing_is_stored(server: LiveServer, spoil, message) -> None:  # type: ignore[no-untyped-def]
    params = copy.deepcopy(_twirled_program())
    before = _job_count(server)
    spoil(params)
    response = _post(server, params)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert message in error["message"], error
    assert _job_count(server) == before


def test_items_must_fit_the_device(server: LiveServer) -> None:
    program = QuantumProgram(shots=10)
    program.append_circuit_item(ghz(3, measure=True))
    params = encode_quantum_program(program)
    body = {"program_id": "executor", "backend": "fake_manila@aer", "params": params}
    response = httpx.post(f"{server.url}/api/v1/jobs", json=body, timeout=60)
    assert response.status_code == 400
    assert "item 0: the circuit is not an ISA circuit for fake_manila@aer" in response.text
    wide = QuantumProgram(shots=10)
    wide.append_circuit_item(ghz(6, measure=True))
    body["params"] = encode_quantum_program(wide)
    response = httpx.post(f"{server.url}/api/v1/jobs", json=body, timeout=60)
    assert response.status_code == 400
    assert "item 0: the circuit has 6 qubits but fake_manila@aer has 5" in response.text
    assert json.loads(response.text)["errors"][0]["code"]


def test_the_client_shows_the_reason(manila) -> None:  # type: ignore[no-untyped-def]
    program = QuantumProgram(shots=10)
    program.append_circuit_item(ghz(2, measure=True))  # h and cx: not ISA for fake_manila
    with pytest.raises(IBMRuntimeError, match="not an ISA circuit"):
        Executor(mode=manila).run(program)


def test_gates_no_executor_can_run_are_refused(service: QiskitRuntimeService, ideal) -> None:  # type: ignore[no-untyped-def]
    """On a simulator there is no ISA rule, but an opaque gate (no definition, not standard)
    would only fail in the worker: it gets a 400 at submission, for both programs."""
    from qiskit.circuit import Gate
    from qiskit_ibm_runtime import SamplerV2

    circuit = QuantumCircuit(1, 1)
    circuit.append(Gate("opaque_thing", 1, []), [0])
    circuit.measure(0, 0)
    program = QuantumProgram(shots=10)
    program.append_circuit_item(circuit)
    with pytest.raises(
        IBMRuntimeError, match=r"item 0: the circuit uses .*opaque_thing.*neither standard gates"
    ):
        Executor(mode=ideal).run(program)
    with pytest.raises(
        IBMRuntimeError, match=r"PUB 0: the circuit uses .*opaque_thing.*neither standard gates"
    ):
        SamplerV2(mode=ideal).run([circuit])
