"""Independent references for Pauli-twirled channels, built with qiskit.quantum_info only."""

from __future__ import annotations

import itertools

import numpy as np
from qiskit.quantum_info import Pauli, SuperOp


def twirled(channel: SuperOp) -> SuperOp:
    """The Pauli twirl of ``channel``, by averaging P E(P . P) P over every Pauli P."""
    n = channel.num_qubits
    assert n is not None
    total = np.zeros_like(channel.data)
    for letters in itertools.product("IXYZ", repeat=n):
        p = SuperOp(Pauli("".join(letters)))
        total = total + p.compose(channel).compose(p).data
    return SuperOp(total / 4**n)


def pauli_fidelity(channel: SuperOp, label: str) -> float:
    """Tr(P E(P)) / d: the diagonal entry of the Pauli transfer matrix for ``label``."""
    dim = 2 ** len(label)
    matrix = Pauli(label).to_matrix()
    evolved = (channel.data @ matrix.ravel(order="F")).reshape((dim, dim), order="F")
    return float(np.real(np.trace(matrix @ evolved)) / dim)
