"""Benchmarks of the server: overhead, throughput, responsiveness, parallelism, memory, noisy
jobs, device noise models, the cost of the logging and metrics middlewares, the executor program (QuantumPrograms), the estimator's error
mitigation, wide circuits and the Ray dispatcher.

    uv run python bench/run.py            # every benchmark, a table at the end (noisy: ~10 min)
    uv run python bench/run.py throughput memory
    uv run python bench/run.py ray        # Ray dispatcher vs local, simulated Ray clusters
    uv run python bench/run.py wide       # 100-, 40- and 50-qubit jobs vs local testing mode

Each benchmark starts its own ``qiskit-runtime-server serve`` process (SQLite in a temporary
data directory, default settings) and drives it over raw HTTP from this process. Results are
ratios and latencies measured side by side in one run; the machine may be shared and noisy,
so compare runs of the same revision before concluding anything.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_runtime_server.jobs.cpus import usable_cpus
from qiskit_runtime_server.testing import encode_job_body
from qiskit_runtime_server.testing.live_server import free_port

FINAL = {"Completed", "Failed", "Cancelled"}
#: How often throughput clients poll a job: what qiskit-ibm-runtime does inside a session.
POLL_SECONDS = 0.1
#: How often the overhead client polls: short, so that polling adds little to the latency.
OVERHEAD_POLL_SECONDS = 0.001


@dataclass
class Row:
    benchmark: str
    measured: str
    target: str
    #: None for a reference row, which has no target.
    ok: bool | None


class Server:
    """A ``serve`` process with its own data directory."""

    #: Seconds the server has to answer ``/readyz`` with 200.
    READY_TIMEOUT: float = 120

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = tempfile.TemporaryDirectory(prefix="qrs-bench-")
        self.log = Path(self.directory.name) / "server.log"
        environment = {**os.environ, "QRS_DATA_DIR": self.directory.name, **env}
        environment["QRS_LOG_LEVEL"] = "warning"
        command = [
            sys.executable,
            "-m",
            "qiskit_runtime_server.cli",
            "serve",
            "--port",
            str(self.port),
        ]
        with self.log.open("wb") as log:
            self.process = psutil.Popen(command, env=environment, stdout=log, stderr=log)
        deadline = time.monotonic() + self.READY_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.1)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by the API process and by its children (the
        engine process and the worker processes)."""

        def used(process: psutil.Process) -> float:
            times = process.cpu_times()
            return float(times.user + times.system)

        workers = self.process.children(recursive=True)
        return {"server": used(self.process), "engine+workers": sum(used(w) for w in workers)}

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the API process and of its children (engine and workers)."""
        workers = self.process.children(recursive=True)
        return {
            "server": self.process.memory_info().rss / 2**20,
            "workers": sum(child.memory_info().rss for child in workers) / 2**20,
        }

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.directory.cleanup()


def manila_bell() -> tuple[dict[str, Any], Any]:
    """The overhead/throughput job: a 2-qubit Bell circuit, 1024 shots, on fake_manila@aer."""
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    isa = generate_preset_pass_manager(1, backend=FakeManilaV2(), seed_transpiler=1).run(circuit)
    return encode_job_body("sampler", "fake_manila@aer", [(isa, None, 1024)]), isa


def manila_bell_bytes() -> bytes:
    return json.dumps(manila_bell()[0]).encode()


class RawClient:
    """A keep-alive HTTP/1.1 connection with as little client-side work as possible.

    The benchmarks measure the server, but client and server share this machine's cores; an
    HTTP library that spends milliseconds per request would be measured too.
    """

    def __init__(self, url: str, timeout: float = 120) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> Any:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def run_job(client: RawClient, body: bytes, poll: float) -> tuple[str, str]:
    """Submit, poll until final, fetch the result; the job id and final status."""
    job_id = client.request("POST", "/api/v1/jobs", body)["id"]
    while True:
        status = client.request("GET", f"/api/v1/jobs/{job_id}?exclude_params=true")["state"][
            "status"
        ]
        if status in FINAL:
            break
        time.sleep(poll)
    client.request("GET", f"/api/v1/jobs/{job_id}/results")
    return job_id, status


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def bench_overhead(jobs: int = 200) -> list[Row]:
    from qiskit_runtime_server.catalogue import Catalogue
    from qiskit_runtime_server.jobs.submission import prepare_task
    from qiskit_runtime_server.plugins import PluginHost
    from qiskit_runtime_server_aer.primitives import AerPrimitives

    body, _ = manila_bell()
    # In-process: the aer executor itself, with its noise-model caches warm.
    host = PluginHost.load()
    task = prepare_task(
        "sampler", "fake_manila@aer", body["params"], job_id="x", catalogue=Catalogue(host),
        default_shots=4096,
    ).task  # fmt: skip
    primitives = AerPrimitives()
    for _ in range(20):
        primitives.run(task)
    direct = []
    for _ in range(jobs):
        began = time.perf_counter()
        primitives.run(task)
        direct.append(time.perf_counter() - began)

    raw = json.dumps(body).encode()
    server = Server()
    try:
        with RawClient(server.url) as client:
            for _ in range(20):
                run_job(client, raw, poll=OVERHEAD_POLL_SECONDS)
            through_server = []
            for _ in range(jobs):
                began = time.perf_counter()
                run_job(client, raw, poll=OVERHEAD_POLL_SECONDS)
                through_server.append(time.perf_counter() - began)
    finally:
        server.close()
    overhead = median_ms(through_server) - median_ms(direct)
    return [
        Row(
            "overhead: 2q 1024-shot job on fake_manila@aer",
            f"HTTP {median_ms(through_server):.1f} ms vs in-process {median_ms(direct):.1f} ms "
            f"(median of {jobs}): +{overhead:.1f} ms",
            "<= 10 ms",
            overhead <= 10,
        )
    ]


@dataclass
class Throughput:
    """What :func:`measure_throughput` saw."""

    jobs: int
    clients: int
    elapsed: float
    completed: int
    lost: int
    errors: list[str]
    #: CPU milliseconds per job, by part of the system.
    cpu_ms: dict[str, float]

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed

    @property
    def clean(self) -> bool:
        return self.lost == 0 and not self.errors and self.completed == self.jobs

    def describe(self) -> str:
        cpu = ", ".join(f"{part} {ms:.1f} ms" for part, ms in self.cpu_ms.items())
        return (
            f"{self.rate:.0f} jobs/s ({self.elapsed:.1f} s); {self.completed} completed, "
            f"{self.lost} lost, {len(self.errors)} errors; CPU per job: {cpu}"
        )


def measure_throughput(
    server: Server,
    body: bytes,
    jobs: int,
    clients: int,
    warm: int = 10,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> Throughput:
    """``jobs`` jobs from ``clients`` threads, each submitting, polling every POLL_SECONDS and
    fetching one job at a time over its own keep-alive connection. ``cpu`` gives the CPU
    seconds used so far by each part of the server (default: its process and its children)."""

    def server_cpu() -> dict[str, float]:
        used = server.cpu_seconds()
        return {"API process": used["server"], "engine and workers": used["engine+workers"]}

    cpu = cpu or server_cpu
    outcomes: list[str] = []
    errors: list[str] = []
    next_job = iter(range(jobs))
    lock = threading.Lock()

    def client_loop() -> None:
        with RawClient(server.url) as client:
            while True:
                with lock:
                    if next(next_job, None) is None:
                        return
                try:
                    _, status = run_job(client, body, poll=POLL_SECONDS)
                    outcomes.append(status)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

    def finished(client: RawClient) -> int:
        count: int = client.request("GET", "/api/v1/jobs?limit=1&pending=false")["count"]
        return count

    with RawClient(server.url) as warm_client:
        for _ in range(warm):
            run_job(warm_client, body, poll=0.005)
        finished_before = finished(warm_client)
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    cpu_before, client_before = cpu(), sum(os.times()[:2])
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu_after, client_after = cpu(), sum(os.times()[:2])
    with RawClient(server.url) as client:
        lost = jobs - (finished(client) - finished_before)
    # Where the machine's cores went: the API process is one GIL, its children are many.
    per_job = {part: (cpu_after[part] - cpu_before[part]) * 1000 / jobs for part in cpu_after}
    per_job["these clients"] = (client_after - client_before) * 1000 / jobs
    completed = outcomes.count("Completed")
    errors += [f"a job ended {status}" for status in outcomes if status != "Completed"]
    return Throughput(jobs, clients, elapsed, completed, lost, errors, per_job)


def bench_throughput(jobs: int = 300, clients: int = 32) -> list[Row]:
    server = Server()
    try:
        measured = measure_throughput(server, manila_bell_bytes(), jobs, clients)
    finally:
        server.close()
    return [
        Row(
            f"throughput: {jobs} such jobs, {clients} clients",
            measured.describe(),
            ">= 100 jobs/s, 0 lost, 0 errors",
            measured.rate >= 100 and measured.clean,
        )
    ]


def bench_responsiveness(qubits: int = 20) -> list[Row]:
    circuit = random_circuit(qubits, 120, seed=3, measure=True)
    body = encode_job_body("sampler", "ideal_simulator@aer", [(circuit, None, 2000)])
    server = Server()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            ids = [client.post("/api/v1/jobs", json=body).json()["id"] for _ in range(3)]
            latencies: list[float] = []
            seen_running = False
            while True:
                statuses = []
                for job_id in ids:
                    began = time.perf_counter()
                    response = client.get(
                        f"/api/v1/jobs/{job_id}", params={"exclude_params": "true"}
                    )
                    latencies.append(time.perf_counter() - began)
                    statuses.append(response.json()["state"]["status"])
                seen_running |= "Running" in statuses
                if all(s in FINAL for s in statuses):
                    break
                time.sleep(0.005)
    finally:
        server.close()
    p99 = percentile_ms(latencies, 0.99)
    return [
        Row(
            f"responsiveness: GET /jobs/{{id}} while three {qubits}-qubit jobs run",
            f"p99 {p99:.1f} ms, median {median_ms(latencies):.1f} ms, max "
            f"{max(latencies) * 1000:.1f} ms ({len(latencies)} requests)",
            "p99 < 50 ms",
            p99 < 50 and seen_running and all(s == "Completed" for s in statuses),
        )
    ]


def bench_parallelism(qubits: int = 16) -> list[Row]:
    """Two noiseless jobs, with the default threads (each job owns one core; a noiseless state
    does not borrow the idle one) and, for comparison, with QRS_JOB_THREADS set to every core
    (a lone job is faster, jobs together oversubscribe the cores); then the machine's own
    ceiling: the same two simulations in two plain processes, no server."""
    every_core = str(usable_cpus())
    return [
        _parallelism(qubits, {}),
        _parallelism(qubits, {"QRS_JOB_THREADS": every_core}, target=False),
        _machine_parallelism(qubits),
    ]


def _parallel_circuit(qubits: int) -> QuantumCircuit:
    return random_circuit(qubits, 200, seed=1, measure=True)


def _simulate_once(circuit: QuantumCircuit) -> None:
    from qiskit_aer import AerSimulator

    AerSimulator(max_parallel_threads=1).run(circuit, shots=1000).result()


def _machine_parallelism(qubits: int, repeats: int = 3) -> Row:
    import multiprocessing

    from qiskit import transpile
    from qiskit_aer import AerSimulator

    circuit = transpile(_parallel_circuit(qubits), AerSimulator())
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pool.map(_simulate_once, [circuit, circuit], chunksize=1)  # import, warm both
        sequential_runs, parallel_runs = [], []
        for _ in range(repeats):
            began = time.perf_counter()
            pool.apply(_simulate_once, (circuit,))
            pool.apply(_simulate_once, (circuit,))
            sequential_runs.append(time.perf_counter() - began)
            began = time.perf_counter()
            pool.map(_simulate_once, [circuit, circuit], chunksize=1)
            parallel_runs.append(time.perf_counter() - began)
    sequential = statistics.median(sequential_runs)
    parallel = statistics.median(parallel_runs)
    return Row(
        "parallelism, reference: the same two simulations in two processes, one thread each",
        f"together {parallel:.2f} s vs one after the other {sequential:.2f} s (medians of "
        f"{repeats}): ratio {parallel / sequential:.2f}",
        "the machine's own ceiling",
        None,
    )


def _parallelism(qubits: int, env: dict[str, str], repeats: int = 5, target: bool = True) -> Row:
    # The same circuit in both jobs (sampled with different seeds): with jobs of unequal cost
    # the ratio would measure the imbalance, not the engine.
    circuit = _parallel_circuit(qubits)

    def body(seed: int) -> dict[str, Any]:
        return encode_job_body(
            "sampler", "ideal_simulator@aer", [(circuit, None, 1000)],
            {"simulator": {"seed_simulator": seed}},
        )  # fmt: skip

    def wait_all(client: httpx.Client, ids: list[str]) -> tuple[float, float]:
        """Wait for the jobs; the server's own record of when the first was created and the
        last finished. Times come from the server, not from polling: the polls would take CPU
        from the jobs (more so from two jobs than from one) and add their interval."""
        while not all(
            client.get(f"/api/v1/jobs/{i}", params={"exclude_params": "true"}).json()["state"][
                "status"
            ]
            in FINAL
            for i in ids
        ):
            time.sleep(POLL_SECONDS)
        stamps = [client.get(f"/api/v1/jobs/{i}/metrics").json()["timestamps"] for i in ids]
        created = min(datetime.fromisoformat(t["created"]) for t in stamps)
        finished = max(datetime.fromisoformat(t["finished"]) for t in stamps)
        return created.timestamp(), finished.timestamp()

    def run_pair(client: httpx.Client, together: bool) -> float:
        """Seconds from the first job's creation to the last one's end; one after the other,
        the sum of each job's own span (the second is submitted once the first has finished)."""
        if together:
            created, finished = wait_all(
                client, [client.post("/api/v1/jobs", json=body(s)).json()["id"] for s in (1, 2)]
            )
            return finished - created
        spans = [
            wait_all(client, [client.post("/api/v1/jobs", json=body(seed)).json()["id"]])
            for seed in (1, 2)
        ]
        return sum(finished - created for created, finished in spans)

    server = Server(**env)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            run_pair(client, together=True)  # a first job in each worker, to warm its caches
            sequential_runs, parallel_runs = [], []
            for _ in range(repeats):
                sequential_runs.append(run_pair(client, together=False))
                parallel_runs.append(run_pair(client, together=True))
    finally:
        server.close()
    sequential = statistics.median(sequential_runs)
    parallel = statistics.median(parallel_runs)
    ratio = parallel / sequential
    setting = " ".join(f"{key}={value}" for key, value in env.items()) or "default threads"
    return Row(
        f"parallelism: two {qubits}-qubit jobs ({setting})",
        f"together {parallel:.2f} s vs one after the other {sequential:.2f} s (medians of "
        f"{repeats}): ratio {ratio:.2f}",
        "<= 0.6" if target else "for comparison",
        (ratio <= 0.6) if target else None,
    )


