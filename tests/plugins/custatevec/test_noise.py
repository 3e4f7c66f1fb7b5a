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
from numpy.typing import NDArray
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
from qiskit_runtime_server_custatevec.numpy_kernel import NumpyKernel
from qiskit_runtime_server_custatevec.primitives import StatevectorPrimitives
from qiskit_runtime_server_custatevec.settings import Settings
from qrs_test_plugins.circuits import ghz
from qrs_test_plugins.statistics import correlated_agreement, z_and_zz

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
    # With K trajectories the shots of one share its mid-circuit outcome, still exact marginals.
    design_effect = assert_unbiased_with_k(host, "fake_manila", compiled, expected, register="c")
    print(f"mid-circuit: K={K}, shots={K_SHOTS}: median design effect {design_effect:.2f}")


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
    # Seeded: each TVD is held to its 99.9th percentile, so unseeded the three comparisons
    # failed about 3 runs in 1000 by chance alone.
    result = run_job(
        host,
        "sampler",
        "fake_manila@custatevec",
        [(compiled, angles, SHOTS)],
        {"simulator": {"seed_simulator": 6}},
    )
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

    theta = Parameter("t")
    circuit = QuantumCircuit(3)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure_all()
    compiled = isa(circuit, "fake_kolkata")
    pub = SamplerPub.coerce((compiled, [[0.3], [2.0]], 300))
    description = host.descriptions["fake_kolkata"]
    for trajectories in (None, 7):  # one per shot; experimental.trajectories = 7
        counts = []
        for kernel in (CuStateVecKernel(bindings=standin, cupy=standin.cupy), NumpyKernel()):
            primitives = StatevectorPrimitives(kernel, Settings())
            result = primitives.sample(pub, np.random.default_rng(9), description, trajectories)
            counts.append([result.data.meas[i].get_counts() for i in range(2)])
        assert counts[0] == counts[1], trajectories
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


# -- options.experimental.trajectories = K (the aer executor's option) ------------------------
#
# K trajectories per parameter set, each sampled shots/K times: counts are unbiased but shots
# of one trajectory are correlated, so a TVD bound for independent shots does not hold. As
# tests/plugins/aer/test_trajectories.py does: RUNS independent runs (parameter sets of a
# circuit without parameters, each with its own K trajectories) of K_SHOTS shots; the mean of
# every <Z_i> and <Z_i Z_i+1> over the runs must match the density-matrix reference within
# 4.5 standard errors (from the runs' own spread, so the correlation is accounted for), and the
# design effect (a run's variance over that of independent shots) must lie between about 1
# and shots/K, its two extremes.

K, K_SHOTS, RUNS = 10, 200, 40


def with_k(k: int, seed: int = 1) -> dict[str, Any]:
    return {"simulator": {"seed_simulator": seed}, "experimental": {"trajectories": k}}


def assert_unbiased_with_k(
    host: PluginHost,
    device: str,
    circuit: QuantumCircuit,
    expected: dict[str, float],
    register: str = "meas",
) -> float:
    """Runs ``circuit`` with K trajectories in RUNS independent sets and checks them against
    the reference probabilities ``expected``; the median design effect."""
    estimates = k_runs(host, device, circuit, register)
    reference = z_and_zz(expected)
    z_scores, design_effect = correlated_agreement(estimates, reference, REFERENCE_SHOTS, K_SHOTS)
    assert np.all(np.abs(z_scores) <= 4.5), z_scores
    assert 0.5 < design_effect < K_SHOTS / K, design_effect
    return design_effect


def k_runs(
    host: PluginHost, device: str, circuit: QuantumCircuit, register: str = "meas"
) -> NDArray[np.float64]:
    """<Z_i> and <Z_i Z_i+1> of RUNS independent runs of K_SHOTS shots with K trajectories
    each: one job, the runs its parameter sets (each draws its own trajectories)."""
    result = run_job(
        host, "sampler", f"{device}@custatevec", [(circuit, np.zeros((RUNS, 0)), K_SHOTS)],
        with_k(K, seed=3),
    )  # fmt: skip
    simulator = result[0].metadata["simulator"]
    assert simulator["trajectories"] == simulator["trajectories_per_parameter_set"] == K
    bits = getattr(result[0].data, register)
    assert bits.shape == (RUNS,)
    return np.array([z_and_zz(bits[run].get_counts()) for run in range(RUNS)])


