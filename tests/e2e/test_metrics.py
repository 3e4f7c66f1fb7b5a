"""``/metrics`` through the real client: a worker that crashes under a job is counted as a
restart and its job as failed; a session shows in the sessions gauge; device memory is what the
GPU executor's plugin reports."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, QiskitRuntimeService, SamplerV2
from qiskit_runtime_server.testing import LiveServer
from qrs_test_plugins.metrics import Samples, samples_of
from qrs_test_plugins.processes import ServerProcess


def scrape(server: LiveServer) -> Samples:
    return samples_of(httpx.get(f"{server.url}/metrics", timeout=30).text)


def test_a_crashed_worker_and_its_failed_job_are_counted(
    server: LiveServer, service: QiskitRuntimeService
) -> None:
    restarts = ("qrs_worker_restarts_total", frozenset({("executor", "testkit")}))
    failed = (
        "qrs_jobs_finished_total",
        frozenset({("program", "sampler"), ("executor", "testkit"), ("status", "Failed")}),
    )
    before = scrape(server)
    circuit = QuantumCircuit(1, metadata={"testkit": "exit"})
    circuit.measure_all()
    job = SamplerV2(service.backend("ideal_simulator@testkit")).run([circuit], shots=10)
    job.wait_for_final_state()
    assert job.status() == "ERROR"
    deadline = time.monotonic() + 20  # the scheduler process reports its workers every 0.1 s
    while True:
        after = scrape(server)
        if after.get(restarts, 0) > before.get(restarts, 0):
            break
        assert time.monotonic() < deadline, "the crashed worker was not counted"
        time.sleep(0.1)
    assert after.get(failed, 0) == before.get(failed, 0) + 1


def test_an_open_batch_is_in_the_sessions_gauge(
    server: LiveServer, service: QiskitRuntimeService
) -> None:
    backend = service.backend("fake_manila@testkit")  # not a simulator: the client opens one
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(circuit)
    with Batch(backend=backend) as batch:
        SamplerV2(mode=batch).run([isa], shots=10).result()
        during = scrape(server)
        assert during[("qrs_sessions", frozenset({("state", "active")}))] >= 1


GPU_STANDINS = Path(__file__).parents[1] / "support" / "gpu_standins"


@pytest.mark.slow
def test_device_memory_is_what_the_custatevec_plugin_reports(tmp_path: Path) -> None:
    """On two stand-in GPUs (tests/support/gpu_standins: there is no GPU here), the metric and
    the dashboard show the device memory the custatevec plugin reports in ``/-/plugins``."""
    python_path = os.pathsep.join([str(GPU_STANDINS), os.environ["PYTHONPATH"]])
    environment = {
        "PYTHONPATH": python_path,
        "QRS_STANDIN_GPUS": "2",
        "QRS_EXECUTORS": '["custatevec"]',
        "QRS_PRESTART_WORKERS": "false",
    }
    with ServerProcess(tmp_path, extra_env=environment) as process:
        process.wait_ready()
        summary = httpx.get(f"{process.url}/-/plugins", timeout=30).json()
        (entry,) = [e for e in summary["executors"] if e["name"] == "custatevec"]
        reported = entry["device_memory"]
        assert reported["total_bytes"] > 0
        text = httpx.get(f"{process.url}/metrics", timeout=30).text
        memory = {
            sample.labels["kind"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "qrs_device_memory_bytes"
            and sample.labels["executor"] == "custatevec"
        }
        assert memory == {
            "used": reported["used_bytes"],
            "free": reported["free_bytes"],
            "total": reported["total_bytes"],
        }
        overview = httpx.get(f"{process.url}/dashboard/api/overview", timeout=30).json()
        (shown,) = [e for e in overview["executors"] if e["name"] == "custatevec"]
        assert shown["device"] == "GPU"
        assert shown["device_memory"]["total_bytes"] == reported["total_bytes"]
