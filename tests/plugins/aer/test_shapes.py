"""Estimator PUBs of degenerate shapes on the aer executor (shapes.py), on every path.

Parameter values of shape (k, 0) for a circuit without parameters give k independent estimates:
on the ideal device, k draws of the precision noise around the exact value (their spread must
be ``precision``: copies would have none); on a noisy device, k sets of measurements. Empty
sweeps give empty results and leave the other PUBs of the job as they would be without them.
Exact references are from ``Statevector``; bounds are five standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.testing import run_job
from qrs_test_plugins.circuits import fake_device

K = 200


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.load()


def state() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(0.8, 0)
    circuit.cx(0, 1)
    circuit.rx(0.3, 1)
    return circuit


def test_k_sets_on_the_ideal_device_are_k_draws(host: PluginHost) -> None:
    exact = [Statevector(state()).expectation_value(SparsePauliOp(o)).real for o in ("ZZ", "XI")]
    precision = 0.05
    pub = (state(), [[SparsePauliOp("ZZ")], [SparsePauliOp("XI")]], np.zeros((K, 0)), precision)
    options = {"seed_estimator": 7}
    result = run_job(host, "estimator", "ideal_simulator@aer", [pub], options)
    evs, stds = result[0].data.evs, result[0].data.stds
    assert evs.shape == stds.shape == (2, K)
    assert np.all(stds == precision)
    for row, value in enumerate(exact):
        mean, spread = evs[row].mean(), evs[row].std(ddof=1)
        assert abs(mean - value) <= 5 * precision / math.sqrt(K), (row, mean, value)
        # The sample deviation of K normal draws has relative error 1/sqrt(2(K-1)), 5% here.
        assert abs(spread / precision - 1) <= 5 / math.sqrt(2 * (K - 1)), (row, spread)
    again = run_job(host, "estimator", "ideal_simulator@aer", [pub], options)
    np.testing.assert_array_equal(again[0].data.evs, evs)


def test_k_sets_on_a_noisy_device_are_k_measurements(host: PluginHost) -> None:
    manila = fake_device("fake_manila")
    isa = generate_preset_pass_manager(1, backend=manila.backend(), seed_transpiler=1).run(state())
    observable = SparsePauliOp("ZZ").apply_layout(isa.layout)
    precision = 0.05  # 400 shots per set
    result = run_job(
        host, "estimator", "fake_manila@aer", [(isa, observable, np.zeros((40, 0)), precision)],
        {"seed_estimator": 3},
    )  # fmt: skip
    evs, stds = result[0].data.evs, result[0].data.stds
    assert evs.shape == stds.shape == (40,)
    assert result[0].metadata["shots"] == 400
    # Measured values: each set its own shots, so they spread by about their own stds.
    spread = evs.std(ddof=1)
    typical = float(np.sqrt(np.mean(stds**2)))
    assert 0.5 * typical < spread < 1.6 * typical, (spread, typical)


@pytest.mark.parametrize(
    ("backend", "isa"),
    [("ideal_simulator@aer", False), ("fake_manila@aer", True)],
)
def test_an_empty_sweep_leaves_the_other_pubs_as_they_were(
    host: PluginHost, backend: str, isa: bool
) -> None:
    circuit = state()
    observable = SparsePauliOp("ZZ")
    if isa:
        manila = fake_device("fake_manila").backend()
        circuit = generate_preset_pass_manager(1, backend=manila, seed_transpiler=1).run(circuit)
        observable = observable.apply_layout(circuit.layout)
    full = (circuit, observable, None, 0.05)
    empty = (circuit, [[observable], [observable]], np.zeros((0, 0)), 0.05)
    options = {"seed_estimator": 11}
    alone = run_job(host, "estimator", backend, [full, full], options)
    # Last: on a noisy device each PUB's seed follows its index.
    mixed = run_job(host, "estimator", backend, [full, full, empty], options)
    assert mixed[2].data.evs.shape == mixed[2].data.stds.shape == (2, 0)
    assert mixed[2].metadata["target_precision"] == 0.05
    for ours, theirs in ((mixed[0], alone[0]), (mixed[1], alone[1])):
        np.testing.assert_array_equal(ours.data.evs, theirs.data.evs)
        np.testing.assert_array_equal(ours.data.stds, theirs.data.stds)


def test_an_empty_sweep_with_user_noise_is_empty(host: PluginHost) -> None:
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.02, 2), ["cx"])
    options = {"simulator": {"noise_model": noise}, "seed_estimator": 2}
    pubs = [(state(), SparsePauliOp("ZZ"), np.zeros((3, 0, 0)), 0.1),
            (state(), SparsePauliOp("ZZ"), np.zeros((3, 0)), 0.1)]  # fmt: skip
    result = run_job(host, "estimator", "ideal_simulator@aer", pubs, options)
    assert result[0].data.evs.shape == (3, 0)
    assert result[1].data.evs.shape == (3,)
    exact = Statevector(state()).expectation_value(SparsePauliOp("ZZ")).real
    # Depolarizing noise shrinks <ZZ> towards 0 by a few percent; 100 shots per set.
    assert np.all(np.abs(result[1].data.evs - exact) <= 0.1 + 5 * 0.1)
