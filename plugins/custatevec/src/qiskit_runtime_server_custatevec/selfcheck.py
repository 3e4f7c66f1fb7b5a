"""Self-check and benchmark for a GPU host: ``qrs-custatevec-selfcheck``.

1. Self-check: the cuStateVec kernel against the NumPy reference kernel (and, up to 14 qubits,
   against ``qiskit.quantum_info.Statevector``) on random circuits in complex128 and complex64,
   a batched parameter sweep, expectation values and sampling with the same random numbers.
   Exits with status 1 on any mismatch.
   Device noise: a noisy circuit on fake_kolkata sampled by trajectories on this kernel, whose
   counts must agree with Aer's density matrix (TVD within an exact sampler's 99.9th percentile).
2. Benchmark: time per sampler job (1024 shots, in-process, no server) for 20 to 32 qubits,
   fusion widths, complex64/128 and a 100-point parameter sweep, side by side with Qiskit Aer on
   the same host (CPU, and GPU when qiskit-aer-gpu is installed), printed as a Markdown table.
3. ``--server``: issue 17's GPU table, through a server started here and the real client:
   noisy ``efficient_su2(20, reps=2)`` on fake_kolkata (1024 shots), a noisy 28-qubit layered
   circuit (1024 shots), the first job after a cancel, and the device memory an idle server
   holds (``/-/plugins``), each with its target.

``--kernel numpy --quick`` runs both parts on CPU with small sizes: it checks the command itself,
not a GPU.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import efficient_su2
from qiskit.circuit.random import random_circuit
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import Statevector

from .executor import make_kernel
from .numpy_kernel import NumpyKernel
from .primitives import StatevectorPrimitives
from .settings import Settings

BASIS = ["rz", "sx", "x", "cx"]


def _primitives(
    kernel: str, precision: str, fusion: int, threshold: int = 0
) -> StatevectorPrimitives:
    settings = Settings(
        kernel=kernel,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        fusion_max_qubits=fusion,
        fusion_threshold=threshold,
    )
    return StatevectorPrimitives(make_kernel(settings), settings)


def _reference(precision: str) -> StatevectorPrimitives:
    dtype = np.complex128 if precision == "double" else np.complex64
    settings = Settings(kernel="numpy", precision=precision, fusion_max_qubits=0)  # type: ignore[arg-type]
    return StatevectorPrimitives(NumpyKernel(dtype), settings)


# -- 1. self-check ---------------------------------------------------------------------------


def self_check(
    kernel: str, sizes: Sequence[int], circuits: int, out: Callable[[str], None]
) -> bool:
    ok = True

    def report(name: str, error: float, tolerance: float) -> None:
        nonlocal ok
        passed = error <= tolerance
        ok = ok and passed
        verdict = "PASS" if passed else "FAIL"
        out(f"{verdict}  {name}: max error {error:.2e} (tolerance {tolerance:.0e})")

    rng = np.random.default_rng(2026)
    for precision, tolerance in (("double", 1e-10), ("single", 5e-5)):
        primitives = _primitives(kernel, precision, fusion=4)
        reference = _reference(precision)
        worst, worst_exact = 0.0, 0.0
        for index in range(circuits):
            n = int(sizes[index % len(sizes)])
            circuit = random_circuit(n, 10, max_operands=3, seed=int(rng.integers(1 << 30)))
            empty = np.zeros((1, 0))
            state = primitives.simulation.statevectors(primitives.program(circuit, empty))[0]
            expected = reference.simulation.statevectors(reference.program(circuit, empty))[0]
            worst = max(worst, float(np.abs(state - expected).max()))
            if n <= 14:
                exact = Statevector(circuit).data
                worst_exact = max(worst_exact, float(np.abs(state - exact).max()))
        report(f"{circuits} random circuits, {precision}, vs NumPy kernel", worst, tolerance)
        report(
            f"{circuits} random circuits, {precision}, vs Statevector (<= 14 q)",
            worst_exact,
            tolerance,
        )

        ansatz = transpile(efficient_su2(min(max(sizes), 16), reps=2), basis_gates=BASIS)
        values = rng.uniform(-np.pi, np.pi, (37, ansatz.num_parameters))
        states = primitives.simulation.statevectors(primitives.program(ansatz, values))
        expected_states = reference.simulation.statevectors(reference.program(ansatz, values))
        report(
            f"37-point sweep, batched, {precision}",
            float(np.abs(states - expected_states).max()),
            tolerance,
        )

        program = primitives.program(ansatz, values[:1])
        terms = [("Z", [0]), ("XX", [0, 1]), ("ZYX", [1, 3, 2]), ("", [])]
        batch = primitives.simulation.evolve(program, 0, 1)
        ours = primitives.kernel.pauli_expectations(batch, 0, terms)
        ref_batch = reference.simulation.evolve(reference.program(ansatz, values[:1]), 0, 1)
        theirs = reference.kernel.pauli_expectations(ref_batch, 0, terms)
        report(
            f"Pauli expectation values, {precision}",
            float(np.abs(ours - theirs).max()),
            tolerance * 10,
        )

        randnums = rng.random(4096)
        qubits = list(range(min(program.num_qubits, 10)))
        a = primitives.kernel.sample(batch, 0, qubits, randnums)
        b = reference.kernel.sample(ref_batch, 0, qubits, randnums)
        # Ties at cumulative-probability boundaries (and single-precision rounding) may move a
        # few samples to the neighbouring outcome.
        report(
            f"samples from the same random numbers, {precision}",
            float(np.mean(a != b)),
            1e-3 if precision == "double" else 1e-2,
        )
    ok = noisy_check(kernel, report) and ok
    return ok


def noisy_check(kernel: str, report: Callable[[str, float, float], None]) -> bool:
    """Trajectories with fake_kolkata's noise on this kernel against Aer's density matrix."""
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeKolkataV2
    from qiskit_runtime_server_aer.noise import NoiseModelCache

    circuit = random_circuit(5, 4, max_operands=2, seed=5)
    circuit.measure_all()
    isa = transpile(circuit, backend=FakeKolkataV2(), seed_transpiler=7, optimization_level=1)
    description = _description("fake_kolkata")
    primitives = _primitives(kernel, "double", fusion=4)
    shots = 4000
    result = primitives.sample(
        SamplerPub.coerce((isa, None, shots)), np.random.default_rng(3), description
    )
    counts = result.data.meas.get_counts()
    model = NoiseModelCache().for_circuits(description, [isa])
    exact = AerSimulator(method="density_matrix", noise_model=model, seed_simulator=11)
    reference = exact.run(isa, shots=200_000).result().get_counts()
    keys = sorted(set(counts) | set(reference))
    p = np.array([reference.get(k, 0) / 200_000 for k in keys])
    ours = np.array([counts.get(k, 0) / shots for k in keys])
    draws = np.random.default_rng(0).multinomial(shots, p / p.sum(), size=2000) / shots
    limit = float(np.quantile(0.5 * np.abs(draws - p).sum(axis=1), 0.999))
    distance = 0.5 * float(np.abs(ours - p).sum())
    report("noisy trajectories (fake_kolkata) vs Aer density matrix, TVD", distance, limit)
    return distance <= limit


def _description(device: str) -> Any:
    """The core's description of a fake device (its calibration data)."""
    from qiskit_runtime_server.plugins import PluginHost

    return PluginHost.load(entry_points=False).descriptions[device]


