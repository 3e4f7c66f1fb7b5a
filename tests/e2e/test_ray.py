"""The Ray dispatcher on a real Ray cluster of two simulated nodes, driven by the real client.

The head node has two CPUs; the other has two CPUs and one GPU, and only there is the
``gpulike`` executor available (``QRS_TEST_GPU_LIKE=1`` in its processes' environment), as
custatevec would be on a GPU node. The API server runs in this process, where ``gpulike`` is
unavailable: its backends are available through the cluster. Jobs are kept in PostgreSQL where
it is reachable (always in CI), as on a real cluster. Each node runs one actor per
executor (``workers=1``), so two testkit jobs fill the cluster.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService, SamplerV2, Session
from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError, RuntimeJobMaxTimeoutError
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer
from qrs_test_plugins.circuits import bell_for_testkit as circuit
from qrs_test_plugins.databases import database, scale_out_backend
from qrs_test_plugins.gate import Gate
from qrs_test_plugins.processes import ServerProcess

pytest.importorskip("ray", reason="Ray is not installed (pip install './core[ray]')")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

SHOTS = 2000


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2, num_gpus=1, env_vars={"QRS_TEST_GPU_LIKE": "1"})
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="module")
def ray_server(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("ray-data")
    with database(scale_out_backend(), data_dir) as url:
        yield from _server(cluster, data_dir, url)


def _server(cluster: Any, data_dir: Path, url: str | None) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        dispatcher="ray",
        ray_address=cluster.address,
        workers=1,
        disabled_plugins=["reference", "custatevec"],
        plugins=["qrs_test_plugins.testkit", "qrs_test_plugins.gpu_like"],
    )
    with LiveServer(create_app(settings)) as live:
        wait_for(lambda: len(ready(live)["executors_available"]) == 3, "the cluster's executors")
        wait_for(lambda: ready(live)["workers_alive"] == 5, "every actor")  # 2 + 3 per node
        yield live


@pytest.fixture(scope="module")
def ray_service(ray_server: LiveServer) -> QiskitRuntimeService:
    return connect(ray_server.url)


def ready(server: LiveServer) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{server.url}/readyz", timeout=10).json()
    return answer


def wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def node_of(job: Any) -> str:
    """The Ray node id (prefix) the job's last start names."""
    found = re.findall(
        r"job started \(ray dispatcher, Ray actor \w+ on node [\d.]+ \((\w+)\)", job.logs()
    )
    assert found, job.logs()
    return str(found[-1])


def actor_pid(job: Any) -> int:
    found = re.findall(r"job started \(ray dispatcher, .*, process (\d+)\)", job.logs())
    assert found, job.logs()
    return int(found[-1])


def gpu_node(cluster: Any) -> str:
    return str(cluster.list_all_nodes()[1].node_id)


def assert_bell(counts: dict[str, int], shots: int) -> None:
    """Only 00 and 11, each half of the shots within 4 standard deviations (callers seed the
    job: unseeded, 4 sd two-sided fails with probability 6.3e-5 per call)."""
    assert set(counts) <= {"00", "11"}
    assert abs(counts.get("00", 0) - shots / 2) <= 4 * np.sqrt(shots / 4)


def test_jobs_land_where_their_executor_and_resource_are(
    cluster: Any, ray_server: LiveServer, ray_service: QiskitRuntimeService
) -> None:
    # Unavailable on the API's host, available through the cluster's GPU node.
    backend = ray_service.backend("ideal_simulator@gpulike")
    assert backend.status().operational
    sampler = SamplerV2(mode=backend)
    sampler.options.simulator.seed_simulator = 41  # assert_bell's 4 sd fails 6e-5 unseeded
    job = sampler.run([circuit()], shots=SHOTS)
    assert_bell(job.result()[0].data.meas.get_counts(), SHOTS)
    assert gpu_node(cluster).startswith(node_of(job))
    assert "gpulike: on host pid" in job.logs()
    # testkit runs on both nodes: two jobs held at once take one actor each.
    plugins = httpx.get(f"{ray_server.url}/-/plugins", timeout=10).json()
    assert any(e["name"] == "gpulike" and not e["available"] for e in plugins["executors"])


def test_the_real_clients_sampler_estimator_and_session(ray_service: QiskitRuntimeService) -> None:
    ideal = ray_service.backend("ideal_simulator@aer")
    sampler = SamplerV2(mode=ideal)
    sampler.options.simulator.seed_simulator = 42  # assert_bell's 4 sd fails 6e-5 unseeded
    job = sampler.run([circuit()], shots=SHOTS)
    assert_bell(job.result()[0].data.meas.get_counts(), SHOTS)
    assert "ray dispatcher" in job.logs()

    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    estimator = EstimatorV2(mode=ideal)
    estimator.options.default_precision = 0.01
    data = estimator.run([(bell, observables)]).result()[0].data
    np.testing.assert_allclose(data.evs, [1, 1, 0], atol=5 * 0.01)

    manila = ray_service.backend("fake_manila@aer")
    with Session(backend=manila) as session:
        sampler = SamplerV2(mode=session)
        isa = generate_preset_pass_manager(1, backend=manila, seed_transpiler=7).run(circuit())
        jobs = [sampler.run([isa], shots=SHOTS) for _ in range(2)]
        for job in jobs:
            counts = job.result()[0].data.meas.get_counts()
            assert job.session_id == session.session_id
            # The device's noise: mostly 00 and 11, some of the rest.
            assert 0 < sum(counts.get(k, 0) for k in ("01", "10")) < 0.2 * SHOTS


