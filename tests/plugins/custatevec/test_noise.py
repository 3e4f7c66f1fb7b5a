"""Device noise by quantum trajectories, on the NumPy kernel, against Aer's density matrix.

The reference for each circuit is Aer's density-matrix method with the noise model the aer
executor simulates the device with (NoiseModelCache.for_circuits), sampled 200 000 times: its
distribution is exact up to a TVD of about 0.003. The tolerance on the TVD of our counts is
the 99.9th percentile of the TVD of an exact sampler of as many shots (multinomial draws from
the reference, 2000 of them): a correct simulator fails about one time in a thousand, a
noiseless one fails by far (checked below).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeKolkataV2, FakeManilaV2
from qiskit_runtime_server.catalogue import Catalogue
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.testing import run_job
from qiskit_runtime_server_aer.noise import NoiseModelCache
from qrs_test_plugins.circuits import ghz

SHOTS = 4000
REFERENCE_SHOTS = 200_000
FAKES = {"fake_manila": FakeManilaV2, "fake_kolkata": FakeKolkataV2}


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QRS_CUSTATEVEC_KERNEL", "numpy")
        yield PluginHost.load()


def isa(circuit: QuantumCircuit, device: str) -> QuantumCircuit:
    manager = generate_preset_pass_manager(1, backend=FAKES[device](), seed_transpiler=7)
    return manager.run(circuit)


def reference(host: PluginHost, device: str, circuit: QuantumCircuit) -> dict[str, float]:
    description = Catalogue(host).get(f"{device}@aer").description  # type: ignore[union-attr]
    model = NoiseModelCache().for_circuits(description, [circuit])
    simulator = AerSimulator(method="density_matrix", noise_model=model, seed_simulator=11)
    counts = simulator.run(circuit, shots=REFERENCE_SHOTS).result().get_counts()
    return {key: value / REFERENCE_SHOTS for key, value in counts.items()}


def tvd(counts: dict[str, int], probabilities: dict[str, float]) -> float:
    shots = sum(counts.values())
    keys = set(counts) | set(probabilities)
    return 0.5 * sum(abs(counts.get(k, 0) / shots - probabilities.get(k, 0.0)) for k in keys)


def tolerance(probabilities: dict[str, float], shots: int) -> float:
    """The 99.9th percentile of an exact ``shots``-shot sampler's TVD to ``probabilities``."""
    p = np.array(list(probabilities.values()))
    draws = np.random.default_rng(0).multinomial(shots, p / p.sum(), size=2000) / shots
    return float(np.quantile(0.5 * np.abs(draws - p).sum(axis=1), 0.999))


def noisy_counts(host: PluginHost, device: str, circuit: QuantumCircuit, seed: int) -> Any:
    options = {"simulator": {"seed_simulator": seed}}
    return run_job(host, "sampler", f"{device}@custatevec", [(circuit, None, SHOTS)], options)


def _random(qubits: int, depth: int, seed: int) -> QuantumCircuit:
    circuit = random_circuit(qubits, depth, max_operands=2, seed=seed)
    circuit.measure_all()
    return circuit


