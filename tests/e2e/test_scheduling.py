"""Sessions that schedule: dedicated-session priority, max_ttl and interactive_ttl; and the
retention of finished jobs. Each module-scoped server has its own short time limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import SamplerV2, Session
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer
from qrs_test_plugins.gate import Gate


def start(tmp_path: Path, **settings: object) -> LiveServer:
    live = LiveServer(
        create_app(
            Settings(
                data_dir=tmp_path,
                plugins=["qrs_test_plugins.testkit"],
                executor_workers={"testkit": 2},
                load_entry_points=False,  # only the testkit executor: quick to start
                **settings,  # type: ignore[arg-type]
            )
        )
    ).start()
    live.wait_ready()
    return live


@pytest.fixture(scope="module")
def session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Interactive TTL 3 s: long enough for a loaded machine to see the session active between
    # its jobs, short enough to watch it expire.
    live = start(tmp_path_factory.mktemp("sessions"), session_interactive_ttl=3)
    yield live
    live.stop()


def isa(backend, request: str | None = None) -> QuantumCircuit:  # type: ignore[no-untyped-def]
    circuit = QuantumCircuit(1, metadata={"testkit": request} if request else {})
    circuit.x(0)
    circuit.measure_all()
    return generate_preset_pass_manager(0, backend=backend, initial_layout=[0]).run(circuit)


def wait_until(predicate, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def running_at(job) -> str:  # type: ignore[no-untyped-def]
    stamp: str = job.metrics()["timestamps"]["running"]
    return stamp


def test_active_dedicated_session_jobs_go_first(session_server: LiveServer, gate: Gate) -> None:
    service = connect(session_server.url)
    backend = service.backend("fake_manila@testkit")
    gate.close()
    try:
        session = Session(backend=backend)
        in_session = SamplerV2(mode=session)
        outside = SamplerV2(mode=backend)
        held, sleeping, plain = isa(backend, "gate"), isa(backend, "sleep:8"), isa(backend)
        # Both workers busy: the session's first job (held at the gate) and a sleeping job,
        # which must still run when the gate opens (8 s leaves a slow machine time to spare).
        first = in_session.run([held], shots=5)
        sleeper = outside.run([sleeping], shots=5)
        gate.wait_started({first.job_id()})
        wait_until(lambda: sleeper.status() == "RUNNING")
        # An older job outside the session, then a newer one inside it.
        older_outside = outside.run([plain], shots=5)
        time.sleep(0.05)
        newer_in_session = in_session.run([plain], shots=5)
        assert session.details()["state"] == "active"
        gate.open()  # frees one worker while the sleeper still runs
        for job in (first, sleeper, older_outside, newer_in_session):
            job.result()
        assert running_at(newer_in_session) < running_at(older_outside)
        session.close()
    finally:
        gate.open()


def test_interactive_ttl_makes_an_idle_session_inactive(session_server: LiveServer) -> None:
    service = connect(session_server.url)
    backend = service.backend("fake_manila@testkit")
    with Session(backend=backend) as session:
        SamplerV2(mode=session).run([isa(backend)], shots=5).result()
        assert session.details()["state"] == "active"
        wait_until(lambda: session.details()["state"] == "inactive", timeout=30)
        assert session.status() == "Pending"
        # A new job activates it again.
        SamplerV2(mode=session).run([isa(backend)], shots=5).result()
        assert session.details()["state"] == "active"
        states = [stamp["status"] for stamp in session.details()["timestamps"]]
        assert states == ["open", "active", "inactive", "active"]


def test_max_ttl_closes_the_session_and_cancels_queued_jobs(
    session_server: LiveServer, gate: Gate
) -> None:
    service = connect(session_server.url)
    backend = service.backend("fake_manila@testkit")
    gate.close()
    try:
        session = Session(backend=backend, max_time=3)
        sampler = SamplerV2(mode=session)
        # Every job is submitted before the TTL can pass: the two held ones take both workers,
        # the third stays queued.
        held = [sampler.run([isa(backend, "gate")], shots=5) for _ in range(2)]
        queued = sampler.run([isa(backend)], shots=5)
        gate.wait_started({job.job_id() for job in held})
        wait_until(lambda: session.details()["state"] == "closed", timeout=30)
        details = session.details()
        assert details["accepting_jobs"] is False
        assert queued.status() == "CANCELLED"
        assert "max_ttl of the session has passed" in service.job(queued.job_id()).logs()
    finally:
        gate.open()
    # Jobs that were running when the session expired still finish, as on IBM.
    assert all(job.result()[0].data.meas.num_shots == 5 for job in held)


def test_retention_deletes_finished_jobs(tmp_path: Path) -> None:
    live = start(tmp_path, retention_days=5 / 86_400)  # five seconds
    try:
        service = connect(live.url)
        backend = service.backend("ideal_simulator@testkit")
        circuit = QuantumCircuit(1)
        circuit.measure_all()
        job = SamplerV2(mode=backend).run([circuit], shots=5)
        job.result()
        url = f"{live.url}/api/v1/jobs/{job.job_id()}"
        wait_until(lambda: httpx.get(url).status_code == 404, timeout=30)
    finally:
        live.stop()
