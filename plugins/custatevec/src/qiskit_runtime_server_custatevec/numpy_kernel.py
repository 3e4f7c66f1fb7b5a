"""The reference kernel: the interface of :mod:`.kernel` in NumPy, on the host.

Written for clarity, not speed: it is what the tests compare the simulator against on CPU and what
the self-check compares the GPU kernel against. Sampling follows cuStateVec's definition
(inverse cumulative probability over the full index, then the measured bits), so both kernels
turn the same random numbers into the same outcomes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .kernel import Matrices


def apply_to_vectors(
    vectors: NDArray[np.complexfloating[Any, Any]], targets: Sequence[int], matrices: Matrices
) -> NDArray[np.complexfloating[Any, Any]]:
    """``matrices`` applied to ``vectors`` (shape ``(batch, 2**n)``) on ``targets``: a new
    array. Also used by fusion, where the vectors are the columns of a fused matrix."""
    batch, dim = vectors.shape
    n = dim.bit_length() - 1
    k = len(targets)
    # C order puts qubit n-1 on the first tensor axis: qubit q lives on axis 1 + (n - 1 - q).
    tensor = vectors.reshape((batch,) + (2,) * n)
    # The matrix's column index has targets[k-1] as its most significant bit.
    axes = [1 + (n - 1 - q) for q in reversed(targets)]
    moved = np.moveaxis(tensor, axes, list(range(n + 1 - k, n + 1)))
    shape = moved.shape
    flat = moved.reshape(batch, -1, 2**k)
    product = np.matmul(flat, np.swapaxes(matrices, 1, 2).astype(vectors.dtype, copy=False))
    restored = np.moveaxis(product.reshape(shape), list(range(n + 1 - k, n + 1)), axes)
    return np.ascontiguousarray(restored.reshape(batch, dim))


def project(indices: NDArray[np.int64], qubits: Sequence[int]) -> NDArray[np.int64]:
    """The bits ``qubits`` of every index, with ``qubits[k]`` at bit ``k``."""
    out = np.zeros_like(indices)
    for k, q in enumerate(qubits):
        out |= ((indices >> q) & 1) << k
    return out


@dataclass
class NumpyStates:
    data: NDArray[np.complexfloating[Any, Any]]

    @property
    def num_qubits(self) -> int:
        return int(self.data.shape[1]).bit_length() - 1

    @property
    def size(self) -> int:
        return int(self.data.shape[0])


def _as_numpy(states: object) -> NumpyStates:
    if not isinstance(states, NumpyStates):
        raise TypeError(f"the numpy kernel got a {type(states).__name__}")
    return states


class NumpyKernel:
    """Statevectors in host memory; a batch is an array of shape ``(size, 2**n)``."""

    name = "numpy"
    location = "host"

    def __init__(self, dtype: type[np.complexfloating[Any, Any]] = np.complex128) -> None:
        self.dtype = dtype

    def capacity(self, num_qubits: int) -> int:
        # Half the host's memory, as Aer caps itself.
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(memory // 2 // (2**num_qubits * np.dtype(self.dtype).itemsize))

    def zeros(self, num_qubits: int, size: int) -> NumpyStates:
        data = np.zeros((size, 2**num_qubits), dtype=self.dtype)
        data[:, 0] = 1
        return NumpyStates(data)

    def copy(self, states: object, member: int) -> NumpyStates:
        return NumpyStates(_as_numpy(states).data[member : member + 1].copy())

    def release(self, states: object) -> None:
        _as_numpy(states).data = np.zeros((0, 1), dtype=self.dtype)

    def give_back_memory(self) -> None:
        """Nothing is cached: NumPy's arrays go back to the allocator when released."""

    def apply_matrix(self, states: object, targets: Sequence[int], matrices: Matrices) -> None:
        batch = _as_numpy(states)
        batch.data = apply_to_vectors(batch.data, targets, matrices)

    def probabilities(
        self, states: object, member: int, qubits: Sequence[int]
    ) -> NDArray[np.float64]:
        amplitudes = _as_numpy(states).data[member]
        weights = np.abs(amplitudes.astype(np.complex128)) ** 2
        outcomes = project(np.arange(amplitudes.size, dtype=np.int64), qubits)
        counts = np.bincount(outcomes, weights=weights, minlength=2 ** len(qubits))
        return counts.astype(np.float64)

    def collapse(
        self,
        states: object,
        member: int,
        qubits: Sequence[int],
        outcome: int,
        probability: float,
    ) -> None:
        amplitudes = _as_numpy(states).data[member]
        outcomes = project(np.arange(amplitudes.size, dtype=np.int64), qubits)
        amplitudes[outcomes != outcome] = 0
        amplitudes *= 1 / math.sqrt(probability)

    def sample(
        self,
        states: object,
        member: int,
        qubits: Sequence[int],
        randnums: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        amplitudes = _as_numpy(states).data[member]
        cumulative = np.cumsum(np.abs(amplitudes.astype(np.complex128)) ** 2)
        indices = np.searchsorted(cumulative, randnums * cumulative[-1], side="right")
        indices = np.minimum(indices, amplitudes.size - 1).astype(np.int64)
        return project(indices, qubits)

    def pauli_expectations(
        self,
        states: object,
        member: int,
        terms: Sequence[tuple[str, Sequence[int]]],
    ) -> NDArray[np.float64]:
        amplitudes = _as_numpy(states).data[member].astype(np.complex128)
        index = np.arange(amplitudes.size, dtype=np.int64)
        values = np.empty(len(terms), dtype=np.float64)
        for t, (paulis, qubits) in enumerate(terms):
            x_mask = sum(1 << q for p, q in zip(paulis, qubits, strict=True) if p in "XY")
            z_mask = sum(1 << q for p, q in zip(paulis, qubits, strict=True) if p in "YZ")
            # P = i^{#Y} X^x Z^z, so (P psi)[j] = i^{#Y} (-1)^{|(j^x) & z|} psi[j^x].
            flipped = index ^ x_mask
            parity = np.bitwise_count(flipped & z_mask).astype(np.int64) & 1
            phase = 1j ** paulis.count("Y")
            value = phase * np.vdot(amplitudes, (1 - 2 * parity) * amplitudes[flipped])
            values[t] = value.real
        return values

    def to_host(self, states: object) -> NDArray[np.complex128]:
        return _as_numpy(states).data.astype(np.complex128)
