"""Session and Batch through the real client."""

from __future__ import annotations

import time

import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, QiskitRuntimeService, SamplerV2, Session


@pytest.fixture(scope="module")
def manila(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("fake_manila@aer")


@pytest.fixture(scope="module")
def isa(manila):  # type: ignore[no-untyped-def]
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return generate_preset_pass_manager(1, backend=manila, seed_transpiler=1).run(circuit)


def wait_for(predicate, timeout: float = 10):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_session_runs_jobs_and_closes(service, manila, isa) -> None:  # type: ignore[no-untyped-def]
    with Session(backend=manila, max_time=600) as session:
        assert session.session_id
        sampler = SamplerV2(mode=session)
        first = sampler.run([isa], shots=100)
        second = sampler.run([isa], shots=200)
        assert first.result()[0].data.meas.num_shots == 100
        assert second.result()[0].data.meas.num_shots == 200
        assert first.session_id == session.session_id
        details = session.details()
        assert details["mode"] == "dedicated"
        assert details["max_time"] == 600
        assert details["state"] == "active"
        assert details["usage_time"] > 0
        assert session.status() == "In progress, accepting new jobs"
        session_id = session.session_id
    wait_for(lambda: Session.from_id(session_id, service).details()["state"] == "closed")
    reopened = Session.from_id(session_id, service)
    assert reopened.details()["accepting_jobs"] is False
    jobs = service.jobs(session_id=session_id, limit=None)
    assert {job.job_id() for job in jobs} == {first.job_id(), second.job_id()}


def test_batch(manila, isa) -> None:  # type: ignore[no-untyped-def]
    with Batch(backend=manila) as batch:
        jobs = [SamplerV2(mode=batch).run([isa], shots=50) for _ in range(3)]
        assert all(job.result()[0].data.meas.num_shots == 50 for job in jobs)
        assert batch.details()["mode"] == "batch"
        assert all(job.session_id == batch.session_id for job in jobs)


def test_from_id_requires_matching_mode(service, manila) -> None:  # type: ignore[no-untyped-def]
    batch = Batch(backend=manila)
    try:
        with pytest.raises(Exception, match="batch"):
            Session.from_id(batch.session_id, service)
        assert Batch.from_id(batch.session_id, service).session_id == batch.session_id
    finally:
        batch.close()


def test_cancel_session_cancels_queued_jobs(service, gate) -> None:  # type: ignore[no-untyped-def]
    backend = service.backend("fake_manila@testkit")
    circuit = QuantumCircuit(1, metadata={"testkit": "gate"})
    circuit.x(0)
    circuit.measure_all()
    isa = generate_preset_pass_manager(0, backend=backend, initial_layout=[0]).run(circuit)
    gate.close()
    try:
        session = Session(backend=backend)
        sampler = SamplerV2(mode=session)
        # The server runs two jobs at a time: two wait at the gate, the third stays queued.
        running = [sampler.run([isa], shots=10) for _ in range(2)]
        gate.wait_started({job.job_id() for job in running})
        queued = sampler.run([isa], shots=10)
        assert queued.status() == "QUEUED"
        session.cancel()
        wait_for(lambda: queued.status() == "CANCELLED")
        assert "was closed: cancelled by the user" in service.job(queued.job_id()).logs()
        assert session.details()["state"] == "closed"
    finally:
        gate.open()
    for job in running:
        assert job.result()[0].data.meas.num_shots == 10
