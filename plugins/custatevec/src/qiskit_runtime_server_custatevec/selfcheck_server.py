"""Issue 17's GPU table, measured through a server and the unmodified client
(``qrs-custatevec-selfcheck --server``).

A ``qiskit-runtime-server serve`` process is started here on a free loopback port, with the
environment of this process (so ``QRS_CUSTATEVEC_*`` settings apply), and driven by
qiskit-ibm-runtime as a user would. Rows, each with its target from the issue:

* noisy ``efficient_su2(20, reps=2)`` on ``fake_kolkata@custatevec``, 1024 shots (<= 2 s);
* a noisy 28-qubit layered circuit on ``fake_kyiv@custatevec``, 1024 shots (<= 60 s), exact
  (a trajectory per shot) and with ``options.experimental.trajectories`` =
  :data:`LAYERED_TRAJECTORIES` (K trajectories, each sampled 1024/K times: correlated shots,
  docs/simulation.md), the same target;
* the first job after a cancelled one (<= 1 s);
* the device memory the idle server holds, from ``/-/plugins`` (<= about 1 GiB per GPU).

``--quick`` (with ``--kernel numpy``, on a CPU) runs the same steps on small circuits: it checks
the command, not a GPU.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.transpiler import generate_preset_pass_manager

from .selfcheck import layered_circuit

GIB = 2**30
#: ``experimental.trajectories`` of the layered row that asks for it (8 with ``--quick``).
LAYERED_TRAJECTORIES = 64


def _su2(n: int) -> QuantumCircuit:
    circuit = efficient_su2(n, reps=2)
    circuit = circuit.assign_parameters(
        np.random.default_rng(1234).uniform(-np.pi, np.pi, circuit.num_parameters)
    )
    circuit.measure_all()
    return circuit


class _Server:
    def __init__(self, directory: Path, extra_env: dict[str, str]) -> None:
        import httpx
        from qiskit_runtime_server.testing.live_server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "server.log"
        env = {**os.environ, "QRS_DATA_DIR": str(directory), "QRS_LOG_LEVEL": "warning",
               **extra_env}  # fmt: skip
        command = [sys.executable, "-m", "qiskit_runtime_server.cli", "serve", "--port",
                   str(self.port)]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def device_memory(self) -> dict[str, Any] | None:
        import httpx

        summary = httpx.get(f"{self.url}/-/plugins", timeout=30).json()
        entry = next(e for e in summary["executors"] if e["name"] == "custatevec")
        memory: dict[str, Any] | None = entry.get("device_memory")
        return memory

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _timed_job(
    backend: Any, circuit: QuantumCircuit, shots: int, trajectories: int | None = None
) -> tuple[float, Any]:
    from qiskit_ibm_runtime import SamplerV2

    options = {} if trajectories is None else {"experimental": {"trajectories": trajectories}}
    began = time.perf_counter()
    result = SamplerV2(mode=backend, options=options).run([circuit], shots=shots).result()
    return time.perf_counter() - began, result


def server_table(kernel: str, quick: bool, out: Callable[[str], None]) -> bool:
    """Print the table; False if a target is missed (on a GPU; ``quick`` has no targets)."""
    extra_env = {"QRS_CUSTATEVEC_KERNEL": "numpy"} if kernel == "numpy" else {}
    from qiskit_runtime_server.client import client_environment

    rows: list[tuple[str, str, str, bool | None]] = []
    saved = {name: os.environ.get(name) for name in client_environment("http://x")}
    try:
        _measure(quick, extra_env, rows)
    finally:  # connect() sets the client's variables in this process
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    out("| issue 17 | measured | target | result |")
    out("| --- | --- | --- | --- |")
    for name, measured, target, ok in rows:
        verdict = "-" if quick or ok is None else "PASS" if ok else "MISS"
        out(f"| {name} | {measured} | {target} | {verdict} |")
    return quick or all(ok is not False for _, _, _, ok in rows)


def _measure(
    quick: bool,
    extra_env: dict[str, str],
    rows: list[tuple[str, str, str, bool | None]],
) -> None:
    from qiskit_runtime_server.client import connect

    su2_qubits, layered_qubits, shots = (6, 8, 64) if quick else (20, 28, 1024)
    with tempfile.TemporaryDirectory(prefix="qrs-selfcheck-") as directory:
        server = _Server(Path(directory), extra_env)
        try:
            service = connect(server.url)
            kolkata = service.backend("fake_kolkata@custatevec")
            kyiv = service.backend("fake_kyiv@custatevec")
            su2 = generate_preset_pass_manager(1, backend=kolkata, seed_transpiler=7).run(
                _su2(su2_qubits)
            )
            layered = generate_preset_pass_manager(1, backend=kyiv, seed_transpiler=7).run(
                layered_circuit(layered_qubits)
            )
            _timed_job(kolkata, su2, 16)  # warm-up: the worker's device, the noise model
            times = [_timed_job(kolkata, su2, shots)[0] for _ in range(3)]
            seconds, result = _timed_job(kolkata, su2, shots)
            times.append(seconds)
            noise = result.metadata["simulator"]["noise"]
            su2_s = statistics.median(times)
            rows.append((f"noisy efficient_su2({su2_qubits}, reps=2), fake_kolkata, {shots} shots",
                         f"{su2_s:.2f} s (median of 4; {noise[:40]}...)", "<= 2 s",
                         su2_s <= 2))  # fmt: skip
            _timed_job(kyiv, layered, 16)
            layered_s, _ = _timed_job(kyiv, layered, shots)
            rows.append((f"noisy layered {layered_qubits}-qubit depth 10, fake_kyiv, {shots} shots",
                         f"{layered_s:.2f} s", "<= 60 s", layered_s <= 60))  # fmt: skip
            k = 8 if quick else LAYERED_TRAJECTORIES
            k_s, k_result = _timed_job(kyiv, layered, shots, trajectories=k)
            pub = k_result[0].metadata["simulator"]
            rows.append((f"the same with experimental.trajectories={k} (correlated shots)",
                         f"{k_s:.2f} s ({pub['trajectories']} trajectories x "
                         f"{pub['shots_per_trajectory']} shots; {layered_s / k_s:.1f}x faster "
                         "than a trajectory per shot)",
                         "<= 60 s", k_s <= 60 and pub["trajectories"] == k))  # fmt: skip
            # A long job (a wide noisy one), cancelled once running, then a short job at once.
            from qiskit_ibm_runtime import SamplerV2

            warm_s, _ = _timed_job(kolkata, su2, 16)
            long_job = SamplerV2(mode=kyiv).run([layered], shots=100 * shots)
            while long_job.status() != "RUNNING":
                time.sleep(0.05)
            long_job.cancel()
            after_s, _ = _timed_job(kolkata, su2, 16)
            rows.append(("first job after a cancel (16 shots of the su2 job)",
                         f"{after_s:.2f} s (same job on a warm worker: {warm_s:.2f} s)",
                         "<= 1 s", after_s <= 1))  # fmt: skip
            time.sleep(5)  # the spare's replacement starts; nothing runs
            memory = server.device_memory()
            if memory and "devices" in memory:
                for device in memory["devices"]:
                    used = device["used_bytes"] / GIB
                    rows.append((f"idle device memory, device {device['index']} "
                                 f"({device['name']})", f"{used:.2f} GiB used of "
                                 f"{device['total_bytes'] / GIB:.0f} GiB (all processes)",
                                 "<= about 1 GiB", used <= 1.25))  # fmt: skip
            else:
                rows.append(("idle device memory", f"not reported ({memory})", "<= about 1 GiB",
                             None))  # fmt: skip
        finally:
            server.close()