def bench_memory(first: int = 100, total: int = 1000, clients: int = 8) -> list[Row]:
    body = manila_bell_bytes()
    server = Server()
    counter = iter(range(total))
    lock = threading.Lock()
    marks: dict[int, dict[str, float]] = {}

    def client_loop() -> None:
        with RawClient(server.url) as client:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                run_job(client, body, poll=0.01)

    def run(count: int) -> None:
        nonlocal counter
        counter = iter(range(count))
        threads = [threading.Thread(target=client_loop) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    try:
        run(first)
        marks[first] = server.rss_mb()
        run(total - first)
        marks[total] = server.rss_mb()
    finally:
        server.close()
    growth = {key: marks[total][key] - marks[first][key] for key in marks[total]}
    return [
        Row(
            f"memory: RSS after {total} jobs vs after {first}",
            f"server {marks[first]['server']:.0f} -> {marks[total]['server']:.0f} MB "
            f"({growth['server']:+.1f}), engine and workers {marks[first]['workers']:.0f} -> "
            f"{marks[total]['workers']:.0f} MB ({growth['workers']:+.1f})",
            "within 50 MB",
            all(abs(value) <= 50 for value in growth.values()),
        )
    ]


def local_mode_seconds(run: Callable[[int], object], shots: int) -> float:
    """The time local testing mode would take for ``shots``, from runs of 2 and 18 shots (its
    cost is a trajectory per shot; even counts, so that both threads work in both runs)."""
    began = time.perf_counter()
    run(2)
    two = time.perf_counter() - began
    began = time.perf_counter()
    run(18)
    per_shot = max(1e-3, (time.perf_counter() - began - two) / 16)
    return two + per_shot * (shots - 2)


def bench_noisy(repeats: int = 3) -> list[Row]:
    """Noisy 1024-shot sampler jobs on fake_kolkata@aer through the real client, next to
    qiskit-ibm-runtime's local testing mode on the same circuit (extrapolated: in full it would
    take many minutes) and to plain Aer with shot branching and the device noise model, run once
    in this process (issue 6's yardstick; its distributions are wrong with these noise models,
    see docs/simulation.md)."""
    import numpy as np
    from qiskit.circuit.library import efficient_su2
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.fake_provider import FakeKolkataV2
    from qiskit_runtime_server.client import connect

    su2 = efficient_su2(20, reps=2)
    su2 = su2.assign_parameters(
        np.random.default_rng(1234).uniform(-np.pi, np.pi, su2.num_parameters)
    )
    su2.measure_all()
    ghz = QuantumCircuit(20)
    ghz.h(0)
    for qubit in range(19):
        ghz.cx(qubit, qubit + 1)
    ghz.measure_all()
    entangling = random_circuit(16, 12, max_operands=2, seed=3, measure=True)
    families = {
        "efficient_su2(20, reps=2)": (su2, 15.0),
        "GHZ-20 chain": (ghz, None),
        "random 16-qubit, depth 12 (entangling)": (entangling, None),
    }
    fake = FakeKolkataV2()
    manager = generate_preset_pass_manager(1, backend=fake, seed_transpiler=7)
    branching = AerSimulator(
        noise_model=NoiseModel.from_backend(fake), method="statevector", shot_branching_enable=True
    )
    rows = []
    server = Server()
    try:
        backend = connect(server.url).backend("fake_kolkata@aer")
        for name, (circuit, target) in families.items():
            isa = manager.run(circuit)
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                result = SamplerV2(mode=backend).run([isa], shots=1024).result()
                times.append(time.perf_counter() - began)
            plan = result[0].metadata["simulator"]
            local = SamplerV2(mode=fake)
            local_estimate = local_mode_seconds(
                lambda shots, local=local, isa=isa: local.run([isa], shots=shots).result(), 1024
            )
            began = time.perf_counter()
            branching.run(isa, shots=1024, seed_simulator=1).result()
            branched = time.perf_counter() - began
            median = statistics.median(times)
            rows.append(
                Row(
                    f"noisy: {name} on fake_kolkata@aer, 1024 shots",
                    f"server median {median:.1f} s (runs {', '.join(f'{t:.1f}' for t in times)}; "
                    f"{plan['method']}, bond dimension {plan.get('bond_dimension', '-')}) vs "
                    f"local testing mode ~{local_estimate:.0f} s (from 2 and 18 shots): "
                    f"{local_estimate / median:.1f}x; plain Aer with shot branching "
                    f"{branched:.1f} s: {branched / median:.1f}x",
                    (f"<= {target:.0f} s, exact" if target else "exact")
                    + "; not slower than Aer with shot branching"
                    + ("" if target else " nor local mode (+10%: its time is extrapolated)"),
                    median <= branched
                    and ((median <= target) if target else median <= 1.1 * local_estimate),
                )
            )
        rows.append(_noisy_trajectories(backend, manager.run(entangling), exact_median=median))
        rows.extend(
            _noisy_estimator(
                backend, manager.run(su2.remove_final_measurements(inplace=False)), fake
            )
        )
    finally:
        server.close()
    return rows


def _noisy_trajectories(backend: Any, isa: QuantumCircuit, exact_median: float) -> Row:
    """The opt-in K-trajectory approximation on the entangling circuit, next to its exact run."""
    from qiskit_ibm_runtime import SamplerV2

    sampler = SamplerV2(mode=backend, options={"experimental": {"trajectories": 32}})
    began = time.perf_counter()
    result = sampler.run([isa], shots=1024).result()
    seconds = time.perf_counter() - began
    trajectories = result[0].metadata["simulator"]["trajectories"]
    return Row(
        "noisy, approximate: the random 16-qubit circuit with options.experimental.trajectories=32",
        f"{seconds:.1f} s ({trajectories} trajectories x 32 shots) vs exact {exact_median:.1f} s: "
        f"{exact_median / seconds:.0f}x",
        "faster than exact (opt-in, correlated shots)",
        seconds < exact_median,
    )


def _noisy_estimator(backend: Any, isa: QuantumCircuit, fake: Any) -> list[Row]:
    """EstimatorV2 on the 20-qubit circuit: every <Z_i> and <Z_i Z_i+1>, default precision
    (4096 shots per measurement basis, one basis here), next to local testing mode; then the
    opt-in exact values per trajectory (same precision: 4096 trajectories)."""
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_ibm_runtime import EstimatorV2

    labels = ["I" * (19 - i) + "Z" + "I" * i for i in range(20)]
    labels += ["I" * (18 - i) + "ZZ" + "I" * i for i in range(19)]
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in labels]
    began = time.perf_counter()
    # Level 0: local testing mode mitigates nothing (the cost of mitigation: group mitigation).
    unmitigated = {"resilience_level": 0}
    result = EstimatorV2(mode=backend, options=unmitigated).run([(isa, observables)]).result()
    elapsed = time.perf_counter() - began
    local = EstimatorV2(mode=fake)

    def run_local(shots: int) -> None:
        local.options.default_shots = shots
        local.run([(isa, observables)]).result()

    local_estimate = local_mode_seconds(run_local, 4096)
    stds = result[0].data.stds
    measured = Row(
        "noisy: EstimatorV2, 39 Z/ZZ observables of efficient_su2(20) on fake_kolkata@aer",
        f"server {elapsed:.1f} s ({result[0].metadata['simulator']['method']}, 4096 shots, "
        f"stds {stds.min():.4f}-{stds.max():.4f}) vs local testing mode ~{local_estimate:.0f} s "
        f"(from 2 and 18 shots): {local_estimate / elapsed:.1f}x",
        "exact; faster than local mode",
        elapsed < local_estimate,
    )
    options = {"resilience_level": 0, "experimental": {"trajectory_expectations": True}}
    began = time.perf_counter()
    per_trajectory = EstimatorV2(mode=backend, options=options).run([(isa, observables)]).result()
    seconds = time.perf_counter() - began
    trajectory_stds = per_trajectory[0].data.stds
    return [
        measured,
        Row(
            "noisy: the same with options.experimental.trajectory_expectations (no readout error)",
            f"server {seconds:.1f} s ({per_trajectory[0].metadata['simulator']['trajectories']} "
            f"trajectories, stds {trajectory_stds.min():.4f}-{trajectory_stds.max():.4f} vs "
            f"measured {stds.min():.4f}-{stds.max():.4f})",
            "stds below the measured ones (opt-in)",
            bool((trajectory_stds <= stds).all()),
        ),
    ]