# -- 2. benchmark ----------------------------------------------------------------------------


def _timed(run: Callable[[], Any], repeats: int) -> float:
    run()  # warm-up: compiles, allocates, loads kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _layered(n: int, depth: int = 10) -> QuantumCircuit:
    """:func:`layered_circuit` in the executor's basis."""
    return transpile(layered_circuit(n, depth), basis_gates=BASIS, optimization_level=0)


def layered_circuit(n: int, depth: int = 10) -> QuantumCircuit:
    """Random single-qubit rotations and a brickwork of CX, ``depth`` layers, measured (the
    self-check's and its server table's layered circuit)."""
    rng = np.random.default_rng(n)
    circuit = QuantumCircuit(n)
    for layer in range(depth):
        for q in range(n):
            circuit.u(*rng.uniform(0, 2 * np.pi, 3), q)
        for q in range(layer % 2, n - 1, 2):
            circuit.cx(q, q + 1)
    circuit.measure_all()
    return circuit


def _aer_runner(
    circuit: QuantumCircuit, device: str, precision: str, shots: int
) -> Callable[[], Any] | None:
    try:
        from qiskit_aer import AerSimulator
    except ImportError:
        return None
    simulator = AerSimulator(method="statevector", device=device, precision=precision)
    try:
        simulator.run(QuantumCircuit(1), shots=1).result()
    except Exception:
        return None
    return lambda: simulator.run(circuit, shots=shots).result()


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _aer_sweep_runner(
    circuit: QuantumCircuit,
    values: NDArray[np.float64],
    precision: str,
    shots: int,
) -> Callable[[], Any] | None:
    try:
        from qiskit_aer.primitives import SamplerV2 as AerSampler
    except ImportError:
        return None
    sampler = AerSampler(options={"backend_options": {"precision": precision}})
    return functools.partial(lambda s: s.run([(circuit, values, shots)]).result(), sampler)


