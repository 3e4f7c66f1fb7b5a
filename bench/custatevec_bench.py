"""Benchmarks of the custatevec executor that run on a CPU host (issue 17).

* ``custatevec_cancel``: the job sent right after a cancelled one, against a job on a warm
  worker, with the spare worker (``QRS_PRESTART_WORKERS=true``, the default) and without it
  (``false``: the stopped worker is replaced when the next job comes, as before the spare
  existed). The executor runs on one stand-in GPU (tests/support/gpu_standins: the GPU code
  path, pools and device claims, with NumPy under the bindings), so this measures the worker's
  start-up, not a GPU's. On a GPU host, ``qrs-custatevec-selfcheck --server`` measures it there.
* ``custatevec_noise``: trajectory cost per shot on the NumPy kernel against Aer's statevector
  trajectories on the same 12-qubit noisy job, and in the same run the cost per shot with
  ``options.experimental.trajectories`` = K against one trajectory per shot (see
  :func:`bench_noise`).

    uv run python bench/run.py custatevec_cancel custatevec_noise

(kept apart from run.py, which imports it only when one of them is asked for).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_runtime_server.testing import encode_job_body
from run import ghz_chain  # bench/run.py, the entry point that imports this module

GPU_STANDINS = Path(__file__).parents[1] / "tests" / "support"


def _long_job(qubits: int = 14, layers: int = 40, sets: int = 200) -> bytes:
    theta = Parameter("theta")
    circuit = QuantumCircuit(qubits)
    for layer in range(layers):
        for q in range(qubits):
            circuit.rx(theta * (q + 1), q)
        for q in range(layer % 2, qubits - 1, 2):
            circuit.cx(q, q + 1)
    circuit.measure_all()
    values = [[i / sets] for i in range(sets)]
    body = encode_job_body("sampler", "ideal_simulator@custatevec", [(circuit, values, 10)])
    return json.dumps(body).encode()


def _short_job() -> bytes:
    body = encode_job_body("sampler", "ideal_simulator@custatevec", [(ghz_chain(3), None, 100)])
    return json.dumps(body).encode()


def _seconds_to_complete(url: str, body: bytes) -> float:
    """Submit, poll until final (a fresh connection: the server closes idle keep-alives)."""
    from run import RawClient, run_job

    with RawClient(url) as client:
        started = time.perf_counter()
        run_job(client, body, 0.02)
        return time.perf_counter() - started


def _cancel_once_running(url: str, body: bytes) -> None:
    from run import RawClient

    with RawClient(url) as client:
        job_id = client.request("POST", "/api/v1/jobs", body)["id"]
        while True:
            state = client.request("GET", f"/api/v1/jobs/{job_id}?exclude_params=true")
            if state["state"]["status"] == "Running":
                break
            time.sleep(0.05)
        client.request("POST", f"/api/v1/jobs/{job_id}/cancel", b"{}")


def _after_cancel(prestart: bool, repeats: int) -> tuple[float, float]:
    """Median seconds of a short job on a warm worker, and of one sent right after a cancel."""
    from run import Server

    support = os.pathsep.join(
        [str(GPU_STANDINS / "gpu_standins"), str(GPU_STANDINS), os.environ.get("PYTHONPATH", "")]
    )
    server = Server(
        PYTHONPATH=support,
        QRS_STANDIN_GPUS="1",
        QRS_PRESTART_WORKERS="true" if prestart else "false",
    )
    try:
        short, long = _short_job(), _long_job()
        _seconds_to_complete(server.url, short)  # the worker's first job: its device claim
        warm = [_seconds_to_complete(server.url, short) for _ in range(repeats)]
        cold = []
        for _ in range(repeats):
            _cancel_once_running(server.url, long)
            cold.append(_seconds_to_complete(server.url, short))
            time.sleep(15)  # the next spare starts (as a user's next cancel would find it)
        return statistics.median(warm), statistics.median(cold)
    finally:
        server.close()


def bench_cancel(repeats: int = 3) -> list[Any]:
    from run import Row

    rows: list[Any] = []
    for prestart in (True, False):
        warm, cold = _after_cancel(prestart, repeats)
        label = "spare worker" if prestart else "no spare (QRS_PRESTART_WORKERS=false, as before)"
        rows.append(
            Row(
                f"custatevec: job after a cancel, {label}",
                f"{cold:.2f} s after a cancel vs {warm:.2f} s on a warm worker "
                f"({cold / warm:.1f}x), median of {repeats}, stand-in GPU on this CPU",
                "as fast as any other job (GPU host: within 1 s)",
                cold < warm + 1.0 if prestart else None,
            )
        )
    return rows


def bench_noise(
    qubits: int = 12, shots: int = 128, repeats: int = 3, trajectories: int = 16
) -> list[Any]:
    """Cost per shot of the trajectory simulation on the NumPy kernel (in process, one
    trajectory per shot, batched) against Aer's statevector trajectories (its default noisy
    method: one trajectory per shot, shots in parallel on the cores), on the same noisy job:
    efficient_su2(12, reps=2) with random angles, transpiled for fake_kolkata, with the noise
    model both executors build for that device. Second row: the same job with
    ``options.experimental.trajectories`` = ``trajectories`` (K trajectories, each sampled
    shots/K times) against one trajectory per shot, timed alternately in this run."""
    import numpy as np
    from qiskit.circuit.library import efficient_su2
    from qiskit.primitives.containers.sampler_pub import SamplerPub
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeKolkataV2
    from qiskit_runtime_server.catalogue import Catalogue
    from qiskit_runtime_server.plugins import PluginHost
    from qiskit_runtime_server_aer.noise import NoiseModelCache
    from qiskit_runtime_server_custatevec.numpy_kernel import NumpyKernel
    from qiskit_runtime_server_custatevec.primitives import StatevectorPrimitives
    from qiskit_runtime_server_custatevec.settings import Settings
    from run import Row

    circuit = efficient_su2(qubits, reps=2)
    circuit = circuit.assign_parameters(
        np.random.default_rng(1234).uniform(-np.pi, np.pi, circuit.num_parameters)
    )
    circuit.measure_all()
    isa = generate_preset_pass_manager(1, backend=FakeKolkataV2(), seed_transpiler=7).run(circuit)
    description = Catalogue(PluginHost.load()).get("fake_kolkata@custatevec").description  # type: ignore[union-attr]
    primitives = StatevectorPrimitives(NumpyKernel(), Settings(kernel="numpy"))
    pub = SamplerPub.coerce((isa, None, shots))
    model = NoiseModelCache().for_circuits(description, [isa])
    aer = AerSimulator(method="statevector", noise_model=model)

    def ours(k: int | None = None) -> float:
        began = time.perf_counter()
        primitives.sample(pub, np.random.default_rng(1), description, k)
        return time.perf_counter() - began

    def theirs() -> float:
        began = time.perf_counter()
        aer.run(isa, shots=shots, seed_simulator=1).result()
        return time.perf_counter() - began

    ours(), theirs()  # warm-up: noise model compiled, Aer's first run
    ours_s = statistics.median(ours() for _ in range(repeats))
    theirs_s = statistics.median(theirs() for _ in range(repeats))
    exact, with_k = [], []
    for _ in range(repeats):  # alternately, so that both see the same machine
        exact.append(ours())
        with_k.append(ours(trajectories))
    exact_s, k_s = statistics.median(exact), statistics.median(with_k)
    return [
        Row(
            f"custatevec: noisy trajectories, {qubits}-qubit efficient_su2 on fake_kolkata, "
            f"{shots} shots, NumPy kernel vs Aer statevector",
            f"{1000 * ours_s / shots:.1f} ms/shot vs Aer {1000 * theirs_s / shots:.1f} ms/shot "
            f"({ours_s / theirs_s:.1f}x Aer's cost), median of {repeats}, this CPU",
            "reference (the NumPy kernel checks correctness; GPU speed: qrs-custatevec-selfcheck)",
            None,
        ),
        Row(
            f"custatevec: experimental.trajectories={trajectories} vs a trajectory per shot, "
            f"same job, {shots} shots ({shots // trajectories} per trajectory), NumPy kernel",
            f"{1000 * k_s / shots:.2f} ms/shot vs {1000 * exact_s / shots:.1f} ms/shot "
            f"({exact_s / k_s:.1f}x cheaper for {shots // trajectories}x fewer trajectories), "
            f"median of {repeats}, this CPU",
            "reference (correlated shots: docs/simulation.md)",
            None,
        ),
    ]