def bench_mitigation(repeats: int = 3) -> list[Row]:
    """The cost of the estimator's resilience levels 1 and 2 against level 0 on the same job:
    a GHZ chain on fake_kolkata@aer, transpiled to the device (27 qubits), with every
    Z_i Z_i+1 and X...X, at precision 0.01 (10^4 shots per basis); and the mean bias against
    the ideal value 1 that each level leaves."""
    import numpy as np
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_ibm_runtime import EstimatorV2
    from qiskit_ibm_runtime.fake_provider import FakeKolkataV2
    from qiskit_runtime_server.client import connect

    rows = []
    fake = FakeKolkataV2()
    server = Server()
    try:
        backend = connect(server.url).backend("fake_kolkata@aer")
        for qubits in (4, 8):
            path = simple_path(list(fake.coupling_map.get_edges()), qubits)
            isa = generate_preset_pass_manager(
                optimization_level=1, backend=fake, initial_layout=path, seed_transpiler=5
            ).run(ghz_chain(qubits).remove_final_measurements(inplace=False))
            labels = ["I" * (qubits - 2 - i) + "ZZ" + "I" * i for i in range(qubits - 1)]
            labels.append("X" * qubits)
            observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in labels]
            seconds: dict[int, float] = {}
            bias: dict[int, float] = {}
            for level in (0, 1, 2):
                estimator = EstimatorV2(mode=backend, options={"resilience_level": level})
                times = []
                for _ in range(repeats):
                    began = time.perf_counter()
                    job = estimator.run([(isa, observables)], precision=0.01)
                    result = job.result()
                    times.append(time.perf_counter() - began)
                seconds[level] = statistics.median(times)
                bias[level] = float(np.mean(np.abs(1 - result[0].data.evs)))
            for level in (1, 2):
                rows.append(
                    Row(
                        f"mitigation: EstimatorV2 resilience level {level} vs 0, GHZ-{qubits} "
                        f"on fake_kolkata@aer ({len(labels)} observables, precision 0.01)",
                        f"level {level} {seconds[level]:.1f} s vs level 0 {seconds[0]:.1f} s "
                        f"(medians of {repeats}): {seconds[level] / seconds[0]:.1f}x; mean bias "
                        f"{bias[level]:.4f} vs {bias[0]:.4f}",
                        "reference (IBM's levels cost randomizations and noise factors)",
                        None,
                    )
                )
    finally:
        server.close()
    return rows


