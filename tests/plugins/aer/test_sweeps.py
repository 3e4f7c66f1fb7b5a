"""Parameter sets and measurement circuits get independent shots (sweeps.py).

Run in one Aer run, set j+1 would reuse set j's random numbers from its 2113th shot on: two
identical sets of 4096 shots would agree on every shot at that offset. Here they agree no more
than chance, with or without device noise, seeded or not; seeds still reproduce counts; and
each set's counts follow its exact probabilities.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.fake_provider import FakeKolkataV2
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.testing import run_job
from qiskit_runtime_server_aer import mps_batch
from qrs_test_plugins.aer_runs import recorded_runs

SHOTS = 4096
OFFSET = 2113


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.load()


def uniform(qubits: int, parameterised: bool = True) -> QuantumCircuit:
    """2^qubits equally likely outcomes, whatever theta (a parameter only to make a sweep)."""
    circuit = QuantumCircuit(qubits)
    circuit.h(range(qubits))
    if parameterised:
        circuit.rz(Parameter("theta"), 0)
    circuit.measure_all()
    return circuit


def best_agreement(first: list[str], second: list[str]) -> float:
    """The largest fraction of equal shots over shifts of ``second`` against ``first``."""
    return max(
        np.mean([a == b for a, b in zip(first[shift:], second, strict=False)])
        for shift in range(SHOTS - 500)
    )


@pytest.mark.parametrize("backend", ["ideal_simulator@aer", "fake_kolkata@aer"])
@pytest.mark.parametrize(
    ("seed", "parameterised"), [(5, True), (None, True), (5, False)], ids=["5", "None", "5-bare"]
)
def test_identical_sets_do_not_share_shots(
    host: PluginHost, backend: str, seed: int | None, parameterised: bool
) -> None:
    """On fake_kolkata, 13 active qubits and 4096 shots: a noisy trajectory per shot (MPS), the
    case where Aer's seeds overlap. The same for two sets of a circuit without parameters
    (parameter values ``[(), ()]``, of shape (2, 0)), which Aer would run only once."""
    circuit = uniform(4, parameterised)
    if backend.startswith("fake"):
        manager = generate_preset_pass_manager(1, FakeKolkataV2(), seed_transpiler=1)
        circuit = manager.run(uniform(13, parameterised))
    options = {} if seed is None else {"simulator": {"seed_simulator": seed}}
    values = [[0.3], [0.3]] if parameterised else [(), ()]
    result = run_job(host, "sampler", backend, [(circuit, values, SHOTS)], options)
    assert result[0].data.meas.shape == (2,)
    if backend.startswith("fake"):
        assert result[0].metadata["simulator"]["method"] != "density_matrix"
    bits = result[0].data.meas.get_bitstrings()
    first, second = bits[:SHOTS], bits[SHOTS:]
    # Two independent uniform sequences agree by chance (1/16 or less) at any shift.
    assert np.mean([a == b for a, b in zip(first[OFFSET:], second, strict=False)]) < 0.2
    assert best_agreement(first, second) < 0.2


def test_sweep_shape_seeds_and_distributions(host: PluginHost) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    circuit.measure_all()
    angles = np.linspace(0.2, 3.0, 6).reshape(2, 3, 1)
    options = {"simulator": {"seed_simulator": 11}}
    result = run_job(host, "sampler", "ideal_simulator@aer", [(circuit, angles, 3000)], options)
    again = run_job(host, "sampler", "ideal_simulator@aer", [(circuit, angles, 3000)], options)
    meas = result[0].data.meas
    assert meas.shape == (2, 3)
    assert meas.num_shots == 3000
    assert np.array_equal(meas.array, again[0].data.meas.array)
    for index in np.ndindex(2, 3):
        p_one = np.sin(angles[index][0] / 2) ** 2
        ones = meas[index].get_counts().get("1", 0)
        assert abs(ones - 3000 * p_one) <= 5 * np.sqrt(3000 * p_one * (1 - p_one)), index


def test_estimator_circuits_run_alone_where_shots_are_trajectories(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The estimator hands Aer the Pauli-basis circuits of every parameter set in one run: on
    a trajectory plan with more shots than the stride, each runs alone, seeds shots apart.
    (Aer's own trajectories: batched MPS trajectories, which would take this plan, are
    turned off; their experiments draw from independent streams by construction.)"""
    from qiskit.quantum_info import SparsePauliOp

    def off(*_args: object) -> None:
        raise mps_batch.Unsupported("turned off by the test")

    monkeypatch.setattr(mps_batch, "supports", lambda _circuit: False)
    monkeypatch.setattr(mps_batch, "compile_pub", off)

    manager = generate_preset_pass_manager(1, FakeKolkataV2(), seed_transpiler=1)
    circuit = manager.run(uniform(13).remove_final_measurements(inplace=False))
    observable = SparsePauliOp("Z" + "I" * 12).apply_layout(circuit.layout)
    options = {"default_precision": 1 / 64, "seed_estimator": 3}
    with recorded_runs(4096) as calls:
        result = run_job(
            host, "estimator", "fake_kolkata@aer", [(circuit, observable, [[0.3], [0.3]])],
            options,
        )  # fmt: skip
    assert result[0].metadata["simulator"]["method"] != "density_matrix"
    assert calls == [(1, 4096, 3), (1, 4096, 3 + 4096)]
    assert result[0].data.evs.shape == (2,)
