"""Opt-in exact expectation values per noisy trajectory: unbiased, honest stds, stated.

A GHZ-8 chain on fake_kolkata, transpiled, with Z_i and Z_i Z_i+1 observables at precision
0.1 (K = 100 trajectories, a trajectory method). The reference is the exact noisy state's
expectation values from one density-matrix run with the full device noise model (no readout
error: the values are not measured). Over 30 seeded runs, every value's mean must match the
reference within 4.5 standard errors of that mean, and the reported stds (root mean square over the runs)
must match the spread of the values across runs (ratio between 0.6 and 1.6) and stay within the precision.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import DensityMatrix, SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_runtime_server import EstimatorTask, SamplerTask, TaskOptions
from qiskit_runtime_server.builtin.fake_devices import FakeDeviceDescription
from qiskit_runtime_server_aer.expectations import requested_trajectory_expectations
from qiskit_runtime_server_aer.primitives import AerPrimitives, validate_options
from qrs_test_plugins.aer_runs import recorded_runs
from qrs_test_plugins.circuits import fake_device, ghz

QUBITS, PRECISION, RUNS = 8, 0.1, 30
OPTIONS = {"experimental": {"trajectory_expectations": True}}


def observables(n: int) -> list[SparsePauliOp]:
    labels = [("Z", [i]) for i in range(n)] + [("ZZ", [i, i + 1]) for i in range(n - 1)]
    return [SparsePauliOp.from_sparse_list([(p, q, 1.0)], n) for p, q in labels]


def task(kolkata: FakeDeviceDescription, pub: EstimatorPub, seed: int, raw: dict) -> EstimatorTask:  # type: ignore[type-arg]
    return EstimatorTask(
        job_id="expectations", executor="aer", backend_name="fake_kolkata@aer", backend=kolkata,
        options=TaskOptions(seed_estimator=seed, raw=raw), pubs=(pub,),
    )  # fmt: skip


def exact_values(
    kolkata: FakeDeviceDescription, isa: QuantumCircuit, laid_out: list[SparsePauliOp]
) -> np.ndarray:
    """One density-matrix run with the full device noise model, saving the state of the
    observables' qubits only (so Aer drops the device's idle ones)."""
    supports = [
        {q for q in range(o.num_qubits) if o.paulis[0].z[q] or o.paulis[0].x[q]} for o in laid_out
    ]
    kept = sorted(set().union(*supports))
    reference = isa.copy()
    reference.save_density_matrix(kept, label="rho")
    noise = AerPrimitives().noise_models.on_qubits(kolkata, range(kolkata.num_qubits))
    data = AerSimulator(method="density_matrix", noise_model=noise).run(reference).result().data()
    state = DensityMatrix(data["rho"])
    return np.array(
        [state.expectation_value(SparsePauliOp(o.paulis[0][kept], o.coeffs)).real for o in laid_out]
    )


@pytest.fixture(scope="module")
def kolkata() -> FakeDeviceDescription:
    return fake_device("fake_kolkata")


@pytest.fixture(scope="module")
def case(kolkata: FakeDeviceDescription) -> tuple[EstimatorPub, np.ndarray]:
    """The ISA PUB and its exact noisy expectation values (density matrix, no readout)."""
    backend = kolkata.backend()
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(
        ghz(QUBITS, measure=False)
    )
    laid_out = [o.apply_layout(isa.layout) for o in observables(QUBITS)]
    pub = EstimatorPub.coerce((isa, laid_out), PRECISION)
    return pub, exact_values(kolkata, isa, laid_out)


def test_option_is_validated() -> None:
    assert requested_trajectory_expectations({}) is False
    assert requested_trajectory_expectations(OPTIONS) is True
    with pytest.raises(ValueError, match="true or false"):
        requested_trajectory_expectations({"experimental": {"trajectory_expectations": "yes"}})


def test_unbiased_with_honest_stds(kolkata: FakeDeviceDescription, case: tuple) -> None:  # type: ignore[type-arg]
    pub, reference = case
    primitives = AerPrimitives()
    evs, stds = [], []
    for run in range(RUNS):
        # Aer seeds trajectory i with seed + i: consecutive seeds would share trajectories.
        result = primitives.run(task(kolkata, pub, run * 100_003, OPTIONS))
        evs.append(result[0].data.evs)
        stds.append(result[0].data.stds)
        metadata = result[0].metadata["simulator"]
        assert metadata["method"] != "density_matrix"
        assert metadata["trajectories"] == 100
        assert "no readout error" in metadata["expectations"]
    assert "no readout error" in result.metadata["simulator"]["primitive"]
    evs_array, stds_array = np.array(evs), np.array(stds)
    # Root mean square: a run's variance estimate is unbiased, its std is not (most of these
    # values move only when a rare error happens, so many runs see none and report std 0).
    reported = np.sqrt((stds_array**2).mean(axis=0))
    mean_error = reported / np.sqrt(RUNS)
    deviation = np.abs(evs_array.mean(axis=0) - reference)
    assert np.all(deviation <= 4.5 * mean_error + 1e-9), (deviation / mean_error).max()
    # The reported standard error is the real one: it matches the spread across runs.
    spread = evs_array.std(axis=0, ddof=1)
    varying = spread > 1e-3
    ratio = reported[varying] / spread[varying]
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    assert np.all(stds_array <= PRECISION + 1e-12)


def test_density_matrix_plan_is_exact(kolkata: FakeDeviceDescription) -> None:
    backend = kolkata.backend()
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(
        ghz(3, measure=False)
    )
    laid_out = [o.apply_layout(isa.layout) for o in observables(3)]
    pub = EstimatorPub.coerce((isa, laid_out), 0.01)  # 10,000 trajectories: the DM is cheaper
    result = AerPrimitives().run(task(kolkata, pub, 1, OPTIONS))
    assert result[0].metadata["simulator"]["method"] == "density_matrix"
    assert np.all(result[0].data.stds == 0)
    expected = exact_values(kolkata, isa, laid_out)
    np.testing.assert_allclose(result[0].data.evs, expected, atol=1e-9)


def test_refused_where_it_does_not_apply(kolkata: FakeDeviceDescription, case: tuple) -> None:  # type: ignore[type-arg]
    pub, _ = case
    measured = pub.circuit.copy()
    measured.measure_all()
    measured.x(0)
    mid = EstimatorPub(measured, pub.observables, pub.parameter_values, PRECISION)
    with pytest.raises(ValueError, match="mid-circuit measurements"):
        validate_options(task(kolkata, mid, 0, OPTIONS))
    sampler = SamplerTask(
        job_id="s", executor="aer", backend_name="fake_kolkata@aer", backend=kolkata,
        options=TaskOptions(raw=OPTIONS), pubs=(),
    )  # fmt: skip
    with pytest.raises(ValueError, match="applies to EstimatorV2"):
        validate_options(sampler)
    readout_only = {
        "experimental": {**OPTIONS["experimental"], "noise_approximation": "readout_only"}
    }
    with pytest.raises(ValueError, match="nothing of the noise would remain"):
        validate_options(task(kolkata, pub, 0, readout_only))


def test_parameter_sets_do_not_share_trajectories(kolkata: FakeDeviceDescription) -> None:
    """Aer seeds trajectory i of an experiment with seed + i and the experiments of one run
    2113 apart, so with 2500 trajectories parameter sets run together would replay each
    other's noise events: each set runs alone, its seeds K apart from the previous set's
    (13 qubits: no density matrix)."""
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    circuit = ghz(13, measure=False)
    circuit.rz(theta, 0)
    backend = kolkata.backend()
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(circuit)
    laid_out = [o.apply_layout(isa.layout) for o in observables(13)[:3]]
    pub = EstimatorPub.coerce((isa, [[o] for o in laid_out], [[0.0, 0.0, 0.0]]), 0.02)
    with recorded_runs(2500) as calls:
        result = AerPrimitives().run(task(kolkata, pub, 7, OPTIONS))
    assert result[0].data.evs.shape == (len(laid_out), 3)
    assert result[0].metadata["simulator"]["method"] != "density_matrix"
    assert calls == [(1, 2500, 7), (1, 2500, 2507), (1, 2500, 5007)]