def client_side_sampler_body(
    backend_name: str, device: Any, pubs: list[Any], shots: int, randomizations: int = 0
) -> bytes:
    """The ``POST /jobs`` body the client-side Sampler sends (``executor`` program), built with
    the client's own preparation and converter; twirled when ``randomizations`` is set."""
    from qiskit_ibm_runtime.executor_sampler import Sampler
    from qiskit_ibm_runtime.executor_sampler.prepare import prepare
    from qiskit_ibm_runtime.quantum_program.params_converters import (
        QUANTUM_PROGRAM_PARAMS_CONVERTERS,
    )

    sampler = Sampler(mode=device)
    if randomizations:
        sampler.options.twirling.enable_gates = True
        sampler.options.twirling.enable_measure = True
        sampler.options.twirling.num_randomizations = randomizations
    program, options = prepare(pubs, sampler.finalize_options(), shots, backend=device)
    program._semantic_role = "sampler_v2"
    params = QUANTUM_PROGRAM_PARAMS_CONVERTERS["v2.0"].encoder(program, options)
    body = {"program_id": "executor", "backend": backend_name}
    return json.dumps({**body, "params": params.model_dump(mode="json")}).encode()


def bench_quantum_programs(jobs: int = 40, repeats: int = 3) -> list[Row]:
    """The executor program (what the client-side primitives send) next to the sampler
    program, as server time per job: the bodies are built once, then each job is submitted,
    polled and fetched over raw HTTP, alternating between the two kinds."""
    import numpy as np
    from qiskit.circuit.library import efficient_su2
    from qiskit_ibm_runtime.fake_provider import FakeKolkataV2, FakeManilaV2

    sampler_body, isa = manila_bell()
    executor_body = client_side_sampler_body("fake_manila@aer", FakeManilaV2(), [isa], 1024)
    su2 = efficient_su2(20, reps=2)
    su2 = su2.assign_parameters(
        np.random.default_rng(1234).uniform(-np.pi, np.pi, su2.num_parameters)
    )
    su2.measure_all()
    kolkata = FakeKolkataV2()
    su2_isa = generate_preset_pass_manager(1, backend=kolkata, seed_transpiler=7).run(su2)
    untwirled = client_side_sampler_body("fake_kolkata@aer", kolkata, [su2_isa], 1024)
    twirled = client_side_sampler_body("fake_kolkata@aer", kolkata, [su2_isa], 1024, 32)

    def timed(client: RawClient, body: bytes) -> float:
        began = time.perf_counter()
        _, status = run_job(client, body, poll=OVERHEAD_POLL_SECONDS)
        if status != "Completed":
            raise RuntimeError(f"a benchmark job ended {status}")
        return time.perf_counter() - began

    server = Server()
    try:
        with RawClient(server.url) as client:
            raw_sampler = json.dumps(sampler_body).encode()
            for _ in range(10):
                timed(client, raw_sampler), timed(client, executor_body)
            as_sampler, as_executor = [], []
            for _ in range(jobs):
                as_sampler.append(timed(client, raw_sampler))
                as_executor.append(timed(client, executor_body))
            plain, randomized = [], []
            timed(client, untwirled)  # the noise model of these qubits, once
            for _ in range(repeats):
                plain.append(timed(client, untwirled))
                randomized.append(timed(client, twirled))
    finally:
        server.close()
    ratio = median_ms(as_executor) / median_ms(as_sampler)
    twirl_ratio = statistics.median(randomized) / statistics.median(plain)
    return [
        Row(
            "executor program: 2q 1024-shot Bell on fake_manila@aer, client-side Sampler "
            "vs SamplerV2",
            f"{median_ms(as_executor):.1f} ms vs {median_ms(as_sampler):.1f} ms per job "
            f"(medians of {jobs}, alternating): {ratio:.2f}x",
            "<= 1.2x",
            ratio <= 1.2,
        ),
        Row(
            "executor program: efficient_su2(20, reps=2) on fake_kolkata@aer, 1024 shots, "
            "twirled (32 randomizations) vs untwirled",
            f"{statistics.median(randomized):.2f} s vs {statistics.median(plain):.2f} s "
            f"(medians of {repeats}, alternating): {twirl_ratio:.2f}x",
            "<= 3x",
            twirl_ratio <= 3,
        ),
    ]


