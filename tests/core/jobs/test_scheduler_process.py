"""The engine in its own process: the API never waits on it, and a dead one is replaced (the
end-to-end behaviour is in tests/e2e)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qiskit import QuantumCircuit
from qiskit_runtime_server.jobs.models import JobRecord, JobStatus, utcnow
from qiskit_runtime_server.jobs.scheduler_process import SchedulerProcess
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.state import ServerState
from qiskit_runtime_server.testing import encode_job_body


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ServerState]:
    settings = Settings(
        data_dir=tmp_path, load_entry_points=False, plugins=["qrs_test_plugins.testkit"]
    )
    state = ServerState.build(settings)
    state.scheduler.start()
    try:
        wait_for_workers(state.scheduler)
        yield state
    finally:
        state.scheduler.stop()
        state.store.close()


def wait_for_workers(engine: SchedulerProcess) -> None:
    deadline = time.monotonic() + 60
    while engine.alive_workers() == 0:
        assert time.monotonic() < deadline, "the engine process started no worker"
        time.sleep(0.1)


def kill(engine: SchedulerProcess) -> None:
    process = engine._process
    assert process is not None
    process.kill()
    process.join(timeout=10)


def test_the_api_does_not_wait_on_a_dead_engine_process(
    state: ServerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No replacement (its pipe would take the messages): the dead child's pipe stays.
    monkeypatch.setattr(state.scheduler, "_launch", lambda: None)
    kill(state.scheduler)
    # The supervisor thread may reap the child while this one joins it: the other thread's
    # view catches up a moment later.
    deadline = time.monotonic() + 10
    while state.scheduler.alive_workers() != 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # Far more than a pipe holds: each must fail at once, not block the request's thread.
    sent = threading.Thread(
        target=lambda: [state.scheduler.notify("testkit") for _ in range(20_000)]
    )
    sent.start()
    sent.join(timeout=30)
    assert not sent.is_alive()


def test_a_dead_engine_process_is_replaced_and_runs_the_queued_jobs(state: ServerState) -> None:
    dead = state.scheduler._process
    kill(state.scheduler)
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    body = encode_job_body("sampler", "ideal_simulator@testkit", [(circuit, None, 5)])
    record = JobRecord(
        id="after-death", instance="i", program_id="sampler",
        backend="ideal_simulator@testkit", executor="testkit", created=utcnow(),
    )  # fmt: skip
    state.store.add_job(record, json.dumps(body["params"]))
    state.scheduler.notify("testkit")  # lost: no engine to hear it
    deadline = time.monotonic() + 60
    while (job := state.store.get_job("after-death")) is None or not job.status.final:
        assert time.monotonic() < deadline, "no new engine process ran the job"
        time.sleep(0.1)
    assert job.status == JobStatus.COMPLETED, job.reason
    replacement = state.scheduler._process
    assert replacement is not dead
    wait_for_workers(state.scheduler)
    state.scheduler.stop()
    # Stopped, not killed (a child of the supervisor thread would get SIGKILL when it ends).
    assert replacement is not None
    assert replacement.exitcode == 0
