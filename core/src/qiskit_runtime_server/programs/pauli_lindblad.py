"""Pauli-Lindblad rates of a twirled layer, computed exactly from the channels of its gates.

A Pauli-twirled channel is diagonal in the Pauli basis: it is fixed by its Pauli fidelities
``f_P = Tr(P E(P)) / 2^n`` (the diagonal of its Pauli transfer matrix). The sparse
Pauli-Lindblad model of van den Berg et al. (arXiv:2201.09866) writes such a channel as
``exp(sum_k r_k (P_k . P_k - .))``, whose fidelities are ``f_Q = exp(-2 sum_{k: {P_k, Q} = 0}
r_k)``. Given the fidelities of the generators themselves, the rates solve the linear system
``M r = -ln(f) / 2`` with ``M[b, k] = 1`` where generator ``k`` anticommutes with Pauli ``b``
(the paper's fidelity-pair construction; ``M`` is invertible for the generator sets used here).

A layer's channel is a product of its parts (the errors of disjoint gates, and those of the
single-qubit gates of a twirling dressing, pushed through the layer's Clifford when they come
before it), so a fidelity of the layer is the product of the parts' fidelities of the Pauli
restricted to each part.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from qiskit.quantum_info import Pauli, SuperOp
from qiskit.quantum_info.operators.channel.quantum_channel import QuantumChannel

#: Fidelities at or below this cannot be written with finite rates.
MIN_FIDELITY = 1e-12


def channel_fidelities(channel: QuantumChannel) -> dict[str, float]:
    """The Pauli fidelities of ``channel``'s Pauli twirl, by Qiskit label (``"XI"`` is X on the
    channel's qubit 1), identity included."""
    superop = SuperOp(channel)
    num_qubits = superop.num_qubits
    if num_qubits is None:
        raise ValueError("the channel is not on qubits")
    data = superop.data
    dim = 2**num_qubits
    fidelities: dict[str, float] = {}
    for letters in itertools.product("IXYZ", repeat=num_qubits):
        label = "".join(letters)
        matrix = Pauli(label).to_matrix()
        # SuperOp acts on column-stacked density matrices.
        evolved = (data @ matrix.ravel(order="F")).reshape((dim, dim), order="F")
        fidelities[label] = float(np.real(np.trace(matrix @ evolved)) / dim)
    return fidelities


def weight_one_and_two(
    num_qubits: int, pairs: Iterable[tuple[int, int]]
) -> list[tuple[str, tuple[int, ...]]]:
    """The learner's generator set on ``num_qubits`` qubits: X, Y and Z on every qubit, and the
    nine two-qubit Paulis on every pair of ``pairs``, as sparse ``(label, qubits)`` terms
    (``("XZ", (0, 3))`` is X on qubit 0 and Z on qubit 3)."""
    generators: list[tuple[str, tuple[int, ...]]] = [
        (letter, (qubit,)) for qubit in range(num_qubits) for letter in "XYZ"
    ]
    for first, second in sorted({tuple(sorted(pair)) for pair in pairs}):
        for a, b in itertools.product("XYZ", repeat=2):
            generators.append((a + b, (first, second)))
    return generators


def x_generators(num_qubits: int) -> list[tuple[str, tuple[int, ...]]]:
    """TREX's generator set: one X per qubit (a readout flip)."""
    return [("X", (qubit,)) for qubit in range(num_qubits)]


def to_pauli(term: tuple[str, Sequence[int]], num_qubits: int) -> Pauli:
    """A sparse ``(label, qubits)`` term as a dense Pauli on ``num_qubits`` qubits."""
    label, qubits = term
    letters = ["I"] * num_qubits
    for letter, qubit in zip(label, qubits, strict=True):
        letters[qubit] = letter
    return Pauli("".join(reversed(letters)))


def anticommutation(rows: Sequence[Pauli], columns: Sequence[Pauli]) -> NDArray[np.float64]:
    """``M[i, j] = 1`` where ``rows[i]`` and ``columns[j]`` anticommute, else 0."""
    if not rows or not columns:
        return np.zeros((len(rows), len(columns)))
    rx = np.array([p.x for p in rows], dtype=np.int64)
    rz = np.array([p.z for p in rows], dtype=np.int64)
    cx = np.array([p.x for p in columns], dtype=np.int64)
    cz = np.array([p.z for p in columns], dtype=np.int64)
    return np.asarray(((rx @ cz.T + rz @ cx.T) % 2), dtype=np.float64)


def solve_rates(
    generators: Sequence[Pauli],
    fidelities: Sequence[float],
    probes: Sequence[Pauli] | None = None,
) -> tuple[NDArray[np.float64], float]:
    """The rates of ``generators`` whose model has ``fidelities`` on ``probes`` (by default
    the generators themselves), and the largest relative misfit of the reconstructed
    fidelities (0 when the model is exact)."""
    probes = generators if probes is None else probes
    f = np.asarray(fidelities, dtype=np.float64)
    if len(f) == 0:
        return np.zeros(0), 0.0
    if np.any(f <= MIN_FIDELITY):
        worst = int(np.argmin(f))
        raise ValueError(
            f"the Pauli fidelity of {probes[worst]} is {f[worst]:.3g}: a channel that "
            "erases it has no Pauli-Lindblad rates"
        )
    matrix = anticommutation(probes, generators)
    target = -np.log(f) / 2
    try:
        # Square and invertible for the learner's generator sets: LU is some 20 times faster
        # than the SVD of lstsq at a thousand generators.
        solution = np.linalg.solve(matrix, target)
    except np.linalg.LinAlgError:
        solution, *_ = np.linalg.lstsq(matrix, target, rcond=None)
    rates = np.asarray(solution, dtype=np.float64)
    reconstructed = np.exp(-2 * matrix @ rates)
    misfit = float(np.max(np.abs(reconstructed - f) / f))
    return rates, misfit


@lru_cache(maxsize=4096)
def _restricted_label(pauli_label: str, positions: tuple[int, ...]) -> str:
    """The letters of a dense Qiskit label at ``positions`` (qubit indices), as a Qiskit label
    on ``len(positions)`` qubits (position k becomes qubit k)."""
    num_qubits = len(pauli_label)
    return "".join(pauli_label[num_qubits - 1 - q] for q in reversed(positions))


def restricted_fidelity(
    fidelities: dict[str, float], pauli: Pauli, positions: tuple[int, ...]
) -> float:
    """The fidelity, in a part's table, of ``pauli`` restricted to the part's qubits
    ``positions`` (indices into ``pauli``, in the part's qubit order)."""
    return label_fidelity(fidelities, pauli.to_label().lstrip("-i"), positions)


def label_fidelity(fidelities: dict[str, float], label: str, positions: tuple[int, ...]) -> float:
    """:func:`restricted_fidelity` of a Pauli given by its Qiskit label without phase (a layer
    asks every part about the same Pauli: the label is written once, not once per part)."""
    return fidelities[_restricted_label(label, positions)]