@pytest.mark.parametrize("case", ["ghz5 kolkata", "random4 manila"])
def test_k_trajectories_are_unbiased_with_a_bounded_design_effect(
    host: PluginHost, case: str
) -> None:
    device, build = CASES[case]
    circuit = isa(build(), device)
    expected = reference(host, device, circuit)
    design_effect = assert_unbiased_with_k(host, device, circuit, expected)
    print(f"{case}: K={K}, shots={K_SHOTS}: median design effect {design_effect:.2f}")


def test_the_k_check_sees_a_missing_noise(host: PluginHost) -> None:
    """The same runs fail the same check against the noiseless GHZ-5 values (<Z_i> = 0,
    <Z_i Z_i+1> = 1; about 0.96 with fake_kolkata's noise): the check can see the noise."""
    device, build = CASES["ghz5 kolkata"]
    circuit = isa(build(), device)
    estimates = k_runs(host, device, circuit)
    ideal = np.concatenate([np.zeros(5), np.ones(4)])
    z_scores, _ = correlated_agreement(estimates, ideal, REFERENCE_SHOTS, K_SHOTS)
    assert np.max(np.abs(z_scores)) > 4.5, z_scores


class CountingKernel(NumpyKernel):
    """The NumPy kernel, counting the trajectories it holds and the member-gate passes (a
    matrix applied to one statevector): the cost that scales with trajectories."""

    def __init__(self) -> None:
        super().__init__()
        self.statevectors = 0
        self.passes = 0
        self.samples = 0

    def zeros(self, num_qubits: int, size: int) -> Any:
        self.statevectors += size
        return super().zeros(num_qubits, size)

    def apply_matrix(self, states: Any, targets: Any, matrices: Any) -> None:
        self.passes += states.size
        super().apply_matrix(states, targets, matrices)

    def sample(self, states: Any, member: int, qubits: Any, randnums: Any) -> Any:
        self.samples += 1
        return super().sample(states, member, qubits, randnums)


def test_k_trajectories_cost_k_not_shots(host: PluginHost) -> None:
    """1000 shots of a noisy GHZ-5: 1000 trajectories, or 20 with K = 20, each sampled 50
    times; the gate passes drop with them (each trajectory costs about as much)."""
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    device, build = CASES["ghz5 kolkata"]
    pub = SamplerPub.coerce((isa(build(), device), None, 1000))
    costs = {}
    for k in (None, 20):
        kernel = CountingKernel()
        result = StatevectorPrimitives(kernel, Settings()).sample(
            pub, np.random.default_rng(5), host.descriptions[device], k
        )
        assert result.data.meas.num_shots == 1000
        costs[k] = (kernel.statevectors, kernel.passes, kernel.samples)
    assert (costs[None][0], costs[20][0]) == (1000, 20)
    assert (costs[None][2], costs[20][2]) == (1000, 20)  # one sampler call per trajectory
    print(f"member-gate passes: {costs[None][1]} one per shot, {costs[20][1]} with K = 20")
    assert costs[None][1] / costs[20][1] > 1000 / 20 * 0.8


def test_k_metadata_and_noise_statement(host: PluginHost) -> None:
    device, build = CASES["ghz3 manila"]
    circuit = isa(build(), device)
    result = run_job(host, "sampler", f"{device}@custatevec",
                     [(circuit, None, 1001), (circuit, None, 5), (circuit, np.zeros((0, 0)), 9)],
                     with_k(20))  # fmt: skip
    noise = result.metadata["simulator"]["noise"]
    assert noise.startswith(f"device noise of {device} by quantum trajectories (20 per parameter")
    assert noise.endswith("APPROXIMATED: 20 trajectories (correlated shots)")
    assert result[0].data.meas.num_shots == 1001
    expected = [(20, 51), (5, 1), (0, 0)]  # 1001 = 51 + 19 x 50; K > shots: one per shot
    for pub_result, (trajectories, per_trajectory) in zip(result, expected, strict=True):
        simulator = pub_result.metadata["simulator"]
        assert simulator["trajectories"] == trajectories
        assert simulator["shots_per_trajectory"] == per_trajectory
        assert "correlated" in simulator["trajectories_bias"]
    assert result[2].data.meas.shape == (0,)