def bench_middleware(polls: int = 3000) -> list[Row]:
    """The cost per request of the two middlewares every request passes (issue 18): the
    request id of the logs (``RequestContext``) and the HTTP metrics (``HttpMetrics``).

    Two in-process servers (uvicorn on loopback, one worker each), one built as ``serve`` builds
    it and one with those two middlewares taken out, each with one finished job; the job's
    status is polled as the client polls it, alternating between the servers in rounds of 100
    so that the machine's load falls on both alike."""
    from qiskit_runtime_server.app import create_app
    from qiskit_runtime_server.logs import RequestContext
    from qiskit_runtime_server.metrics import HttpMetrics
    from qiskit_runtime_server.settings import Settings
    from qiskit_runtime_server.testing import LiveServer

    body = manila_bell_bytes()
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        for variant in ("with", "without"):
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="qrs-bench-"))
            app = create_app(Settings(data_dir=Path(directory), workers=1))
            if variant == "without":
                removed: set[object] = {HttpMetrics, RequestContext}
                app.user_middleware = [m for m in app.user_middleware if m.cls not in removed]
                app.middleware_stack = None  # Starlette builds it again at the first request
            live = stack.enter_context(LiveServer(app))
            live.wait_ready()
            urls[variant] = live.url
        clients = {v: stack.enter_context(RawClient(url)) for v, url in urls.items()}
        paths = {v: f"/api/v1/jobs/{run_job(c, body, POLL_SECONDS)[0]}?exclude_params=true"
                 for v, c in clients.items()}  # fmt: skip
        seconds: dict[str, list[float]] = {"with": [], "without": []}
        for round_index in range(2 * polls // 100):
            variant = ("with", "without")[round_index % 2]
            client, path = clients[variant], paths[variant]
            for _ in range(100):
                began = time.perf_counter()
                client.request("GET", path)
                seconds[variant].append(time.perf_counter() - began)
    with_ms, without_ms = median_ms(seconds["with"][100:]), median_ms(seconds["without"][100:])
    added = with_ms - without_ms
    return [
        Row(
            "middleware: request id + HTTP metrics, per job poll",
            f"poll {with_ms:.3f} ms with, {without_ms:.3f} ms without (median of "
            f"{polls - 100} each, in-process uvicorn): {added * 1000:+.0f} us "
            f"({added / without_ms:+.1%})",
            "<= 10% of a poll",
            added <= 0.10 * without_ms,
        )
    ]


def bench_device_noise(repeats: int = 3) -> list[Row]:
    """The device noise model a job gets on a 156-qubit device (fake_fez), built from the
    calibrations of its qubits alone, next to the whole device's model (what every first job on
    a device built before), in this process, medians of ``repeats`` fresh caches."""
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_runtime_server.builtin.fake_devices import (
        FakeDeviceDescription,
        fake_device_classes,
    )
    from qiskit_runtime_server_aer.noise import NoiseModelCache

    fez = next(c for c in fake_device_classes() if c.backend_name == "fake_fez")
    description = FakeDeviceDescription(fez)
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure_all()
    isa = generate_preset_pass_manager(1, backend=description.backend(), seed_transpiler=1).run(
        circuit
    )

    def seconds(build: Callable[[NoiseModelCache], object]) -> float:
        samples = []
        for _ in range(repeats):
            began = time.perf_counter()
            build(NoiseModelCache())
            samples.append(time.perf_counter() - began)
        return statistics.median(samples)

    job = seconds(lambda cache: cache.for_circuits(description, [isa]))
    whole = seconds(lambda cache: cache.on_qubits(description, range(description.num_qubits)))
    return [
        Row(
            "device noise: a 3-qubit job's model on fake_fez (156 qubits), fresh cache",
            f"{job * 1000:.0f} ms vs the whole device's {whole:.1f} s: {whole / job:.0f}x",
            "at least 10x faster than the whole model",
            whole >= 10 * job,
        )
    ]


#: How long local testing mode may run one of the wide jobs before it is stopped.
WIDE_LOCAL_LIMIT_SECONDS = 300.0
#: How long the server may take for one of the wide jobs before the client cancels it.
WIDE_SERVER_LIMIT_SECONDS = 300.0
#: The Clifford gates of the ideal simulator's basis that Aer's stabilizer method takes too
#: (iswap and dcx are left out: local testing mode would simulate them as a statevector).
WIDE_CLIFFORD_GATES = [
    "x",
    "y",
    "z",
    "h",
    "s",
    "sdg",
    "sx",
    "sxdg",
    "cx",
    "cy",
    "cz",
    "ecr",
    "swap",
]


def first_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message (the message of
    an IBM-style error body where the exception quotes one)."""
    import re

    quoted = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', str(error))
    if quoted:
        return f"{type(error).__name__}: {quoted.group(1)}"[:300]
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


def simple_path(edges: list[tuple[int, int]], length: int) -> list[int]:
    """A simple path of ``length`` physical qubits in the undirected coupling graph, by DFS."""
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)

    def extend(path: list[int]) -> bool:
        if len(path) == length:
            return True
        for qubit in sorted(neighbours[path[-1]]):
            if qubit not in path:
                path.append(qubit)
                if extend(path):
                    return True
                path.pop()
        return False

    for start in sorted(neighbours):
        path = [start]
        if extend(path):
            return path
    raise ValueError(f"no simple path of {length} qubits in the coupling map")


def ghz_chain(qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(qubits)
    circuit.h(0)
    for qubit in range(qubits - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def brickwork(qubits: int, depth: int, seed: int, measure: bool = True) -> QuantumCircuit:
    """``depth`` layers of random ``u`` rotations on every qubit, then CX on alternating
    neighbouring pairs of the line (even layers (0,1),(2,3)..., odd ones (1,2),(3,4)...)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(qubits)
    for layer in range(depth):
        for qubit in range(qubits):
            theta, phi, lam = rng.uniform(0, 2 * np.pi, 3)
            circuit.u(theta, phi, lam, qubit)
        for qubit in range(layer % 2, qubits - 1, 2):
            circuit.cx(qubit, qubit + 1)
    if measure:
        circuit.measure_all()
    return circuit


def ghz_check(counts: dict[str, int], errors: float) -> tuple[str, bool]:
    """Shots whose bits are all equal (0...0 or 1...1), shots whose majority is 1 (half of
    them), and the mean number of domain walls (neighbouring bits that differ; uniform random
    bits have (n-1)/2, each error event of the device adds one or two), next to the device's
    error probabilities summed over the circuit's gates and readouts."""
    shots = sum(counts.values())
    width = len(next(iter(counts)))
    zeros, ones = counts.get("0" * width, 0), counts.get("1" * width, 0)
    walls = sum(n * sum(a != b for a, b in itertools.pairwise(key)) for key, n in counts.items())
    mean_walls = walls / shots
    majority = sum(n for key, n in counts.items() if 2 * key.count("1") > width) / shots
    plausible = zeros + ones < shots and mean_walls < (width - 1) / 4 and 0.3 < majority < 0.7
    return (
        f"all bits equal in {(zeros + ones) / shots:.1%} of shots (0...0 {zeros}, 1...1 {ones}), "
        f"majority 1 in {majority:.1%}, mean {mean_walls:.1f} domain walls (uniform bits: "
        f"{(width - 1) / 2:.1f}; the device's errors summed over the circuit: {errors:.1f})",
        plausible,
    )


def summed_errors(backend: Any, circuit: QuantumCircuit) -> float:
    """The error probabilities of ``backend``'s target summed over the circuit's instructions."""
    total = 0.0
    for instruction in circuit.data:
        name = instruction.operation.name
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if name in backend.target and qubits in backend.target[name]:
            properties = backend.target[name][qubits]
            total += (properties.error or 0.0) if properties is not None else 0.0
    return total


def brickwork_check(counts: dict[str, int], qubits: int, depth: int, seed: int) -> tuple[str, bool]:
    """The marginal of the first 4 qubits of the line against its exact noiseless value, from
    their light cone (the first 4 + depth + 4 qubits simulated alone)."""
    from qiskit.quantum_info import Statevector

    marginal_qubits = 4
    cone = marginal_qubits + depth + 4
    circuit = brickwork(qubits, depth, seed, measure=False)
    restricted = QuantumCircuit(cone)
    for instruction in circuit.data:
        indices = [circuit.find_bit(q).index for q in instruction.qubits]
        if all(index < cone for index in indices):
            restricted.append(instruction.operation, indices)
    exact = Statevector(restricted).probabilities_dict(qargs=list(range(marginal_qubits)))
    shots = sum(counts.values())
    measured: dict[str, float] = {}
    for key, n in counts.items():
        measured[key[-marginal_qubits:]] = measured.get(key[-marginal_qubits:], 0) + n / shots
    outcomes = set(exact) | set(measured)
    distance = sum(abs(exact.get(o, 0) - measured.get(o, 0)) for o in outcomes) / 2
    uniform = (
        sum(
            abs(exact.get(f"{o:0{marginal_qubits}b}", 0) - 2**-marginal_qubits)
            for o in range(2**marginal_qubits)
        )
        / 2
    )
    return (
        f"first 4 qubits' marginal: TVD {distance:.3f} from the exact noiseless one "
        f"(uniform's: {uniform:.3f})",
        bool(distance < uniform / 2),
    )


def clifford_check(counts: dict[str, int], circuit: QuantumCircuit) -> tuple[str, bool]:
    """Every outcome must satisfy the Z-type stabilizers of the circuit's state (found by
    Gaussian elimination of the X parts of its stabilizer generators)."""
    import numpy as np
    from qiskit.quantum_info import Clifford, Pauli

    state = circuit.remove_final_measurements(inplace=False)
    rows = [Pauli(label) for label in Clifford(state).to_labels(mode="S")]
    pivots: set[int] = set()
    for qubit in range(state.num_qubits):
        pivot = next((i for i, p in enumerate(rows) if i not in pivots and p.x[qubit]), None)
        if pivot is None:
            continue
        pivots.add(pivot)
        for i, p in enumerate(rows):
            if i != pivot and p.x[qubit]:
                rows[i] = p.compose(rows[pivot])
    z_type = [p for i, p in enumerate(rows) if i not in pivots]
    parities = np.array([p.z for p in z_type], dtype=np.uint8)
    signs = np.array([p.phase == 2 for p in z_type], dtype=np.uint8)
    keys = list(counts)
    bits = np.array([[int(c) for c in reversed(key)] for key in keys], dtype=np.uint8)
    wrong = (bits @ parities.T) % 2 != signs
    shots = sum(counts.values())
    bad = sum(counts[key] for key, row in zip(keys, wrong, strict=True) if row.any())
    random_bits = state.num_qubits - len(z_type)
    return (
        f"{shots - bad} of {shots} shots satisfy the state's {len(z_type)} Z parities "
        f"({len(counts)} distinct outcomes of 2^{random_bits})",
        bad == 0,
    )


def _local_mode_job(device: str, circuit: QuantumCircuit, shots: int, pipe: Any) -> None:
    """In a spawned process: the job in qiskit-ibm-runtime's local testing mode; sends
    ("started",), then ("done", seconds, counts) or ("error", seconds, message)."""
    warnings.simplefilter("ignore")
    from qiskit_ibm_runtime import SamplerV2

    if device == "AerSimulator":
        from qiskit_aer import AerSimulator

        mode: Any = AerSimulator()
    else:
        from qiskit_ibm_runtime import fake_provider

        mode = getattr(fake_provider, device)()
    # Aer logs why a simulation failed (e.g. not enough memory) and local mode then raises
    # something else: keep Aer's reason for the report.
    aer_errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            aer_errors.append(record.getMessage())

    logging.getLogger("qiskit_aer").addHandler(Collect(logging.WARNING))
    pipe.send(("started",))
    began = time.perf_counter()
    try:
        result = SamplerV2(mode=mode).run([circuit], shots=shots).result()
        counts = result[0].data.meas.get_counts()
    except Exception as error:
        reasons = [line for e in aer_errors for line in e.splitlines()[1:] if line.strip()]
        reason = f" (Aer: {reasons[-1].strip()})" if reasons else ""
        pipe.send(("error", time.perf_counter() - began, first_line(error) + reason))
        return
    pipe.send(("done", time.perf_counter() - began, counts))


def local_mode_job(
    device: str, circuit: QuantumCircuit, shots: int, limit: float = WIDE_LOCAL_LIMIT_SECONDS
) -> tuple[float | None, str, dict[str, int] | None]:
    """Local testing mode on ``circuit`` in a child process stopped after ``limit`` seconds:
    its time (None where it did not finish), what happened, and its counts."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_local_mode_job, args=(device, circuit, shots, theirs))
    child.start()
    try:
        if not ours.poll(120):
            return None, "did not start in 120 s", None
        ours.recv()
        if not ours.poll(limit):
            return None, f"> {limit:.0f} s (stopped)", None
        message = ours.recv()
    except EOFError:
        return None, f"its process died (exit code {child.exitcode})", None
    finally:
        if child.is_alive():
            child.terminate()
        child.join(30)
    if message[0] == "error":
        return None, f"raised after {message[1]:.1f} s: {message[2]}", None
    return message[1], f"{message[1]:.1f} s", message[2]


def server_job(
    backend: Any, circuit: QuantumCircuit, shots: int, limit: float = WIDE_SERVER_LIMIT_SECONDS
) -> tuple[float | None, str, Any]:
    """One job through the real client, submit to result: its time (None where it was refused,
    failed or cancelled after ``limit`` seconds), what happened, and its result."""
    from qiskit_ibm_runtime import SamplerV2

    began = time.perf_counter()
    try:
        job = SamplerV2(mode=backend).run([circuit], shots=shots)
    except Exception as error:
        return None, f"refused: {first_line(error)}", None
    while not job.in_final_state():
        if time.perf_counter() - began > limit:
            job.cancel()
            return None, f"> {limit:.0f} s (cancelled)", None
        time.sleep(0.05)
    try:
        result = job.result()
    except Exception as error:
        return None, f"failed after {time.perf_counter() - began:.1f} s: {first_line(error)}", None
    return time.perf_counter() - began, "", result


def _wide_rows(
    name: str,
    target: float,
    backend: Any,
    circuit: QuantumCircuit,
    shots: int,
    local_device: str,
    check: Callable[[dict[str, int]], tuple[str, bool]],
) -> list[Row]:
    """A wide job on the server next to the same job in local testing mode."""
    print(f"  {name}: server ...", file=sys.stderr, flush=True)
    seconds, outcome, result = server_job(backend, circuit, shots)
    if result is not None:
        method = result[0].metadata.get("simulator", {}).get("method", "?")
        sanity, plausible = check(result[0].data.meas.get_counts())
        measured = Row(
            f"wide: {name}",
            f"server {seconds:.1f} s ({method}); {sanity}",
            f"<= {target:.0f} s end to end, exact; plausible counts",
            seconds is not None and seconds <= target and plausible,
        )
    else:
        if outcome.startswith(">"):
            outcome += f"; {_extrapolated(backend, circuit, shots)}"
        measured = Row(f"wide: {name}", outcome, f"<= {target:.0f} s end to end, exact", False)
    print(f"  {name}: local testing mode ...", file=sys.stderr, flush=True)
    local_seconds, local_outcome, counts = local_mode_job(local_device, circuit, shots)
    if seconds is not None and local_seconds is not None:
        ratio = local_seconds / seconds
        local_outcome += (
            f" (the server {ratio:.1f}x faster)"
            if ratio >= 1
            else f" (the server {1 / ratio:.1f}x slower)"
        )
    if counts is not None:
        local_outcome += f"; {check(counts)[0]}"
    reference = Row(
        f"wide, reference: the same job in local testing mode, SamplerV2(mode={local_device}())",
        local_outcome,
        "-",
        None,
    )
    return [measured, reference]


def _extrapolated(
    backend: Any,
    circuit: QuantumCircuit,
    shots: int,
    few: int = 4,
    more: int = 24,
) -> str:
    """What a job that ran out of time would take for ``shots``, from jobs of ``few`` and
    ``more`` shots (a noisy run is a trajectory per shot; even counts, so that both cores
    work in both jobs), with the larger job's method."""
    print(f"  extrapolating from {few} and {more} shots ...", file=sys.stderr, flush=True)
    small, small_outcome, _ = server_job(backend, circuit, few)
    large, large_outcome, result = server_job(backend, circuit, more)
    if small is None or large is None:
        return f"{few} shots: {small_outcome or 'ok'}, {more} shots: {large_outcome or 'ok'}"
    per_shot = max(0.0, (large - small) / (more - few))
    method = result[0].metadata.get("simulator", {}).get("method", "?")
    return (
        f"{few} shots {small:.1f} s, {more} shots {large:.1f} s ({method}, "
        f"{per_shot:.2f} s per shot): ~{small + per_shot * (shots - few):.0f} s for {shots}"
    )


def bench_wide(shots: int = 1000, clifford_shots: int = 10_000) -> list[Row]:
    """The full width of the devices through the real client: a noisy GHZ-100 and a noisy
    40-qubit brickwork on fake_kyiv@aer, a 50-qubit random Clifford circuit on
    ideal_simulator@aer, each next to qiskit-ibm-runtime's local testing mode on the same job
    (in a child process, stopped after WIDE_LOCAL_LIMIT_SECONDS)."""
    from qiskit.circuit.random import random_clifford_circuit
    from qiskit_runtime_server.client import connect

    depth, seed = 8, 11
    rows: list[Row] = []
    server = Server()
    try:
        service = connect(server.url)
        kyiv = service.backend("fake_kyiv@aer")
        ghz = generate_preset_pass_manager(
            optimization_level=1, backend=kyiv, seed_transpiler=5
        ).run(ghz_chain(100))
        rows += _wide_rows(
            f"noisy GHZ-100 chain on fake_kyiv@aer, {shots} shots", 30, kyiv, ghz, shots,
            "FakeKyiv", lambda counts: ghz_check(counts, summed_errors(kyiv, ghz)),
        )  # fmt: skip
        path = simple_path(list(kyiv.coupling_map.get_edges()), 40)
        wall = generate_preset_pass_manager(
            optimization_level=1, backend=kyiv, initial_layout=path, seed_transpiler=5
        ).run(brickwork(40, depth, seed))
        rows += _wide_rows(
            f"noisy 40-qubit brickwork, depth {depth}, on a 40-qubit path of fake_kyiv@aer, "
            f"{shots} shots", 60, kyiv, wall, shots, "FakeKyiv",
            lambda counts: brickwork_check(counts, 40, depth, seed),
        )  # fmt: skip
        clifford = random_clifford_circuit(50, 500, gates=WIDE_CLIFFORD_GATES, seed=seed)
        clifford.measure_all()
        rows += _wide_rows(
            f"50-qubit random Clifford circuit (500 gates) on ideal_simulator@aer, "
            f"{clifford_shots} shots", 5, service.backend("ideal_simulator@aer"), clifford,
            clifford_shots, "AerSimulator", lambda counts: clifford_check(counts, clifford),
        )  # fmt: skip
    finally:
        server.close()
    return rows


#: The executor of the Ray benchmark: exact sampling, and a sleep on request (tests/support).
TESTKIT_PLUGIN = "qrs_test_plugins.testkit"
TESTKIT_BACKEND = "ideal_simulator@testkit"


def testkit_server_env(**env: str) -> dict[str, str]:
    """Settings of a server that runs the testkit executor alone (no entry points: no Aer)."""
    return {
        "QRS_LOAD_ENTRY_POINTS": "false",
        "QRS_PLUGINS": json.dumps([TESTKIT_PLUGIN]),
        "QRS_PRESTART_WORKERS": "true",
        **env,
    }


def prepare_ray_environment() -> None:
    """What the bench's Ray nodes and servers need, set before the first node starts: the test
    plugins on PYTHONPATH (Ray's workers inherit the node's environment), no ``uv run`` runtime
    environment (Ray would ship the project to its workers and hang), and a Ray temporary
    directory of its own: ``Cluster`` writes its address to ``<tmp>/ray/ray_current_cluster``
    (and deletes that file when it stops), where a plain ``ray.init()`` run by someone else on
    this machine (a server with no ``QRS_RAY_ADDRESS``) would find it and join it."""
    if "QRS_BENCH_RAY_TMPDIR" not in os.environ:
        os.environ["QRS_BENCH_RAY_TMPDIR"] = tempfile.mkdtemp(prefix="qrs-ray-")
        os.environ["RAY_TMPDIR"] = os.environ["QRS_BENCH_RAY_TMPDIR"]
    support = str(Path(__file__).resolve().parents[1] / "tests" / "support")
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if support not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([support, *filter(None, paths)])
    os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"


class RayServer(Server):
    """A server on a Ray cluster: its start waits for each node's probe."""

    READY_TIMEOUT = 300


def start_ray_cluster(nodes: int, cpus: int) -> Any:
    """A simulated Ray cluster on this machine: ``nodes`` nodes of ``cpus`` logical CPUs each
    (the head included), small object stores, no dashboard."""
    prepare_ray_environment()
    from ray.cluster_utils import Cluster

    node: dict[str, Any] = {"num_cpus": cpus, "object_store_memory": 100 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(**node)
    return cluster


def remove_ray_temporary_directory() -> None:
    """Once every cluster of the bench has stopped: their sessions' logs and sockets."""
    directory = os.environ.pop("QRS_BENCH_RAY_TMPDIR", None)
    if directory is not None:
        os.environ.pop("RAY_TMPDIR", None)
        shutil.rmtree(directory, ignore_errors=True)


def wait_for_workers(server: Server, count: int, timeout: float = 300) -> float:
    """Wait until ``count`` workers (here: Ray actors) are ready; the seconds it took."""
    began = time.monotonic()
    while True:
        answer = httpx.get(f"{server.url}/readyz", timeout=10).json()
        if answer["workers_alive"] >= count:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"{answer}; server log: {server.log.read_text()[-3000:]}")
        time.sleep(0.5)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def ray_server_cpu(server: Server, servers: list[Server]) -> dict[str, float]:
    """CPU seconds used so far by a Ray-dispatcher server's API process, by its scheduler
    process (the Ray driver: the API process's child) and by this bench's Ray cluster."""
    children: list[psutil.Process] = []
    with contextlib.suppress(psutil.Error):
        children = server.process.children(recursive=True)
    return {
        "API process": cpu_seconds([server.process]),
        "scheduler (Ray driver)": cpu_seconds(children),
        "Ray cluster": cpu_seconds(ray_cluster_processes(servers)),
    }


def ray_cluster_processes(servers: list[Server]) -> list[psutil.Process]:
    """This process's children that are not servers' (nor their children): the Ray nodes
    started here (GCS, raylets, their workers and the executor actors)."""
    theirs = set()
    for server in servers:
        theirs.add(server.process.pid)
        with contextlib.suppress(psutil.Error):
            theirs.update(child.pid for child in server.process.children(recursive=True))
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in theirs]


