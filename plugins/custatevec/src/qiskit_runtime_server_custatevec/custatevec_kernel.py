"""The GPU kernel: the interface of :mod:`.kernel` on NVIDIA cuStateVec, memory held by CuPy.

Written against ``cuquantum.bindings.custatevec`` (cuquantum-python >= 25.9; the signatures were
checked against the 26.9.0 wheel's ``custatevec.pyx``). The binding module and CuPy are passed
in, so that the argument plumbing (pointers, strides, enums, target and bit orders) is tested on
CPU with a stand-in binding module (tests/support/standin_custatevec.py) and checked
for real by the self-check on a GPU host (selfcheck.py).

How the calls are made:

* one cuStateVec handle per host thread (the library's rule), on CuPy's current stream, with a
  device memory handler backed by CuPy's memory pool, so every workspace argument is ``0, 0``;
* a batch is one CuPy array of shape ``(size, 2**n)``: statevector ``i`` starts at
  ``ptr + i * 2**n * itemsize`` and the batched calls take the stride ``2**n`` in elements;
* gate matrices are complex128, row-major, uploaded to the device; a complex64 statevector
  uses them with ``COMPUTE_32F``, which the header's table of supported types allows;
* ``apply_matrix`` for a single statevector, ``apply_matrix_batched`` (``BROADCAST`` for a
  matrix shared by the batch, ``MATRIX_INDEXED`` for one matrix per statevector) otherwise,
  except below 128 bytes per statevector (the batched call wants 128-byte aligned vectors);
* the configured device is made current in every thread before memory is touched;
* outputs of sampling, marginals and expectation values are written to host NumPy arrays;
* after each job, CuPy's pools give their cached blocks back to the device
  (:meth:`CuStateVecKernel.give_back_memory`): an idle worker holds its CUDA context and its
  cuStateVec handle, not the last job's statevectors.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .kernel import Matrices

#: ``cudaDataType_t`` values (CUDA's stable ABI, also ``cuquantum.cudaDataType``).
CUDA_C_32F = 4
CUDA_C_64F = 5
_PAULI = {"X": 1, "Y": 2, "Z": 3}


@dataclass
class DeviceStates:
    data: Any  # a CuPy array of shape (size, 2**n)

    @property
    def num_qubits(self) -> int:
        return int(self.data.shape[1]).bit_length() - 1

    @property
    def size(self) -> int:
        return int(self.data.shape[0])


def _device(states: object) -> DeviceStates:
    if not isinstance(states, DeviceStates):
        raise TypeError(f"the custatevec kernel got a {type(states).__name__}")
    return states


class CuStateVecKernel:
    """Statevectors in GPU memory, updated by cuStateVec."""

    name = "custatevec"

    def __init__(
        self,
        *,
        bindings: Any,
        cupy: Any,
        precision: str = "double",
        device: int = 0,
        memory_reserve_bytes: int = 0,
        claim: object = None,
    ) -> None:
        self.cusv = bindings
        self.cupy = cupy
        self.dtype = np.complex128 if precision == "double" else np.complex64
        self.sv_data_type = CUDA_C_64F if precision == "double" else CUDA_C_32F
        self.compute_type = int(
            bindings.ComputeType.COMPUTE_64F
            if precision == "double"
            else bindings.ComputeType.COMPUTE_32F
        )
        self.device = device
        bus_id = getattr(getattr(claim, "device", None), "pci_bus_id", "")
        self.location = f"CUDA device {device}" + (f" (PCI {bus_id})" if bus_id else "")
        self.memory_reserve_bytes = memory_reserve_bytes
        #: The worker's hold on its device (device.DeviceClaim), kept for the kernel's life.
        self.claim = claim
        self._local = threading.local()
        self._allocations: dict[int, Any] = {}
        self._activate()

    def _activate(self) -> None:
        """Make the configured device current in this thread (CuPy's current device is per
        thread, and allocations land on it), whatever made another one current meanwhile."""
        if int(self.cupy.cuda.runtime.getDevice()) != self.device:
            self.cupy.cuda.Device(self.device).use()

    # -- handle and memory ---------------------------------------------------------------------

    @property
    def handle(self) -> int:
        handle: int | None = getattr(self._local, "handle", None)
        if handle is None:
            self._activate()
            handle = int(self.cusv.create())
            self.cusv.set_stream(handle, self.cupy.cuda.get_current_stream().ptr)
            self.cusv.set_device_mem_handler(handle, (self._malloc, self._free, "qrs-cupy-pool"))
            self._local.handle = handle
        return handle

    def close(self) -> None:
        handle = getattr(self._local, "handle", None)
        if handle is not None:
            self.cusv.destroy(handle)
            self._local.handle = None

    def give_back_memory(self) -> None:
        self._activate()
        self._synchronize()
        self.cupy.get_default_memory_pool().free_all_blocks()
        self.cupy.get_default_pinned_memory_pool().free_all_blocks()

    def _malloc(self, size: int, _stream: int) -> int:
        memory = self.cupy.cuda.alloc(size)
        pointer = int(memory.ptr)
        self._allocations[pointer] = memory
        return pointer

    def _free(self, pointer: int, _size: int, _stream: int) -> None:
        self._allocations.pop(pointer, None)

    def _pointer(self, states: DeviceStates, member: int) -> int:
        stride = states.data.shape[1] * np.dtype(self.dtype).itemsize
        base: int = int(states.data.data.ptr)
        return base + member * int(stride)

    def capacity(self, num_qubits: int) -> int:
        self._activate()
        free, _total = self.cupy.cuda.runtime.memGetInfo()
        free += self.cupy.get_default_memory_pool().free_bytes()
        usable = free - self.memory_reserve_bytes
        return max(0, int(usable // (2**num_qubits * np.dtype(self.dtype).itemsize)))

    # -- the interface -------------------------------------------------------------------------

    def zeros(self, num_qubits: int, size: int) -> DeviceStates:
        self._activate()
        data = self.cupy.zeros((size, 2**num_qubits), dtype=self.dtype)
        data[:, 0] = 1
        return DeviceStates(data)

    def copy(self, states: object, member: int) -> DeviceStates:
        self._activate()
        return DeviceStates(_device(states).data[member : member + 1].copy())

    def release(self, states: object) -> None:
        self._activate()
        _device(states).data = self.cupy.zeros((0, 1), dtype=self.dtype)

    def apply_matrix(self, states: object, targets: Sequence[int], matrices: Matrices) -> None:
        self._activate()
        batch = _device(states)
        n = batch.num_qubits
        k = len(targets)
        stack = self.cupy.asarray(np.ascontiguousarray(matrices, dtype=np.complex128))
        layout = int(self.cusv.MatrixLayout.ROW)
        shared = matrices.shape[0] == 1
        if batch.size == 1 or 2**n * np.dtype(self.dtype).itemsize < 128:
            matrix_bytes = 4**k * 16
            for member in range(batch.size):
                offset = 0 if shared else member * matrix_bytes
                self.cusv.apply_matrix(
                    self.handle, self._pointer(batch, member), self.sv_data_type, n,
                    int(stack.data.ptr) + offset, CUDA_C_64F, layout, 0,
                    list(targets), k, [], [], 0,
                    self.compute_type, 0, 0,
                )  # fmt: skip
            return
        if not shared and matrices.shape[0] != batch.size:
            raise ValueError(f"{matrices.shape[0]} matrices for {batch.size} statevectors")
        map_type = (
            self.cusv.MatrixMapType.BROADCAST
            if shared
            else (self.cusv.MatrixMapType.MATRIX_INDEXED)
        )
        indices = 0 if shared else np.arange(batch.size, dtype=np.int32)
        self.cusv.apply_matrix_batched(
            self.handle, self._pointer(batch, 0), self.sv_data_type, n,
            batch.size, 2**n, int(map_type), indices,
            int(stack.data.ptr), CUDA_C_64F, layout, 0, int(matrices.shape[0]),
            list(targets), k, [], [], 0,
            self.compute_type, 0, 0,
        )  # fmt: skip

    def probabilities(
        self, states: object, member: int, qubits: Sequence[int]
    ) -> NDArray[np.float64]:
        self._activate()
        batch = _device(states)
        out = np.zeros(2 ** len(qubits), dtype=np.float64)
        self.cusv.abs2sum_array(
            self.handle, self._pointer(batch, member), self.sv_data_type, batch.num_qubits,
            out.ctypes.data, list(qubits), len(qubits), 0, 0, 0,
        )  # fmt: skip
        self._synchronize()
        return out

    def collapse(
        self,
        states: object,
        member: int,
        qubits: Sequence[int],
        outcome: int,
        probability: float,
    ) -> None:
        self._activate()
        batch = _device(states)
        bits = [(outcome >> k) & 1 for k in range(len(qubits))]
        self.cusv.collapse_by_bit_string(
            self.handle, self._pointer(batch, member), self.sv_data_type, batch.num_qubits,
            bits, list(qubits), len(qubits), float(probability),
        )  # fmt: skip

    def sample(
        self,
        states: object,
        member: int,
        qubits: Sequence[int],
        randnums: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        self._activate()
        batch = _device(states)
        shots = int(randnums.size)
        out = np.zeros(shots, dtype=np.int64)
        if shots == 0:
            return out
        handle = self.handle
        sampler, _workspace = self.cusv.sampler_create(
            handle, self._pointer(batch, member), self.sv_data_type, batch.num_qubits, shots
        )
        try:
            self.cusv.sampler_preprocess(handle, sampler, 0, 0)
            self.cusv.sampler_sample(
                handle, sampler, out.ctypes.data, list(qubits), len(qubits),
                np.ascontiguousarray(randnums, dtype=np.float64), shots,
                int(self.cusv.SamplerOutput.RANDNUM_ORDER),
            )  # fmt: skip
        finally:
            self.cusv.sampler_destroy(sampler)
        self._synchronize()
        return out

    def pauli_expectations(
        self,
        states: object,
        member: int,
        terms: Sequence[tuple[str, Sequence[int]]],
    ) -> NDArray[np.float64]:
        self._activate()
        batch = _device(states)
        out = np.zeros(len(terms), dtype=np.float64)
        if not terms:
            return out
        self.cusv.compute_expectations_on_pauli_basis(
            self.handle, self._pointer(batch, member), self.sv_data_type, batch.num_qubits,
            out.ctypes.data,
            [[_PAULI[p] for p in paulis] for paulis, _ in terms], len(terms),
            [list(qubits) for _, qubits in terms], [len(qubits) for _, qubits in terms],
        )  # fmt: skip
        self._synchronize()
        return out

    def to_host(self, states: object) -> NDArray[np.complex128]:
        self._activate()
        host = self.cupy.asnumpy(_device(states).data)
        return np.asarray(host, dtype=np.complex128)

    def _synchronize(self) -> None:
        self.cupy.cuda.get_current_stream().synchronize()
