"""``kill -9`` of the server loses no accepted job, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from qiskit_ibm_runtime import SamplerV2
from qiskit_runtime_server.client import connect
from qrs_test_plugins.circuits import bell_for_testkit as circuit
from qrs_test_plugins.databases import BACKENDS, database
from qrs_test_plugins.gate import Gate
from qrs_test_plugins.processes import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    with database(request.param, tmp_path) as url:
        yield url


def server_env(database_url: str | None, *, testkit: bool = True) -> dict[str, str]:
    env = {"QRS_EXECUTOR_WORKERS": json.dumps({"testkit": 1})}
    if testkit:
        env["QRS_PLUGINS"] = json.dumps(["qrs_test_plugins.testkit"])
    if database_url:
        env["QRS_DATABASE_URL"] = database_url
    return env


def wait_until(predicate, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_kill_9_then_restart_accounts_for_every_job(
    tmp_path: Path, database_url: str | None, gate: Gate
) -> None:
    gate.close()
    first = ServerProcess(tmp_path, extra_env=server_env(database_url)).start()
    try:
        first.wait_ready()
        service = connect(first.url)
        backend = service.backend("ideal_simulator@testkit")
        sampler = SamplerV2(mode=backend)
        sampler.options.simulator.seed_simulator = 5
        done = sampler.run([circuit()], shots=100)
        counts_before = done.result()[0].data.meas.get_counts()
        running = sampler.run([circuit("gate")], shots=100)
        gate.wait_started({running.job_id()})
        queued = [sampler.run([circuit()], shots=100) for _ in range(3)]
        assert all(job.status() == "QUEUED" for job in queued)
    finally:
        first.kill()
    gate.close()  # forgets which jobs reached the gate: the re-run must reach it again

    second = ServerProcess(tmp_path, port=first.port, extra_env=server_env(database_url))
    with second:
        second.wait_ready()
        service = connect(second.url)
        # The interrupted job runs again (and reaches the gate again), the queued ones wait.
        gate.wait_started({running.job_id()})
        gate.open()
        ids = [done.job_id(), running.job_id(), *(job.job_id() for job in queued)]
        wait_until(lambda: all(service.job(i).status() == "DONE" for i in ids))
        assert service.job(done.job_id()).result()[0].data.meas.get_counts() == counts_before
        for job_id in ids[1:]:
            assert service.job(job_id).result()[0].data.meas.num_shots == 100
        logs = service.job(running.job_id()).logs()
        assert "the server stopped while the job ran; queued again" in logs
        assert logs.count("INFO job started (local dispatcher, worker process") == 2
        listed = {job.job_id() for job in service.jobs(limit=None)}
        assert listed == set(ids)


def test_jobs_that_cannot_run_again_fail_as_interrupted(tmp_path: Path, gate: Gate) -> None:
    gate.close()
    first = ServerProcess(tmp_path, extra_env=server_env(None)).start()
    try:
        first.wait_ready()
        service = connect(first.url)
        sampler = SamplerV2(mode=service.backend("ideal_simulator@testkit"))
        running = sampler.run([circuit("gate")], shots=10)
        gate.wait_started({running.job_id()})
        queued = sampler.run([circuit()], shots=10)
    finally:
        first.kill()
        gate.open()
    # Restarted without the testkit plugin: its jobs can no longer run.
    with ServerProcess(
        tmp_path, port=first.port, extra_env=server_env(None, testkit=False)
    ) as second:
        second.wait_ready()
        service = connect(second.url)
        interrupted = service.job(running.job_id())
        assert interrupted.status() == "ERROR"
        assert "interrupted: the server stopped while the job ran" in interrupted.error_message()
        assert "executor 'testkit' is not available" in service.job(queued.job_id()).error_message()


def test_servers_sharing_a_database_rerun_only_the_jobs_of_one_that_died(
    tmp_path: Path, database_url: str | None, gate: Gate
) -> None:
    """Two servers, one database: starting the second leaves the first's running job alone, a
    cancel through either stops it, and the first's jobs run again on the second once it dies
    (``kill -9``). One testkit worker each."""
    gate.close()
    env = server_env(database_url)
    first = ServerProcess(tmp_path, extra_env=env).start()
    second = ServerProcess(tmp_path, extra_env=env)
    try:
        first.wait_ready()
        sampler = SamplerV2(mode=connect(first.url).backend("ideal_simulator@testkit"))
        on_first = sampler.run([circuit("gate")], shots=10)
        gate.wait_started({on_first.job_id()})
        second.start().wait_ready()
        service = connect(second.url)
        other_sampler = SamplerV2(mode=service.backend("ideal_simulator@testkit"))
        on_second = other_sampler.run([circuit("gate")], shots=10)
        gate.wait_started({on_second.job_id()})
        assert service.job(on_first.job_id()).status() == "RUNNING"
        assert service.job(on_first.job_id()).logs().count("job started") == 1

        # A cancel through the second server stops the first server's worker.
        worker = psutil.Process(worker_pid(service.job(on_first.job_id()).logs()))
        service.job(on_first.job_id()).cancel()
        worker.wait(timeout=30)
        assert service.job(on_first.job_id()).status() == "CANCELLED"

        # The first server's next job, then its death: the second server runs the job again.
        interrupted = other_sampler.run([circuit("gate")], shots=10)
        gate.wait_started({interrupted.job_id()})
        assert f"worker process {worker_pid(service.job(interrupted.job_id()).logs())}" in (
            connect(first.url).job(interrupted.job_id()).logs()
        )
        first.kill()
        wait_until(lambda: "queued again" in service.job(interrupted.job_id()).logs())
        gate.open()
        assert interrupted.result()[0].data.meas.num_shots == 10
        assert on_second.result()[0].data.meas.num_shots == 10
        assert service.job(interrupted.job_id()).logs().count("job started") == 2
    finally:
        gate.open()
        first.stop()
        second.stop()


def worker_pid(logs: str) -> int:
    match = re.findall(r"job started \(local dispatcher, worker process (\d+)\)", logs)
    assert match, logs
    return int(match[-1])