def test_k_changes_nothing_on_the_ideal_simulator(host: PluginHost) -> None:
    """On ideal_simulator@custatevec K changes nothing (as on ideal_simulator@aer: the same
    counts, nothing said)."""
    circuit = ghz(3, measure=True)
    plain = run_job(host, "sampler", "ideal_simulator@custatevec", [(circuit, None, 300)],
                    {"simulator": {"seed_simulator": 1}})  # fmt: skip
    asked = run_job(host, "sampler", "ideal_simulator@custatevec", [(circuit, None, 300)],
                    with_k(4))  # fmt: skip
    assert np.array_equal(plain[0].data.meas.array, asked[0].data.meas.array)  # shot by shot
    assert asked.metadata["simulator"]["noise"] == plain.metadata["simulator"]["noise"]
    assert "trajectories" not in asked[0].metadata["simulator"]


def test_k_seeds_reproduce(host: PluginHost) -> None:
    circuit = isa(ghz(3, measure=True), "fake_manila")
    runs = [
        run_job(host, "sampler", "fake_manila@custatevec", [(circuit, None, 500)], with_k(8, s))
        for s in (4, 4, 5)
    ]
    counts = [run[0].data.meas.get_counts() for run in runs]
    assert counts[0] == counts[1]
    assert counts[0] != counts[2]


def test_k_trajectories_share_mid_circuit_outcomes_not_readout_errors(host: PluginHost) -> None:
    """With K = 1 every shot follows the one trajectory: its mid-circuit outcome is shared, and
    only the independent readout errors (a few percent on fake_manila) make shots differ."""
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.h(0)
    circuit.measure(0, 1)
    compiled = transpile(circuit, backend=FakeManilaV2(), initial_layout=[0, 1], seed_transpiler=1)
    result = run_job(host, "sampler", "fake_manila@custatevec", [(compiled, None, 2000)],
                     with_k(1))  # fmt: skip
    bits = result[0].data.c.array  # (shots, 1) bytes, clbit 0 the lowest bit
    mid = (bits[:, 0] & 1).astype(bool)
    minority = min(mid.mean(), 1 - mid.mean())
    assert 0 < minority < 0.1, minority  # shared outcome, flipped by readout alone
    final = ((bits[:, 0] >> 1) & 1).astype(bool)
    assert 0.35 < final.mean() < 0.65  # the final measurement is sampled per shot


def test_k_is_validated_at_submit_as_on_aer(host: PluginHost) -> None:
    """Not a positive integer, or sent with an estimator job: a 400 at submit, as the aer
    executor gives; the executor honours the option, so it is not listed as ignored."""
    from qiskit_runtime_server.catalogue import Catalogue
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.jobs.submission import prepare_task
    from qiskit_runtime_server.testing import encode_job_body

    circuit = isa(ghz(2, measure=True), "fake_manila")
    for backend in ("ideal_simulator@custatevec", "fake_manila@custatevec"):
        for bad in (0, -3, 2.5, "8", True):
            with pytest.raises(InvalidRequest, match="positive integer"):
                run_job(host, "sampler", backend, [(circuit, None, 10)],
                        {"experimental": {"trajectories": bad}})  # fmt: skip
        estimator_pub = (
            circuit.remove_final_measurements(inplace=False),
            SparsePauliOp("ZZ").apply_layout(circuit.layout),
        )
        with pytest.raises(InvalidRequest, match="applies to SamplerV2 jobs; the estimator's"):
            run_job(host, "estimator", backend, [estimator_pub], with_k(4))
    body = encode_job_body("sampler", "fake_manila@custatevec", [(circuit, None, 10)], with_k(4))
    prepared = prepare_task("sampler", "fake_manila@custatevec", body["params"], job_id="k",
                            catalogue=Catalogue(host), default_shots=100)  # fmt: skip
    assert "experimental.trajectories" not in prepared.ignored_options
