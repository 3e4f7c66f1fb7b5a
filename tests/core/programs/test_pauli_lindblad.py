"""The Pauli-Lindblad math against independent references built with qiskit.quantum_info."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from qiskit.quantum_info import Pauli, SuperOp
from qiskit_aer.noise import depolarizing_error, thermal_relaxation_error
from qiskit_runtime_server.programs import pauli_lindblad as pl
from qrs_test_plugins.pauli_references import twirled


def relaxing_cx_error() -> SuperOp:
    """A device-like two-qubit error: depolarizing composed with thermal relaxation."""
    relax = thermal_relaxation_error(100e3, 80e3, 400).expand(
        thermal_relaxation_error(60e3, 90e3, 400)
    )
    return SuperOp(depolarizing_error(0.01, 2).compose(relax).to_quantumchannel())


def test_fidelities_are_the_eigenvalues_of_the_twirled_channel() -> None:
    channel = relaxing_cx_error()
    fidelities = pl.channel_fidelities(channel)
    reference = twirled(channel)
    for label, fidelity in fidelities.items():
        matrix = Pauli(label).to_matrix()
        evolved = (reference.data @ matrix.ravel(order="F")).reshape((4, 4), order="F")
        assert np.allclose(evolved, fidelity * matrix, atol=1e-12)
    assert fidelities["II"] == pytest.approx(1)
    assert fidelities["ZI"] != pytest.approx(fidelities["XI"])  # relaxation is not depolarizing


def test_depolarizing_rates_are_known() -> None:
    p = 0.03
    fidelities = pl.channel_fidelities(depolarizing_error(p, 2).to_quantumchannel())
    generators = pl.weight_one_and_two(2, [(0, 1)])
    paulis = [pl.to_pauli(term, 2) for term in generators]
    rates, misfit = pl.solve_rates(paulis, [fidelities[p.to_label()] for p in paulis])
    # Each of the 15 Paulis anticommutes with 8 of them: 1 - p = exp(-16 r).
    assert np.allclose(rates, -np.log(1 - p) / 16)
    assert misfit < 1e-12


def test_a_chain_of_gate_errors_is_reproduced_on_every_pauli() -> None:
    """Two independent relaxing CX errors on a 4-qubit chain (0-1, 2-3, with 1-2 coupled too):
    the rates of the sparse model reproduce the exact fidelity of all 255 Paulis."""
    error = pl.channel_fidelities(relaxing_cx_error())
    n = 4
    generators = pl.weight_one_and_two(n, [(0, 1), (1, 2), (2, 3)])
    assert len(generators) == 3 * 4 + 9 * 3

    def exact(pauli: Pauli) -> float:
        return pl.restricted_fidelity(error, pauli, (0, 1)) * pl.restricted_fidelity(
            error, pauli, (2, 3)
        )

    paulis = [pl.to_pauli(term, n) for term in generators]
    rates, misfit = pl.solve_rates(paulis, [exact(p) for p in paulis])
    assert misfit < 1e-10
    everything = [Pauli("".join(letters)) for letters in itertools.product("IXYZ", repeat=n)]
    model = np.exp(-2 * pl.anticommutation(everything, paulis) @ rates)
    assert np.allclose(model, [exact(p) for p in everything], rtol=1e-10)
    # The middle pair has no gate: its two-qubit rates vanish.
    middle = [k for k, (_, qubits) in enumerate(generators) if qubits == (1, 2)]
    assert np.allclose(rates[middle], 0, atol=1e-12)


def test_sparse_terms_follow_qiskit_qubit_order() -> None:
    assert pl.to_pauli(("XZ", (0, 3)), 4) == Pauli("ZIIX")
    assert pl.restricted_fidelity({"ZX": 0.5, "XZ": 0.25}, Pauli("ZIIX"), (0, 3)) == 0.5


def test_an_erasing_channel_has_no_rates() -> None:
    with pytest.raises(ValueError, match="has no Pauli-Lindblad rates"):
        pl.solve_rates([Pauli("X")], [0.0])
