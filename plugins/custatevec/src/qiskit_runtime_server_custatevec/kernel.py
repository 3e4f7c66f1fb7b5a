"""The statevector kernel interface: the only code that touches device memory.

Everything above it (compiling circuits, fusion, parameter sweeps, sampling with host-side
random numbers, mid-circuit measurement, expectation values, result building) is plain Python
and NumPy and runs the same on every kernel. Two kernels implement it: the NumPy reference
(:mod:`.numpy_kernel`, runs everywhere, used by the tests) and cuStateVec on CuPy
(:mod:`.custatevec_kernel`, on NVIDIA GPUs). The self-check compares them call for call.

Conventions, the same as cuStateVec's and Qiskit's:

* a batch holds ``size`` statevectors of ``num_qubits`` qubits; index bit ``q`` is qubit ``q``
  (bit 0 is the least significant, Qiskit's little-endian order);
* a gate matrix is row-major complex128 of shape ``(2**k, 2**k)``; bit ``i`` of its row and
  column index is ``targets[i]`` (so ``Operator(gate).data`` applies with ``targets = qargs``);
* sampled and marginal outcomes put ``qubits[k]`` at bit ``k``;
* random numbers come from the host, so a seed gives the same samples on every kernel (up to
  ties at cumulative-probability boundaries and the rounding of single precision).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

Matrices = NDArray[np.complex128]
"""A stack of gate matrices, shape ``(1 or batch, 2**k, 2**k)``: one matrix for every
statevector of the batch, or one per statevector."""


class StateBatch(Protocol):
    """Statevectors held by a kernel (on the host or on a device)."""

    @property
    def num_qubits(self) -> int: ...

    @property
    def size(self) -> int: ...


class Kernel(Protocol):
    """What a statevector backend must do. Every method acts on the whole batch unless it takes
    ``member``, the index of one statevector in the batch."""

    #: Short name shown in metadata and logs (``numpy``, ``custatevec``).
    name: str
    #: ``numpy.complex128`` or ``numpy.complex64``.
    dtype: type[np.complexfloating[Any, Any]]
    #: Where the statevectors live, for metadata and logs (``host``, ``CUDA device 1 ...``).
    location: str

    def capacity(self, num_qubits: int) -> int:
        """How many statevectors of ``num_qubits`` fit in the memory free right now."""
        ...

    def zeros(self, num_qubits: int, size: int) -> StateBatch:
        """``size`` statevectors in ``|0...0>``."""
        ...

    def copy(self, states: StateBatch, member: int) -> StateBatch:
        """A batch of one: a copy of ``states[member]``."""
        ...

    def release(self, states: StateBatch) -> None:
        """Give the memory back now (rather than when the object is collected)."""
        ...

    def give_back_memory(self) -> None:
        """Return cached memory to the device after a job (memory pools keep freed blocks for
        the next allocation, which would hold the device's memory while the worker idles)."""
        ...

    def apply_matrix(self, states: StateBatch, targets: Sequence[int], matrices: Matrices) -> None:
        """Apply ``matrices[0]`` to every statevector, or ``matrices[i]`` to statevector ``i``."""
        ...

    def probabilities(
        self, states: StateBatch, member: int, qubits: Sequence[int]
    ) -> NDArray[np.float64]:
        """Marginal probabilities of ``qubits`` (``2**len(qubits)`` values)."""
        ...

    def collapse(
        self,
        states: StateBatch,
        member: int,
        qubits: Sequence[int],
        outcome: int,
        probability: float,
    ) -> None:
        """Project statevector ``member`` on ``qubits`` reading ``outcome`` (bit k for
        ``qubits[k]``), whose probability is ``probability``, and renormalise it."""
        ...

    def sample(
        self,
        states: StateBatch,
        member: int,
        qubits: Sequence[int],
        randnums: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """One outcome of ``qubits`` per random number in [0, 1), by inverse cumulative
        probability over the full statevector index, in the order of ``randnums``."""
        ...

    def pauli_expectations(
        self,
        states: StateBatch,
        member: int,
        terms: Sequence[tuple[str, Sequence[int]]],
    ) -> NDArray[np.float64]:
        """``<P>`` for every term ``(paulis, qubits)``: ``paulis[j]`` (one of ``XYZ``) acts on
        ``qubits[j]``, identity elsewhere; an empty term gives the squared norm."""
        ...

    def to_host(self, states: StateBatch) -> NDArray[np.complex128]:
        """The statevectors as a host array of shape ``(size, 2**num_qubits)``."""
        ...