CASES = {
    "ghz3 manila": ("fake_manila", lambda: ghz(3, measure=True)),
    "random4 manila": ("fake_manila", lambda: _random(4, 4, 3)),
    "ghz5 kolkata": ("fake_kolkata", lambda: ghz(5, measure=True)),
    "random5 kolkata": ("fake_kolkata", lambda: _random(5, 4, 5)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_counts_agree_with_aers_density_matrix(host: PluginHost, case: str) -> None:
    device, build = CASES[case]
    circuit = isa(build(), device)
    expected = reference(host, device, circuit)
    result = noisy_counts(host, device, circuit, seed=1)
    counts = result[0].data.meas.get_counts()
    limit = tolerance(expected, SHOTS)
    assert tvd(counts, expected) <= limit, (tvd(counts, expected), limit)
    noise = result.metadata["simulator"]["noise"]
    assert noise.startswith(f"device noise of {device} by quantum trajectories")
    simulator = result[0].metadata["simulator"]
    assert simulator["trajectories_per_parameter_set"] == SHOTS
    assert simulator["noise_channels"] > 0
    assert simulator["readout_errors"] == circuit.num_clbits


def test_the_check_sees_a_missing_noise(host: PluginHost) -> None:
    """The noiseless counts of the same GHZ circuit fail the same check: the tolerance is
    tight enough to see the device noise."""
    circuit = isa(ghz(3, measure=True), "fake_manila")
    expected = reference(host, "fake_manila", circuit)
    ideal = run_job(
        host, "sampler", "ideal_simulator@custatevec", [(ghz(3, measure=True), None, SHOTS)]
    )
    counts = ideal[0].data.meas.get_counts()
    assert tvd(counts, expected) > 3 * tolerance(expected, SHOTS)
    assert ideal.metadata["simulator"]["noise"].startswith("none")
    assert set(counts) == {"000", "111"}  # ideal_simulator@custatevec stays noiseless


@pytest.mark.slow  # Aer's density matrix runs mid-circuit measurements shot by shot (~30 s)
def test_mid_circuit_measurement_reset_and_delay_with_noise(host: PluginHost) -> None:
    """A mid-circuit measurement (its readout error on the recorded bit, not on the state), a
    reset, and a delay long enough for thermal relaxation to show, against Aer."""
    circuit = QuantumCircuit(3, 4)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(1, 0)
    circuit.reset(1)
    circuit.x(2)
    circuit.delay(20_000, 2, unit="dt")
    circuit.cx(0, 1)
    circuit.measure([0, 1, 2], [1, 2, 3])
    compiled = transpile(
        circuit, backend=FakeManilaV2(), initial_layout=[0, 1, 2], seed_transpiler=1
    )
    expected = reference(host, "fake_manila", compiled)
    result = run_job(
        host, "sampler", "fake_manila@custatevec", [(compiled, None, SHOTS)],
        {"simulator": {"seed_simulator": 2}},
    )  # fmt: skip
    counts = result[0].data.c.get_counts()
    assert tvd(counts, expected) <= tolerance(expected, SHOTS)
    relaxed = sum(v for k, v in counts.items() if k[0] == "0") / SHOTS
    assert relaxed > 0.05  # the delay's relaxation shows (about 0.15 here), not only readout


def test_seeds_reproduce_noisy_counts(host: PluginHost) -> None:
    circuit = isa(ghz(3, measure=True), "fake_manila")
    first = noisy_counts(host, "fake_manila", circuit, seed=4)[0].data.meas.get_counts()
    again = noisy_counts(host, "fake_manila", circuit, seed=4)[0].data.meas.get_counts()
    assert first == again


def test_sweeps_batch_trajectories_of_every_parameter_set(host: PluginHost) -> None:
    from qiskit.circuit import Parameter

    theta = Parameter("t")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    compiled = isa(circuit, "fake_manila")
    angles = [0.0, np.pi / 2, np.pi]
    result = run_job(host, "sampler", "fake_manila@custatevec", [(compiled, angles, SHOTS)])
    for index, angle in enumerate(angles):
        bound = compiled.assign_parameters([angle])
        expected = reference(host, "fake_manila", bound)
        counts = result[0].data.meas[index].get_counts()
        assert tvd(counts, expected) <= tolerance(expected, SHOTS), index
    assert result[0].metadata["simulator"]["largest_batch"] > SHOTS // 4  # sets side by side


@pytest.mark.parametrize("device", ["fake_manila", "fake_kolkata"])
def test_estimator_values_agree_within_their_stds(host: PluginHost, device: str) -> None:
    """Exact expectation values per trajectory, averaged: within 4 of their reported standard
    errors of Aer's density-matrix values (readout errors are not applied, as in Aer's
    estimator)."""
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.ry(0.4, 2)
    compiled = isa(circuit, device)
    observables = [
        SparsePauliOp(label).apply_layout(compiled.layout) for label in ("ZZI", "XXX", "IIZ")
    ]
    result = run_job(
        host, "estimator", f"{device}@custatevec", [(compiled, observables, None, 0.02)],
        {"seed_estimator": 5},
    )  # fmt: skip
    description = Catalogue(host).get(f"{device}@aer").description  # type: ignore[union-attr]
    model = NoiseModelCache().for_circuits(description, [compiled], by_instruction=False)
    exact_circuit = compiled.copy()
    for index, observable in enumerate(observables):
        exact_circuit.save_expectation_value(observable, range(compiled.num_qubits), f"e{index}")  # type: ignore[attr-defined]
    data = (
        AerSimulator(method="density_matrix", noise_model=model).run(exact_circuit).result().data()
    )
    evs, stds = result[0].data.evs, result[0].data.stds
    for index in range(len(observables)):
        assert 0 < stds[index] <= 0.02 * 1.01
        assert abs(evs[index] - data[f"e{index}"]) <= 4 * stds[index], index
    assert "readout errors are not applied" in result.metadata["simulator"]["noise"]


def test_the_cuStateVec_kernel_gives_the_same_noisy_counts(host: PluginHost) -> None:
    """The trajectories' calls (per-member non-unitary matrices, MATRIX_INDEXED, Pauli
    expectations of one member) through the cuStateVec kernel on the stand-in bindings give
    the NumPy kernel's counts from the same seed, in a sweep on fake_kolkata (Kraus steps)."""
    import standin_custatevec as standin
    from qiskit.circuit import Parameter
    from qiskit.primitives.containers.sampler_pub import SamplerPub
    from qiskit_runtime_server_custatevec.custatevec_kernel import CuStateVecKernel
    from qiskit_runtime_server_custatevec.numpy_kernel import NumpyKernel
    from qiskit_runtime_server_custatevec.primitives import StatevectorPrimitives
    from qiskit_runtime_server_custatevec.settings import Settings

    theta = Parameter("t")
    circuit = QuantumCircuit(3)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure_all()
    compiled = isa(circuit, "fake_kolkata")
    pub = SamplerPub.coerce((compiled, [[0.3], [2.0]], 300))
    description = host.descriptions["fake_kolkata"]
    counts = []
    for kernel in (CuStateVecKernel(bindings=standin, cupy=standin.cupy), NumpyKernel()):
        primitives = StatevectorPrimitives(kernel, Settings())
        result = primitives.sample(pub, np.random.default_rng(9), description)
        counts.append([result.data.meas[i].get_counts() for i in range(2)])
    assert counts[0] == counts[1]
    assert len(counts[0][0]) > 2  # noisy


def test_noise_learner_gets_the_simulated_noise(host: PluginHost) -> None:
    """``qiskit_runtime_device_noise`` answers with the model the trajectories simulate (the
    aer executor's, so the same answer as aer's), as the noise-learner program needs."""
    from qiskit.quantum_info import SuperOp
    from qiskit_runtime_server.device_noise import GateRef, NoiseQuery

    gates = (GateRef("cx", (0, 1)), GateRef("sx", (2,)), GateRef("rz", (2,), (0.3,)))
    answers = {}
    for executor in ("custatevec", "aer"):
        query = NoiseQuery(executor, f"fake_manila@{executor}", host.descriptions["fake_manila"],
                           gates, measured_qubits=(0, 1))  # fmt: skip
        answers[executor] = host.device_noise(query)
    ours, theirs = answers["custatevec"], answers["aer"]
    assert ours.readout_errors == theirs.readout_errors
    assert ours.gate_errors[gates[2]] is None  # rz is virtual: noiseless
    for gate in gates[:2]:
        assert SuperOp(ours.gate_errors[gate]) == SuperOp(theirs.gate_errors[gate])
