"""The opt-in trajectory count K: no bias, correlated shots, stated in the metadata.

A GHZ-8 chain on fake_kolkata with 200 shots (a trajectory method, not the density matrix) runs
40 times with K = 10 and different seeds. The mean of every <Z_i> and <Z_i Z_i+1> over the runs
must match a density-matrix reference (full device noise, readout included, 200,000 shots)
within 4.5 standard errors, and the spread across runs measures the design effect (variance
over that of independent shots), which must lie between 1 and shots/K (its two extremes).
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_runtime_server import SamplerTask, TaskOptions
from qiskit_runtime_server.builtin.fake_devices import FakeDeviceDescription
from qiskit_runtime_server_aer.primitives import AerPrimitives
from qiskit_runtime_server_aer.trajectories import split_final_measurements
from qrs_test_plugins.circuits import fake_device, ghz
from qrs_test_plugins.statistics import correlated_agreement, z_and_zz

SHOTS, K, RUNS = 200, 10, 40


def run(primitives: AerPrimitives, kolkata: FakeDeviceDescription, isa: QuantumCircuit, seed: int,
        shots: int = SHOTS, k: int = K, values: object = None) -> object:  # fmt: skip
    task = SamplerTask(
        job_id="trajectories", executor="aer", backend_name="fake_kolkata@aer",
        backend=kolkata,
        options=TaskOptions(seed_simulator=seed, raw={"experimental": {"trajectories": k}}),
        pubs=(SamplerPub.coerce((isa, values, shots)),),
    )  # fmt: skip
    return primitives.run(task)


def test_mid_circuit_measurements_are_refused() -> None:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.cx(0, 1)
    circuit.measure(1, 1)
    with pytest.raises(ValueError, match="only measurements are final"):
        split_final_measurements(circuit)


@pytest.mark.slow
def test_unbiased_with_a_bounded_design_effect() -> None:
    kolkata = fake_device("fake_kolkata")
    backend = kolkata.backend()
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=7).run(
        ghz(8, measure=True)
    )
    primitives = AerPrimitives()
    estimates = []
    for seed in range(RUNS):
        # Aer seeds shot i with seed + i: consecutive seeds would share trajectories.
        result = run(primitives, kolkata, isa, seed * 100_003)
        metadata = result[0].metadata["simulator"]  # type: ignore[index]
        assert metadata["trajectories"] == K
        assert metadata["method"] != "density_matrix"
        estimates.append(z_and_zz(result[0].data.meas.get_counts()))  # type: ignore[index]
    assert "APPROXIMATED: 10 trajectories" in result.metadata["simulator"]["noise"]  # type: ignore[attr-defined]
    model = NoiseModel.from_backend_properties(backend.properties(), dt=backend.dt)
    reference_counts = (
        AerSimulator(method="density_matrix", noise_model=model, seed_simulator=3)
        .run(isa, shots=200_000).result().get_counts()
    )  # fmt: skip
    reference = z_and_zz(reference_counts)
    z_scores, design_effect = correlated_agreement(np.array(estimates), reference, 200_000, SHOTS)
    assert np.all(np.abs(z_scores) <= 4.5), z_scores
    print(f"K={K}, shots={SHOTS}: median design effect {design_effect:.2f} "
          f"(effective shots {SHOTS / design_effect:.0f})")  # fmt: skip
    assert 0.5 < design_effect < SHOTS / K


def test_the_density_matrix_plan_ignores_k_and_says_so() -> None:
    kolkata = fake_device("fake_kolkata")
    isa = generate_preset_pass_manager(1, backend=kolkata.backend(), seed_transpiler=7).run(
        ghz(4, measure=True)
    )
    result = run(AerPrimitives(), kolkata, isa, seed=1, shots=1000)
    metadata = result[0].metadata["simulator"]  # type: ignore[index]
    assert metadata["method"] == "density_matrix"
    assert metadata["trajectories"] is None
    assert "not used" in metadata["trajectories_note"]


def test_sets_of_a_circuit_without_parameters_get_their_own_trajectories() -> None:
    kolkata = fake_device("fake_kolkata")
    isa = generate_preset_pass_manager(1, backend=kolkata.backend(), seed_transpiler=7).run(
        ghz(8, measure=True)
    )
    primitives = AerPrimitives()
    result = run(primitives, kolkata, isa, seed=3, values=[(), (), ()])
    bits = result[0].data.meas  # type: ignore[index]
    assert bits.shape == (3,)
    assert bits.num_shots == SHOTS
    assert result[0].metadata["simulator"]["trajectories"] == K  # type: ignore[index]
    counts = [bits[index].get_counts() for index in range(3)]
    for entry in counts:
        ghz_outcomes = entry.get("0" * 8, 0) + entry.get("1" * 8, 0)
        assert ghz_outcomes / SHOTS > 0.3, entry
    # Each set drew its own K trajectories and shots: with device noise over 8 qubits, two
    # sets of 200 shots with equal counts would be a copy.
    assert counts[0] != counts[1] != counts[2] != counts[0]
    empty = run(primitives, kolkata, isa, seed=3, values=np.zeros((0, 0)))
    assert empty[0].data.meas.shape == (0,)  # type: ignore[index]
    assert empty[0].data.meas.num_shots == SHOTS  # type: ignore[index]


def test_bad_values_are_refused_at_submit() -> None:
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_runtime_server.errors import InvalidRequest
    from qiskit_runtime_server.plugins import PluginHost
    from qiskit_runtime_server.testing import run_job

    host = PluginHost.load()
    circuit = ghz(2, measure=True)
    for options in (
        {"experimental": {"trajectories": 0}},
        {"experimental": {"noise_approximation": "magic"}},
    ):
        with pytest.raises(InvalidRequest, match="'aer' executor refuses this job"):
            run_job(host, "sampler", "ideal_simulator@aer", [(circuit, None, 10)], options)
    estimator_pub = (circuit.remove_final_measurements(inplace=False), SparsePauliOp("ZZ"))
    with pytest.raises(InvalidRequest, match="applies to SamplerV2 jobs"):
        run_job(host, "estimator", "ideal_simulator@aer", [estimator_pub],
                {"experimental": {"trajectories": 4}})  # fmt: skip