def bell(metadata: dict[str, Any] | None = None) -> QuantumCircuit:
    circuit = QuantumCircuit(2, metadata=metadata)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def client_job_seconds(backend: Any, circuit: QuantumCircuit, shots: int) -> float:
    """One job through the real client: SamplerV2.run, job.status() until final (every
    millisecond: the client's own wait polls every 0.5 s), job.result()."""
    from qiskit_ibm_runtime import SamplerV2

    began = time.perf_counter()
    job = SamplerV2(mode=backend).run([circuit], shots=shots)
    while not job.in_final_state():
        time.sleep(OVERHEAD_POLL_SECONDS)
    counts = job.result()[0].data.meas.get_counts()
    seconds = time.perf_counter() - began
    if sum(counts.values()) != shots or set(counts) - {"00", "11"}:
        raise RuntimeError(f"job {job.job_id()} on {backend.name}: counts {counts}")
    return seconds


def bench_ray(
    jobs: int = 50,
    raw_jobs: int = 100,
    throughput_jobs: int = 300,
    clients: int = 32,
    cluster_nodes: int = 4,
    actors_per_node: int = 4,
    sleep_jobs: int = 400,
    sleep_seconds: float = 0.5,
) -> list[Row]:
    """The Ray dispatcher against the local one on the testkit executor (2-qubit Bell jobs,
    100 shots): first on a one-node Ray cluster with as many CPUs as this machine (so as many
    actors as the local dispatcher has worker processes), then on a simulated
    ``cluster_nodes``-node cluster whose actors sleep ``sleep_seconds`` per job."""
    cores = usable_cpus()
    body = encode_job_body("sampler", TESTKIT_BACKEND, [(bell(), None, 100)])
    raw = json.dumps(body).encode()
    try:
        rows = _ray_against_local(cores, raw, jobs, raw_jobs, throughput_jobs, clients)
        rows += _ray_cluster_throughput(cluster_nodes, actors_per_node, sleep_jobs, sleep_seconds)
    finally:
        remove_ray_temporary_directory()
    return rows