def test_every_actor_busy_queues_the_next_job_and_cancel_stops_a_running_one(
    ray_server: LiveServer, ray_service: QiskitRuntimeService, gate: Gate
) -> None:
    testkit = ray_service.backend("ideal_simulator@testkit")
    sampler = SamplerV2(mode=testkit)
    gate.close()
    try:
        held = [sampler.run([circuit("gate")], shots=5) for _ in range(2)]
        gate.wait_started({job.job_id() for job in held})
        assert len({node_of(job) for job in held}) == 2  # one actor per node
        waiting = sampler.run([circuit()], shots=5)
        time.sleep(1.5)  # a second look at the queue: still no free actor
        assert waiting.status() == "QUEUED"
        # Cancel kills the actor (Ray cannot stop running work otherwise); its replacement
        # takes the queued job.
        process = psutil.Process(actor_pid(held[0]))
        held[0].cancel()
        assert held[0].status() == "CANCELLED"
        process.wait(timeout=10)
        assert waiting.result()[0].data.meas.get_counts().keys() <= {"00", "11"}
    finally:
        gate.open()
    assert held[1].result()[0].data.meas.num_shots == 5
    assert held[0].status() == "CANCELLED"


def test_max_execution_time_and_a_crashed_actor(ray_service: QiskitRuntimeService) -> None:
    testkit = ray_service.backend("ideal_simulator@testkit")
    slow = SamplerV2(mode=testkit)
    slow.options.max_execution_time = 1
    job = slow.run([circuit("sleep:30")], shots=5)
    with pytest.raises(RuntimeJobMaxTimeoutError):
        job.result()
    assert "1305" in job.error_message() or "maximum execution time" in job.error_message()

    crashing = SamplerV2(mode=testkit).run([circuit("segfault")], shots=5)
    with pytest.raises(RuntimeJobFailureError, match="Ray actor running the job died"):
        crashing.result()
    # Only that job failed: the actor was replaced and the next jobs run.
    following = [SamplerV2(mode=testkit).run([circuit()], shots=7) for _ in range(3)]
    assert all(job.result()[0].data.meas.num_shots == 7 for job in following)


def test_a_lost_nodes_running_job_runs_again_on_another_node(
    cluster: Any, ray_server: LiveServer, ray_service: QiskitRuntimeService, gate: Gate
) -> None:
    """A third node joins and takes a job; it dies mid-job (its processes killed): the job
    runs again on another node, and the API answers throughout."""
    extra = cluster.add_node(num_cpus=2, num_gpus=1, env_vars={"QRS_TEST_GPU_LIKE": "1"})
    # Five actors on the first two nodes (replacements of killed ones included), three here.
    wait_for(lambda: ready(ray_server)["workers_alive"] == 8, "the new node's actors")
    gpulike = ray_service.backend("ideal_simulator@gpulike")
    gate.close()
    answers: list[float] = []
    stop = threading.Event()

    def poll() -> None:  # the API answers while the node goes
        while not stop.is_set():
            began = time.monotonic()
            httpx.get(f"{ray_server.url}/livez", timeout=5).raise_for_status()
            answers.append(time.monotonic() - began)
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    try:
        held = [SamplerV2(mode=gpulike).run([circuit("gate")], shots=5) for _ in range(2)]
        gate.wait_started({job.job_id() for job in held})
        on_extra = next(job for job in held if extra.node_id.startswith(node_of(job)))
        poller.start()
        cluster.remove_node(extra, allow_graceful=False)  # a crash: no goodbye
        wait_for(lambda: "queued again" in on_extra.logs(), "the lost job to be queued again")
    finally:
        gate.open()
        stop.set()
    for job in held:
        assert job.result()[0].data.meas.num_shots == 5
    logs = on_extra.logs()
    assert "left the cluster; queued again" in logs
    assert logs.count("job started") == 2
    assert not extra.node_id.startswith(node_of(on_extra))  # ran again on another node
    poller.join()
    assert answers
    assert max(answers) < 5


@pytest.mark.slow
def test_a_killed_api_server_loses_nothing(
    cluster: Any, tmp_path: Path, gate: Gate, ray_server: LiveServer
) -> None:
    """``kill -9`` of a server on Ray: its actors go with it (Ray ends the actors of a driver
    that died), and the next server on the same database runs the interrupted job again."""
    env = {
        "QRS_DISPATCHER": "ray",
        "QRS_RAY_ADDRESS": cluster.address,
        "QRS_LOAD_ENTRY_POINTS": "false",
        "QRS_PLUGINS": json.dumps(["qrs_test_plugins.testkit"]),
        "QRS_WORKERS": "1",
    }
    with database(scale_out_backend(), tmp_path) as url:
        if url:
            env["QRS_DATABASE_URL"] = url
        gate.close()
        first = ServerProcess(tmp_path, extra_env=env).start()
        try:
            first.wait_ready()
            service = connect(first.url)
            sampler = SamplerV2(mode=service.backend("ideal_simulator@testkit"))
            running = sampler.run([circuit("gate")], shots=10)
            gate.wait_started({running.job_id()})
            actor = psutil.Process(actor_pid(running))
            queued = [sampler.run([circuit()], shots=10) for _ in range(2)]
        finally:
            first.kill()
        actor.wait(timeout=60)  # gone with the server that owned it
        gate.close()  # forget who reached the gate: the re-run must reach it again
        with ServerProcess(tmp_path, port=first.port, extra_env=env) as second:
            second.wait_ready()
            service = connect(second.url)
            gate.wait_started({running.job_id()})
            gate.open()
            for job_id in [running.job_id(), *(job.job_id() for job in queued)]:
                assert service.job(job_id).result()[0].data.meas.num_shots == 10
            logs = service.job(running.job_id()).logs()
            assert "the server stopped while the job ran; queued again" in logs
            assert logs.count("job started (ray dispatcher") == 2
