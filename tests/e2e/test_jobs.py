"""Job management through the real client: list, retrieve, tags, metrics, logs, cancel,
delete, failure reasons."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from qiskit import QuantumCircuit
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.api.exceptions import RequestsApiError
from qiskit_ibm_runtime.exceptions import (
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobNotFound,
)
from qiskit_runtime_server.api.routes import jobs as job_routes
from qiskit_runtime_server.testing import LiveServer


def small() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


@pytest.fixture(scope="module")
def ideal(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("ideal_simulator@aer")


def test_list_and_retrieve(service: QiskitRuntimeService, ideal) -> None:  # type: ignore[no-untyped-def]
    before = datetime.now(UTC)
    sampler = SamplerV2(mode=ideal)
    sampler.options.environment.job_tags = ["listing", "first"]
    first = sampler.run([small()], shots=10)
    first.result()
    sampler.options.environment.job_tags = ["listing"]
    second = sampler.run([small()], shots=10)
    second.result()

    recent = service.jobs(limit=2, created_after=before)
    assert [job.job_id() for job in recent] == [second.job_id(), first.job_id()]
    oldest_first = service.jobs(limit=2, created_after=before, descending=False)
    assert [job.job_id() for job in oldest_first] == [first.job_id(), second.job_id()]
    tagged = service.jobs(job_tags=["listing", "first"], limit=None)
    assert [job.job_id() for job in tagged] == [first.job_id()]
    everything = service.jobs(limit=None, created_after=before, backend_name="ideal_simulator@aer")
    assert {first.job_id(), second.job_id()} <= {job.job_id() for job in everything}
    paged = service.jobs(limit=1, skip=1, created_after=before)
    assert [job.job_id() for job in paged] == [first.job_id()]
    assert not service.jobs(pending=True, created_after=before, program_id="sampler")

    retrieved = service.job(first.job_id())
    assert retrieved.status() == "DONE"
    assert retrieved.backend().name == "ideal_simulator@aer"
    assert retrieved.primitive_id == "sampler"
    assert retrieved.result()[0].data.meas.num_shots == 10
    assert retrieved.inputs["pubs"][0][2] == 10
    assert retrieved.creation_date is not None


def test_listing_beyond_one_page_and_past_the_last_job(  # type: ignore[no-untyped-def]
    service: QiskitRuntimeService, ideal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``service.jobs()`` sends its limit as the page size and asks again until it holds
    ``limit`` jobs or ``count - skip``: a limit above what one page holds gets every job
    (it was a 400), and a skip past the last job gets none (the client asked for the same
    empty page forever)."""
    sampler = SamplerV2(mode=ideal)
    sampler.options.environment.job_tags = [f"paging-{uuid.uuid4().hex}"]
    submitted = [sampler.run([small()], shots=5) for _ in range(3)]
    for job in submitted:
        job.wait_for_final_state()
    newest_first = [job.job_id() for job in reversed(submitted)]
    tags = sampler.options.environment.job_tags

    monkeypatch.setattr(job_routes, "MAX_LIST_LIMIT", 2)  # the server runs in this process
    assert [job.job_id() for job in service.jobs(job_tags=tags, limit=5)] == newest_first
    assert [job.job_id() for job in service.jobs(job_tags=tags, limit=5000)] == newest_first
    assert [job.job_id() for job in service.jobs(job_tags=tags, limit=None)] == newest_first
    assert [job.job_id() for job in service.jobs(job_tags=tags, skip=1)] == newest_first[1:]
    assert service.jobs(job_tags=tags, skip=3) == []
    assert service.jobs(job_tags=tags, skip=5) == []
    assert service.jobs(job_tags=tags, skip=5, limit=None) == []


def test_tags(service: QiskitRuntimeService, ideal) -> None:  # type: ignore[no-untyped-def]
    job = SamplerV2(mode=ideal).run([small()], shots=5)
    job.result()
    job.update_tags(["alpha", "beta"])
    assert sorted(job.tags) == ["alpha", "beta"]
    assert sorted(service.job(job.job_id()).tags) == ["alpha", "beta"]


def test_metrics_and_logs(ideal) -> None:  # type: ignore[no-untyped-def]
    job = SamplerV2(mode=ideal).run([small()], shots=64)
    job.result()
    metrics = job.metrics()
    stamps = metrics["timestamps"]
    created, running, finished = (
        datetime.fromisoformat(stamps[key].replace("Z", "+00:00"))
        for key in ("created", "running", "finished")
    )
    assert created <= running <= finished
    assert metrics["usage"]["seconds"] > 0
    assert job.usage() == metrics["usage"]["qpu_charge_time_seconds"]
    assert metrics["num_qubits"] == [2]
    assert metrics["executions"] == 64
    logs = job.logs()
    assert "INFO job started (local dispatcher, worker process" in logs
    assert "job completed" in logs


def gated() -> QuantumCircuit:
    circuit = small()
    circuit.metadata = {"testkit": "gate"}
    return circuit