def _ray_against_local(
    cores: int, raw: bytes, jobs: int, raw_jobs: int, throughput_jobs: int, clients: int
) -> list[Row]:
    """A local-dispatcher server and a Ray-dispatcher one on a one-node cluster of ``cores``
    CPUs, both up throughout."""
    cluster = start_ray_cluster(1, cores)
    servers: list[Server] = []
    try:
        local = Server(**testkit_server_env())
        servers.append(local)
        ray = RayServer(**testkit_server_env(QRS_DISPATCHER="ray", QRS_RAY_ADDRESS=cluster.address))
        servers.append(ray)
        wait_for_workers(local, cores)
        wait_for_workers(ray, cores)
        rows = _ray_overhead(local, ray, jobs, raw_jobs, raw)
        rows += _ray_throughput(local, ray, servers, raw, throughput_jobs, clients)
    finally:
        for server in servers:
            server.close()
        cluster.shutdown()
    return rows


def _ray_overhead(local: Server, ray: Server, jobs: int, raw_jobs: int, raw: bytes) -> list[Row]:
    """Sequential jobs, alternating between the two servers (the Ray cluster runs throughout,
    so its idle cost weighs on both): through the real client, then over raw HTTP."""
    from qiskit_runtime_server.client import connect

    circuit = bell()
    backends = {
        name: connect(server.url).backend(TESTKIT_BACKEND)
        for name, server in (("local", local), ("ray", ray))
    }
    for _ in range(10):
        for backend in backends.values():
            client_job_seconds(backend, circuit, 100)
    client: dict[str, list[float]] = {"local": [], "ray": []}
    for _ in range(jobs):
        for name, backend in backends.items():
            client[name].append(client_job_seconds(backend, circuit, 100))

    def timed(connection: RawClient) -> float:
        began = time.perf_counter()
        _, status = run_job(connection, raw, poll=OVERHEAD_POLL_SECONDS)
        if status != "Completed":
            raise RuntimeError(f"a benchmark job ended {status}")
        return time.perf_counter() - began

    http: dict[str, list[float]] = {"local": [], "ray": []}
    with RawClient(local.url) as to_local, RawClient(ray.url) as to_ray:
        connections = {"local": to_local, "ray": to_ray}
        for _ in range(10):
            for connection in connections.values():
                timed(connection)
        for _ in range(raw_jobs):
            for name, connection in connections.items():
                http[name].append(timed(connection))
    more = median_ms(client["ray"]) - median_ms(client["local"])
    more_http = median_ms(http["ray"]) - median_ms(http["local"])
    return [
        Row(
            "ray: overhead per 2q 100-shot job on testkit, real client, Ray vs local dispatcher",
            f"Ray {median_ms(client['ray']):.1f} ms vs local {median_ms(client['local']):.1f} ms "
            f"(medians of {jobs}, alternating): {more:+.1f} ms",
            "<= 3 ms more",
            more <= 3,
        ),
        Row(
            "ray: the same over raw HTTP (1 ms polls), the server's part alone",
            f"Ray {median_ms(http['ray']):.1f} ms vs local {median_ms(http['local']):.1f} ms "
            f"(medians of {raw_jobs}, alternating): {more_http:+.1f} ms",
            "for comparison",
            None,
        ),
    ]


