"""Worker processes: a crash fails one job, cancel stops a running job at once, and
``max_execution_time`` ends a job with IBM's code 1305."""

from __future__ import annotations

import re
import time

import psutil
import pytest
from qiskit import QuantumCircuit
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError, RuntimeJobMaxTimeoutError
from qiskit_runtime_server.jobs.cpus import usable_cpus


def circuit(request: str | None = None) -> QuantumCircuit:
    qc = QuantumCircuit(1, metadata={"testkit": request} if request else {})
    qc.x(0)
    qc.measure_all()
    return qc


@pytest.fixture(scope="module")
def testkit(service: QiskitRuntimeService):  # type: ignore[no-untyped-def]
    return service.backend("ideal_simulator@testkit")


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        ("segfault", "was killed by signal SIGSEGV (a segmentation fault in the simulator)"),
        ("exit", "exited with code 3"),
    ],
)
def test_a_crashing_worker_fails_only_its_job(testkit, request_: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    sampler = SamplerV2(mode=testkit)
    crashing = sampler.run([circuit(request_)], shots=5)
    with pytest.raises(RuntimeJobFailureError, match="worker process running the job"):
        crashing.result()
    assert reason in crashing.error_message()
    # The worker was replaced: the next jobs run.
    following = [sampler.run([circuit()], shots=7) for _ in range(3)]
    assert all(job.result()[0].data.meas.get_counts() == {"1": 7} for job in following)


def worker_pid(job) -> int:  # type: ignore[no-untyped-def]
    match = re.search(r"worker process (\d+)", job.logs())
    assert match, job.logs()
    return int(match.group(1))


def test_cancel_stops_a_running_job_within_a_second(service, testkit, gate) -> None:  # type: ignore[no-untyped-def]
    gate.close()
    try:
        job = SamplerV2(mode=testkit).run([circuit("gate")], shots=5)
        gate.wait_started({job.job_id()})
        process = psutil.Process(worker_pid(job))
        began = time.monotonic()
        job.cancel()
        process.wait(timeout=5)
        stopped_after = time.monotonic() - began
        assert stopped_after < 1.0, f"the worker stopped after {stopped_after:.2f} s"
        assert service.job(job.job_id()).status() == "CANCELLED"
    finally:
        gate.open()


def threads_of(service: QiskitRuntimeService, job_id: str) -> tuple[int, int]:
    """The cores a job owned and the idle cores it was offered, from its log."""
    found = re.search(r"testkit: (\d+) threads, (\d+) idle", service.job(job_id).logs())
    assert found, service.job(job_id).logs()
    return int(found.group(1)), int(found.group(2))


def test_each_job_owns_its_workers_cpus_and_a_lone_job_is_offered_the_idle_ones(
    service, testkit, gate
) -> None:  # type: ignore[no-untyped-def]
    cpus = usable_cpus()
    share = max(1, cpus // 2)  # the test server runs two workers per executor
    lone = SamplerV2(mode=testkit).run([circuit()], shots=5)
    lone.result()
    assert threads_of(service, lone.job_id()) == (share, cpus - share)
    gate.close()
    try:
        first = SamplerV2(mode=testkit).run([circuit("gate")], shots=5)
        gate.wait_started({first.job_id()})
        second = SamplerV2(mode=testkit).run([circuit("gate")], shots=5)
        gate.wait_started({second.job_id()})
    finally:
        gate.open()
    first.result(), second.result()
    # The first job was offered every idle core: none is left for the second.
    assert threads_of(service, first.job_id()) == (share, cpus - share)
    assert threads_of(service, second.job_id()) == (share, 0)


def test_max_execution_time_reaches_the_client_as_its_timeout_error(service, testkit) -> None:  # type: ignore[no-untyped-def]
    sampler = SamplerV2(mode=testkit)
    sampler.options.max_execution_time = 1
    job = sampler.run([circuit("sleep:60")], shots=5)
    with pytest.raises(RuntimeJobMaxTimeoutError):
        job.result()
    assert job.status() == "ERROR"
    retrieved = service.job(job.job_id())
    assert "maximum execution time of 1 s" in retrieved.logs()
    usage = retrieved.metrics()["usage"]["seconds"]
    assert 1.0 <= usage < 30