def benchmark(
    kernel: str,
    sizes: Sequence[int],
    sweep_qubits: int,
    repeats: int,
    aer_max: int,
    out: Callable[[str], None],
) -> None:
    shots = 1024
    out(_row("job", "qubits", "precision", "fusion", "custatevec executor (s)", "Aer CPU (s)",
             "Aer GPU (s)"))  # fmt: skip
    out(_row(*["---"] * 7))
    for n in sizes:
        circuit = _layered(n)
        pub = SamplerPub.coerce((circuit, None, shots))
        for precision in ("double", "single"):
            for fusion in (0, 3, 4, 5):
                primitives = _primitives(kernel, precision, fusion)
                if primitives.kernel.capacity(n) < 1:
                    out(_row("layered depth 10", n, precision, fusion, "does not fit", "", ""))
                    continue
                ours = _timed(functools.partial(primitives.sample, pub, np.random.default_rng(1)),
                              repeats)  # fmt: skip
                aer = {"CPU": "", "GPU": ""}
                if fusion == 5:  # Aer fuses by itself (up to 5 qubits)
                    for device in aer:
                        runner = None
                        if n <= aer_max or device == "GPU":
                            runner = _aer_runner(circuit, device, precision, shots)
                        aer[device] = f"{_timed(runner, repeats):.3f}" if runner else "n/a"
                out(_row("layered depth 10", n, precision, fusion, f"{ours:.3f}", aer["CPU"],
                         aer["GPU"]))  # fmt: skip
    ansatz = transpile(efficient_su2(sweep_qubits, reps=2), basis_gates=BASIS)
    ansatz.measure_all()
    values = np.random.default_rng(0).uniform(-np.pi, np.pi, (100, ansatz.num_parameters))
    pub = SamplerPub.coerce((ansatz, values, shots))
    for precision in ("double", "single"):
        primitives = _primitives(kernel, precision, 5)
        ours = _timed(functools.partial(primitives.sample, pub, np.random.default_rng(1)), repeats)
        runner = _aer_sweep_runner(ansatz, values, precision, shots)
        aer_time = f"{_timed(runner, repeats):.3f}" if runner and sweep_qubits <= aer_max else "n/a"
        out(_row("EfficientSU2 reps 2, 100-point sweep", sweep_qubits, precision, 5,
                 f"{ours:.3f}", aer_time, ""))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qrs-custatevec-selfcheck", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--kernel", choices=["custatevec", "numpy"], default="custatevec")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (checks the command on CPU)"
    )
    parser.add_argument("--qubits", help="benchmark sizes, comma-separated (default 20,22,...,32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--aer-max-qubits", type=int, default=28, help="largest size run on Aer CPU"
    )
    parser.add_argument("--no-benchmark", action="store_true")
    parser.add_argument(
        "--server",
        action="store_true",
        help="also issue 17's table through a server and the real client (noisy jobs, the job "
        "after a cancel, idle device memory)",
    )
    args = parser.parse_args(argv)
    check_sizes = [4, 6, 8] if args.quick else [4, 8, 12, 14, 16, 18, 20]
    circuits = 6 if args.quick else 50
    bench_sizes = [8, 10] if args.quick else list(range(20, 33, 2))
    if args.qubits:
        bench_sizes = [int(x) for x in args.qubits.split(",")]

    ok = self_check(args.kernel, check_sizes, circuits, print)
    if not ok:
        return 1
    if not args.no_benchmark:
        benchmark(
            args.kernel,
            bench_sizes,
            8 if args.quick else 20,
            args.repeats,
            args.aer_max_qubits,
            print,
        )
    if args.server:
        from .selfcheck_server import server_table

        if not server_table(args.kernel, args.quick, print):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