def _ray_throughput(
    local: Server,
    ray: Server,
    servers: list[Server],
    raw: bytes,
    jobs: int,
    clients: int,
    rounds: int = 2,
) -> list[Row]:
    """The throughput benchmark's clients against each server in turn, twice, alternating;
    the better run of each (the machine is shared: the other one met more of others' load)."""
    on_local: list[Throughput] = []
    on_ray: list[Throughput] = []
    for _ in range(rounds):
        on_local.append(measure_throughput(local, raw, jobs, clients))
        on_ray.append(
            measure_throughput(ray, raw, jobs, clients, cpu=lambda: ray_server_cpu(ray, servers))
        )
    best_local = max(on_local, key=lambda run: run.rate)
    best_ray = max(on_ray, key=lambda run: run.rate)
    ratio = best_ray.rate / best_local.rate
    others = (
        f" (other runs: Ray {', '.join(f'{r.rate:.0f}' for r in on_ray if r is not best_ray)}, "
        f"local {', '.join(f'{r.rate:.0f}' for r in on_local if r is not best_local)} jobs/s)"
        if rounds > 1
        else ""
    )
    return [
        Row(
            f"ray: throughput, {jobs} such jobs, {clients} clients, Ray vs local dispatcher",
            f"Ray {best_ray.describe()} | local {best_local.describe()} | ratio {ratio:.2f}x, "
            f"best of {rounds} each{others}",
            ">= 0.8x local, 0 lost, 0 errors",
            ratio >= 0.8 and all(run.clean for run in on_local + on_ray),
        )
    ]


def _ray_cluster_throughput(
    nodes: int, actors: int, jobs: int, sleep_seconds: float, clients: int = 32
) -> list[Row]:
    """``jobs`` sleeping jobs on a simulated cluster of ``nodes`` nodes, ``actors`` testkit
    actors each (the nodes declare ``actors`` logical CPUs: each actor holds one). First
    submitted at once over raw HTTP from a few threads, timed by the server's own timestamps
    (first created to last finished); then through the throughput benchmark's clients."""
    circuit = bell({"testkit": f"sleep:{sleep_seconds}"})
    sleepy = json.dumps(encode_job_body("sampler", TESTKIT_BACKEND, [(circuit, None, 100)]))
    ideal = nodes * actors / sleep_seconds
    cluster = start_ray_cluster(nodes, actors)
    server = None
    try:
        server = RayServer(
            **testkit_server_env(
                QRS_DISPATCHER="ray",
                QRS_RAY_ADDRESS=cluster.address,
                QRS_WORKERS=str(actors),
            ),
        )
        warmed_up = wait_for_workers(server, nodes * actors)
        with RawClient(server.url) as client:  # the code paths of each process, once
            for _ in range(5):
                run_job(client, sleepy.encode(), poll=0.01)
        bulk = _submit_all(server, sleepy.encode(), jobs)
        running = server
        through_clients = measure_throughput(
            server, sleepy.encode(), jobs, clients, warm=0,
            cpu=lambda: ray_server_cpu(running, [running]),
        )  # fmt: skip
    finally:
        if server is not None:
            server.close()
        cluster.shutdown()
    shape = f"{nodes} nodes x {actors} actors, {sleep_seconds} s jobs: ideal {ideal:.0f} jobs/s"
    clients_ratio = through_clients.rate / ideal
    return [
        Row(
            f"ray: simulated cluster, {jobs} jobs submitted at once over raw HTTP ({shape})",
            f"{bulk['rate']:.1f} jobs/s = {bulk['rate'] / ideal:.0%} of ideal (server "
            f"timestamps, {bulk['span']:.1f} s; {bulk['completed']} completed); submitted at "
            f"{bulk['submit_rate']:.0f} jobs/s; job run median {bulk['run_ms']:.0f} ms; CPU "
            f"busy {bulk['busy']:.0%} of this machine's {usable_cpus()} cores ({bulk['cpu']}); "
            f"{nodes * actors} actors ready in {warmed_up:.0f} s",
            ">= 80% of ideal, all completed",
            bulk["rate"] >= 0.8 * ideal and bulk["completed"] == jobs,
        ),
        Row(
            f"ray: simulated cluster, the same {jobs} jobs from {clients} client threads "
            "(submit, poll every 0.1 s, fetch)",
            f"{through_clients.describe()}: {clients_ratio:.0%} of ideal",
            "for comparison: the clients share the cores",
            None,
        ),
    ]


def _submit_all(server: Server, body: bytes, jobs: int, submitters: int = 8) -> dict[str, Any]:
    """Submit ``jobs`` jobs from ``submitters`` threads, wait for all (a count every 0.25 s),
    then read each job's timestamps; rates, spans and where the CPU went."""
    ids: list[str] = []
    counter = iter(range(jobs))
    lock = threading.Lock()

    def submit_loop() -> None:
        with RawClient(server.url) as client:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                ids.append(client.request("POST", "/api/v1/jobs", body)["id"])

    def cpu() -> dict[str, float]:
        return {**ray_server_cpu(server, [server]), "this process": sum(os.times()[:2])}

    cpu_before = cpu()
    machine_before = psutil.cpu_times()
    began = time.perf_counter()
    threads = [threading.Thread(target=submit_loop) for _ in range(submitters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    submitted = time.perf_counter() - began
    with RawClient(server.url) as client:
        while client.request("GET", "/api/v1/jobs?limit=1&pending=true")["count"]:
            time.sleep(0.25)
        machine_after = psutil.cpu_times()
        cpu_after = cpu()
        stamps = [client.request("GET", f"/api/v1/jobs/{i}/metrics")["timestamps"] for i in ids]
        statuses = [
            client.request("GET", f"/api/v1/jobs/{i}?exclude_params=true")["state"]["status"]
            for i in ids
        ]
    created = min(datetime.fromisoformat(t["created"]) for t in stamps)
    finished = max(datetime.fromisoformat(t["finished"]) for t in stamps)
    span = (finished - created).total_seconds()
    runs = [
        (datetime.fromisoformat(t["finished"]) - datetime.fromisoformat(t["running"]))
        for t in stamps
    ]
    idle = machine_after.idle - machine_before.idle
    total = sum(machine_after) - sum(machine_before)
    return {
        "rate": statuses.count("Completed") / span,
        "span": span,
        "completed": statuses.count("Completed"),
        "submit_rate": jobs / submitted,
        "run_ms": median_ms([r.total_seconds() for r in runs]),
        "busy": 1 - idle / total if total else 0.0,
        "cpu": ", ".join(
            f"{part} {cpu_after[part] - cpu_before[part]:.1f} s" for part in cpu_after
        ),
    }


BENCHMARKS: dict[str, Callable[[], list[Row]]] = {
    "overhead": bench_overhead,
    "throughput": bench_throughput,
    "responsiveness": bench_responsiveness,
    "parallelism": bench_parallelism,
    "memory": bench_memory,
    "noisy": bench_noisy,
    "device_noise": bench_device_noise,
    "middleware": bench_middleware,
    "quantum_programs": bench_quantum_programs,
    "mitigation": bench_mitigation,
    "wide": bench_wide,
    "ray": bench_ray,
    # custatevec_bench.py (issue 17), imported only when asked for.
    "custatevec_cancel": lambda: __import__("custatevec_bench").bench_cancel(),
    "custatevec_noise": lambda: __import__("custatevec_bench").bench_noise(),
}


def markdown_table(rows: list[Row]) -> str:
    """The rows as a markdown table, for a results document."""
    lines = ["| benchmark | measured | target | result |", "|---|---|---|---|"]
    for row in rows:
        verdict = "-" if row.ok is None else "PASS" if row.ok else "MISS"
        cells = [row.benchmark, row.measured, row.target, verdict]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], default=[])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    names = parser.parse_args().names or list(BENCHMARKS)
    rows: list[Row] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(BENCHMARKS[name]())
    width = max(len(row.benchmark) for row in rows)
    print(f"\n{'benchmark':<{width}}  {'result':<6}  target / measured")
    for row in rows:
        verdict = "-" if row.ok is None else "PASS" if row.ok else "MISS"
        print(f"{row.benchmark:<{width}}  {verdict:<6}  {row.target}")
        print(f"{'':<{width}}          {row.measured}")
    print("\n" + markdown_table(rows))
    if parser.parse_args().json:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
    return 0 if all(row.ok is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