def test_cancel_queued_and_running_jobs(service: QiskitRuntimeService, gate) -> None:  # type: ignore[no-untyped-def]
    backend = service.backend("ideal_simulator@testkit")
    gate.close()
    try:
        sampler = SamplerV2(mode=backend)
        # Two workers: two jobs wait at the gate, the third stays queued.
        running = [sampler.run([gated()], shots=5) for _ in range(2)]
        gate.wait_started({job.job_id() for job in running})
        queued = sampler.run([gated()], shots=5)
        assert queued.status() == "QUEUED"
        assert all(job.status() == "RUNNING" for job in running)
        queued.cancel()
        running[0].cancel()
        assert service.job(queued.job_id()).status() == "CANCELLED"
        assert service.job(running[0].job_id()).status() == "CANCELLED"
        with pytest.raises(RuntimeInvalidStateError):
            service.job(queued.job_id()).result()
        # The cancelled job's worker is stopped and replaced: a new job gets a worker (a cold
        # start, which takes a loaded machine a while).
        follower = sampler.run([gated()], shots=5)
        gate.wait_started({follower.job_id()}, timeout=120)
        assert "job cancelled by the user" in service.job(running[0].job_id()).logs()
    finally:
        gate.open()
    assert running[1].result()[0].data.meas.num_shots == 5
    assert follower.result()[0].data.meas.num_shots == 5
    # Cancelling a finished job is a conflict.
    with pytest.raises(RuntimeInvalidStateError):
        service.job(running[1].job_id()).cancel()


def test_delete(service: QiskitRuntimeService, ideal) -> None:  # type: ignore[no-untyped-def]
    job = SamplerV2(mode=ideal).run([small()], shots=5)
    job.result()
    service.delete_job(job.job_id())
    with pytest.raises(RuntimeJobNotFound):
        service.job(job.job_id())


def test_failed_job_reason_reaches_the_user(ideal) -> None:  # type: ignore[no-untyped-def]
    """A job that passes validation but fails in the executor: the reason is actionable."""
    sampler = SamplerV2(mode=ideal)
    sampler.options.simulator.coupling_map = [[0, 1]]
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 2)  # not an edge of the requested coupling map
    circuit.measure_all()
    job = sampler.run([circuit], shots=10)
    with pytest.raises(RuntimeJobFailureError, match="coupling_map"):
        job.result()
    assert job.status() == "ERROR"
    message = job.error_message()
    assert "not an edge of options.simulator.coupling_map" in message
    assert "Error code 1010" in message


def test_unknown_job(service: QiskitRuntimeService) -> None:
    with pytest.raises(RuntimeJobNotFound):
        service.job("doesnotexist0000000")


def test_usage(service: QiskitRuntimeService, ideal) -> None:  # type: ignore[no-untyped-def]
    before = service.usage()["usage_consumed_seconds"]
    job = SamplerV2(mode=ideal).run([small()], shots=5)
    job.result()
    usage = service.usage()
    # Both are rounded to microseconds: their float sum may exceed the rounded total by 1 ulp.
    assert usage["usage_consumed_seconds"] >= before + job.usage() - 1e-6
    assert usage["usage_limit_reached"] is False
    # Code written for a limited IBM plan reads these; this server sets no limit.
    assert usage["usage_remaining_seconds"] is None
    assert usage["usage_limit_seconds"] is None
    assert usage["usage_allocation_seconds"] is None
    assert usage["plan_id"]
    assert usage["instance_id"] == service.active_instance()
    assert usage["usage_period"]["start_time"] < usage["usage_period"]["end_time"]


def test_a_private_jobs_inputs_and_results_are_deleted(  # type: ignore[no-untyped-def]
    service: QiskitRuntimeService, server: LiveServer, ideal
) -> None:
    """As IBM: a private job's inputs are never returned and are deleted when it ends; its
    results are deleted once read."""
    sampler = SamplerV2(mode=ideal)
    sampler.options.environment.private = True
    job = sampler.run([small()], shots=10)
    assert job.private
    assert job.inputs == {}
    assert job.result()[0].data.meas.num_shots == 10
    assert server.state.store.job_params(job.job_id()) is None  # deleted, not just hidden

    retrieved = service.job(job.job_id())
    assert retrieved.private
    assert retrieved.status() == "DONE"
    assert retrieved.inputs == {}
    with pytest.raises(RequestsApiError, match="deleted when they were first read") as error:
        retrieved.result()
    assert error.value.status_code == 410
    with pytest.raises(RequestsApiError):
        job.result()  # the client does not cache results: the first job object asks again
    assert retrieved.metrics()["executions"] == 10  # the job itself stays

    public = SamplerV2(mode=ideal).run([small()], shots=10)
    public.result()
    assert service.job(public.job_id()).inputs["pubs"][0][2] == 10
    assert service.job(public.job_id()).result()[0].data.meas.num_shots == 10


def test_unhonoured_options_are_stated(ideal) -> None:  # type: ignore[no-untyped-def]
    sampler = SamplerV2(mode=ideal)
    sampler.options.twirling.enable_gates = True
    sampler.options.dynamical_decoupling.enable = True
    job = sampler.run([small()], shots=10)
    ignored = job.result().metadata["qiskit_runtime_server"]["ignored_options"]
    assert "twirling.enable_gates" in ignored
    assert "dynamical_decoupling.enable" in ignored
    assert "twirling.enable_gates" in job.logs()


def test_status_polls_answer_while_a_job_runs(service: QiskitRuntimeService, gate) -> None:  # type: ignore[no-untyped-def]
    """Jobs run in worker processes: the API answers while a job is held by an executor."""
    backend = service.backend("ideal_simulator@testkit")
    gate.close()
    try:
        job = SamplerV2(mode=backend).run([gated()], shots=5)
        gate.wait_started({job.job_id()})
        for _ in range(20):
            assert job.status() == "RUNNING"
    finally:
        gate.open()
    assert job.result()[0].data.meas.num_shots == 5
