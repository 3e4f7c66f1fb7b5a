"""A STAND-IN for ``cuquantum.bindings.custatevec`` and CuPy, for argument checks on CPU.

It is not a simulator and is never used to produce job results: it exists so that the custatevec
kernel's calls can be checked on a machine without a GPU. Every function has the exact parameter
list of the real binding (recorded from the 26.9.0 wheel in
tests/plugins/custatevec/data/custatevec_26.9.0.txt, compared by the tests), and checks what the
real library requires and what it cannot check for us: pointers are plain ints inside live
"device" allocations, lengths match counts, data types and compute types are a supported
combination, targets are distinct and in range, strides are in elements, samplers are
preprocessed before use and destroyed, handles are live. Then it does the documented operation
on the memory those raw pointers address, with code written independently of the NumPy kernel,
so that wrong target orders, layouts, strides and bit orders give wrong numbers.

"Device" memory is host memory here: :class:`DeviceArray` is a NumPy array whose ``.data.ptr`` is
its address, as a CuPy array's is.
"""

from __future__ import annotations

import ctypes
import enum
import weakref
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

# -- enums (values of the real binding) --------------------------------------------------------


class Pauli(enum.IntEnum):
    I = 0  # noqa: E741
    X = 1
    Y = 2
    Z = 3


class MatrixLayout(enum.IntEnum):
    COL = 0
    ROW = 1


class MatrixMapType(enum.IntEnum):
    BROADCAST = 0
    MATRIX_INDEXED = 1


class SamplerOutput(enum.IntEnum):
    RANDNUM_ORDER = 0
    ASCENDING_ORDER = 1


class CollapseOp(enum.IntEnum):
    NONE = 0
    NORMALIZE_AND_ZERO = 1
    RESET = 2


class ComputeType(enum.IntEnum):
    COMPUTE_DEFAULT = 0
    COMPUTE_32F = 4
    COMPUTE_64F = 16
    COMPUTE_TF32 = 4096


class cuStateVecError(Exception):
    pass


CUDA_C_32F, CUDA_C_64F = 4, 5
_DTYPES = {CUDA_C_32F: np.complex64, CUDA_C_64F: np.complex128}
#: (statevector type, matrix type) -> compute type, from the header's table.
_SUPPORTED = {
    (CUDA_C_64F, CUDA_C_64F): ComputeType.COMPUTE_64F,
    (CUDA_C_32F, CUDA_C_64F): ComputeType.COMPUTE_32F,
    (CUDA_C_32F, CUDA_C_32F): ComputeType.COMPUTE_32F,
}

# -- "device" memory ---------------------------------------------------------------------------

_LIVE: weakref.WeakValueDictionary[int, DeviceArray] = weakref.WeakValueDictionary()


class DeviceArray(np.ndarray):  # type: ignore[type-arg]
    """Host memory standing in for a CuPy array: ``.data.ptr`` is the address. An array that
    owns its memory (not a view of another device array) is counted by the memory pool of the
    device current when it was made, as CuPy's pool counts it, and cached there when freed."""

    def __array_finalize__(self, obj: Any) -> None:
        _LIVE[id(self)] = self
        parent = getattr(obj, "cuda_device", None)
        owner = not isinstance(obj, DeviceArray) or self.flags.owndata
        self.cuda_device = REGISTRY.device if owner or parent is None else parent
        if owner:
            MEMORY.allocate(self, self.cuda_device, self.nbytes)

    @property
    def data(self) -> Any:  # type: ignore[override]
        return SimpleNamespace(ptr=self.ctypes.data)


def _check_device_range(pointer: int, nbytes: int, what: str) -> DeviceArray:
    if not isinstance(pointer, int) or isinstance(pointer, bool):
        raise TypeError(f"{what}: an intptr_t argument must be an int, got {type(pointer)}")
    for array in list(_LIVE.values()):
        start = array.ctypes.data
        if start <= pointer and pointer + nbytes <= start + array.nbytes:
            return array
    raise cuStateVecError(f"INVALID_VALUE: {what} is not inside a live device allocation")


def _on_handles_device(handle: int, pointer: int, what: str) -> None:
    """Memory of another device than the handle's: the real library would fault."""
    array = _check_device_range(pointer, 1, what)
    if array.cuda_device != REGISTRY.handles[handle]["device"]:
        raise cuStateVecError(
            f"INVALID_VALUE: {what} is on device {array.cuda_device}, the handle on "
            f"{REGISTRY.handles[handle]['device']}"
        )


def _view(pointer: int, dtype: Any, count: int) -> np.ndarray:  # type: ignore[type-arg]
    """``count`` elements of ``dtype`` at a raw address (device or host)."""
    nbytes = np.dtype(dtype).itemsize * count
    buffer = (ctypes.c_byte * nbytes).from_address(pointer)
    return np.frombuffer(buffer, dtype=dtype, count=count)


def _host_array(value: Any, dtype: Any, what: str) -> np.ndarray:  # type: ignore[type-arg]
    """An untyped sequence argument, as the binding's get_resource_ptr reads it."""
    if isinstance(value, np.ndarray):
        if value.dtype.itemsize != np.dtype(dtype).itemsize:
            raise AssertionError(f"{what}: itemsize {value.dtype.itemsize} is not {dtype}'s")
        return value.view(dtype)
    if isinstance(value, int):
        raise AssertionError(f"{what}: a raw pointer was given where the kernel passes host data")
    return np.asarray(list(value), dtype=dtype)


# -- handles -----------------------------------------------------------------------------------


class _Registry:
    def __init__(self) -> None:
        self.handles: dict[int, dict[str, Any]] = {}
        self.samplers: dict[int, dict[str, Any]] = {}
        self.next_id = 0x1000
        self.calls: list[str] = []
        self.device = 0  # the current CUDA device, as set by Device.use()

    def new_id(self) -> int:
        self.next_id += 0x10
        return self.next_id


REGISTRY = _Registry()


def _handle(handle: int) -> dict[str, Any]:
    if handle not in REGISTRY.handles:
        raise cuStateVecError("NOT_INITIALIZED: unknown or destroyed handle")
    state = REGISTRY.handles[handle]
    if state["mem_handler"] is None:
        raise AssertionError("the kernel passes 0, 0 workspaces, so it must set a mem handler")
    return state


def _statevector(sv: int, sv_data_type: int, n_index_bits: int, count: int = 1) -> np.ndarray:  # type: ignore[type-arg]
    if sv_data_type not in _DTYPES:
        raise cuStateVecError(f"INVALID_VALUE: sv_data_type {sv_data_type}")
    dtype = _DTYPES[sv_data_type]
    _check_device_range(sv, np.dtype(dtype).itemsize * count * 2**n_index_bits, "sv")
    return _view(sv, dtype, count * 2**n_index_bits)


def _bits(n: int, qubits: Sequence[int], what: str) -> list[int]:
    qubits = [int(q) for q in qubits]
    if len(set(qubits)) != len(qubits) or any(not 0 <= q < n for q in qubits):
        raise cuStateVecError(f"INVALID_VALUE: {what} {qubits} for {n} index bits")
    return qubits


def _apply(vector: np.ndarray, matrix: np.ndarray, targets: list[int]) -> None:  # type: ignore[type-arg]
    """matrix on targets (bit i of its index is targets[i]), by gathering index groups."""
    n = vector.size.bit_length() - 1
    d = matrix.shape[0]
    offsets = np.array(
        [sum(((r >> i) & 1) << t for i, t in enumerate(targets)) for r in range(d)], np.int64
    )
    mask = sum(1 << t for t in targets)
    everything = np.arange(2**n, dtype=np.int64)
    bases = everything[(everything & mask) == 0]
    groups = bases[:, None] + offsets[None, :]
    vector[groups] = (vector[groups].astype(np.complex128) @ matrix.T).astype(vector.dtype)


def _matrix(pointer: int, matrix_data_type: int, d: int, layout: int, adjoint: int) -> np.ndarray:  # type: ignore[type-arg]
    if matrix_data_type not in _DTYPES:
        raise cuStateVecError(f"INVALID_VALUE: matrix_data_type {matrix_data_type}")
    matrix = _view(pointer, _DTYPES[matrix_data_type], d * d).reshape(d, d).astype(np.complex128)
    if layout == MatrixLayout.COL:
        matrix = matrix.T
    elif layout != MatrixLayout.ROW:
        raise cuStateVecError(f"INVALID_VALUE: layout {layout}")
    return matrix.conj().T if adjoint else matrix


def _check_types(sv_data_type: int, matrix_data_type: int, compute_type: int) -> None:
    expected = _SUPPORTED.get((sv_data_type, matrix_data_type))
    if expected is None or compute_type != expected:
        raise cuStateVecError(
            f"NOT_SUPPORTED: sv {sv_data_type}, matrix {matrix_data_type}, compute {compute_type}"
        )


def _no_controls(controls: Any, control_bit_values: Any, n_controls: int) -> None:
    if n_controls != 0 or len(list(controls)) != 0 or len(list(control_bit_values)) != 0:
        raise AssertionError("the kernel applies controls inside its matrices")


# -- the binding's functions (exact parameter lists of 26.9.0) ---------------------------------


def create() -> int:
    MEMORY.context(REGISTRY.device)
    handle = REGISTRY.new_id()
    REGISTRY.handles[handle] = {"stream": None, "mem_handler": None, "device": REGISTRY.device}
    return handle


def destroy(handle):  # type: ignore[no-untyped-def]
    REGISTRY.handles.pop(handle)


def get_version() -> int:
    return 11500


def set_stream(handle, stream_id):  # type: ignore[no-untyped-def]
    REGISTRY.handles[handle]["stream"] = int(stream_id)


def set_device_mem_handler(handle, handler):  # type: ignore[no-untyped-def]
    malloc, free, name = handler
    if not (callable(malloc) and callable(free) and isinstance(name, str) and len(name) < 64):
        raise TypeError("handler must be (malloc(size, stream), free(ptr, size, stream), name)")
    pointer = malloc(256, 0)  # the library calls them with ints
    free(pointer, 256, 0)
    REGISTRY.handles[handle]["mem_handler"] = handler


def apply_matrix(
    handle,
    sv,
    sv_data_type,
    n_index_bits,
    matrix,
    matrix_data_type,
    layout,
    adjoint,
    targets,
    n_targets,
    controls,
    control_bit_values,
    n_controls,
    compute_type,
    extra_workspace,
    extra_workspace_size_in_bytes,
):  # type: ignore[no-untyped-def]
    REGISTRY.calls.append("apply_matrix")
    _handle(handle)
    _on_handles_device(handle, sv, "sv")
    _check_types(sv_data_type, matrix_data_type, compute_type)
    targets = _bits(n_index_bits, _host_array(targets, np.int32, "targets"), "targets")
    if len(targets) != n_targets:
        raise cuStateVecError("INVALID_VALUE: n_targets")
    _no_controls(controls, control_bit_values, n_controls)
    d = 2**n_targets
    _check_device_range(matrix, d * d * np.dtype(_DTYPES[matrix_data_type]).itemsize, "matrix")
    vector = _statevector(sv, sv_data_type, n_index_bits)
    _apply(vector, _matrix(matrix, matrix_data_type, d, layout, adjoint), targets)


def apply_matrix_batched(
    handle,
    batched_sv,
    sv_data_type,
    n_index_bits,
    n_svs,
    sv_stride,
    map_type,
    matrix_indices,
    matrices,
    matrix_data_type,
    layout,
    adjoint,
    n_matrices,
    targets,
    n_targets,
    controls,
    control_bit_values,
    n_controls,
    compute_type,
    extra_workspace,
    extra_workspace_size_in_bytes,
):  # type: ignore[no-untyped-def]
    REGISTRY.calls.append(f"apply_matrix_batched:{MatrixMapType(map_type).name}")
    _handle(handle)
    _check_types(sv_data_type, matrix_data_type, compute_type)
    if sv_stride < 2**n_index_bits:
        raise cuStateVecError("INVALID_VALUE: sv_stride (in elements) is below 2**n_index_bits")
    targets = _bits(n_index_bits, _host_array(targets, np.int32, "targets"), "targets")
    if len(targets) != n_targets:
        raise cuStateVecError("INVALID_VALUE: n_targets")
    _no_controls(controls, control_bit_values, n_controls)
    d = 2**n_targets
    itemsize = np.dtype(_DTYPES[matrix_data_type]).itemsize
    _check_device_range(matrices, n_matrices * d * d * itemsize, "matrices")
    if map_type == MatrixMapType.BROADCAST:
        if n_matrices != 1:
            raise AssertionError("BROADCAST is used with one matrix")
        indices = np.zeros(n_svs, dtype=np.int32)
    elif map_type == MatrixMapType.MATRIX_INDEXED:
        indices = _host_array(matrix_indices, np.int32, "matrix_indices")
        if indices.size != n_svs or indices.min() < 0 or indices.max() >= n_matrices:
            raise AssertionError(f"matrix_indices {indices} for {n_svs} svs, {n_matrices} matrices")
    else:
        raise cuStateVecError(f"INVALID_VALUE: map_type {map_type}")
    dtype = _DTYPES[sv_data_type]
    size = np.dtype(dtype).itemsize
    _check_device_range(batched_sv, size * ((n_svs - 1) * sv_stride + 2**n_index_bits), "sv")
    for member in range(n_svs):
        vector = _view(batched_sv + member * sv_stride * size, dtype, 2**n_index_bits)
        pointer = matrices + int(indices[member]) * d * d * itemsize
        _apply(vector, _matrix(pointer, matrix_data_type, d, layout, adjoint), targets)


def abs2sum_array(
    handle,
    sv,
    sv_data_type,
    n_index_bits,
    abs2sum,
    bit_ordering,
    bit_ordering_len,
    mask_bit_string,
    mask_ordering,
    mask_len,
):  # type: ignore[no-untyped-def]
    _handle(handle)
    ordering = _bits(n_index_bits, _host_array(bit_ordering, np.int32, "bit_ordering"), "ordering")
    if len(ordering) != bit_ordering_len or mask_len != 0:
        raise AssertionError("bit_ordering_len / mask")
    vector = _statevector(sv, sv_data_type, n_index_bits)
    out = _view(abs2sum, np.float64, 2**bit_ordering_len)
    out[:] = 0
    for index, amplitude in enumerate(vector):
        key = sum(((index >> q) & 1) << k for k, q in enumerate(ordering))
        out[key] += abs(complex(amplitude)) ** 2


def collapse_by_bit_string(
    handle, sv, sv_data_type, n_index_bits, bit_string, bit_ordering, bit_string_len, norm
):  # type: ignore[no-untyped-def]
    _handle(handle)
    bits = _host_array(bit_string, np.int32, "bit_string")
    ordering = _bits(n_index_bits, _host_array(bit_ordering, np.int32, "bit_ordering"), "ordering")
    if not (len(bits) == len(ordering) == bit_string_len) or not 0 < norm <= 1 + 1e-9:
        raise cuStateVecError("INVALID_VALUE: bit_string / norm")
    vector = _statevector(sv, sv_data_type, n_index_bits)
    for index in range(vector.size):
        if any(((index >> q) & 1) != b for q, b in zip(ordering, bits, strict=True)):
            vector[index] = 0
    vector /= np.sqrt(norm)


def sampler_create(handle, sv, sv_data_type, n_index_bits, n_max_shots):  # type: ignore[no-untyped-def]
    _handle(handle)
    _on_handles_device(handle, sv, "sv")
    _statevector(sv, sv_data_type, n_index_bits)
    if not 0 < n_max_shots < 2**32:
        raise cuStateVecError("INVALID_VALUE: n_max_shots is a uint32")
    sampler = REGISTRY.new_id()
    REGISTRY.samplers[sampler] = {
        "sv": (sv, sv_data_type, n_index_bits), "max": n_max_shots, "ready": False,
    }  # fmt: skip
    return sampler, 0


def sampler_preprocess(handle, sampler, extra_workspace, extra_workspace_size_in_bytes):  # type: ignore[no-untyped-def]
    _handle(handle)
    REGISTRY.samplers[sampler]["ready"] = True


def sampler_sample(
    handle, sampler, bit_strings, bit_ordering, bit_string_len, randnums, n_shots, output
):  # type: ignore[no-untyped-def]
    _handle(handle)
    state = REGISTRY.samplers[sampler]
    if not state["ready"]:
        raise cuStateVecError("SAMPLER_NOT_PREPROCESSED")
    if not isinstance(bit_strings, int) or n_shots > state["max"]:
        raise AssertionError("bit_strings is a host int64 pointer; n_shots <= n_max_shots")
    sv, sv_data_type, n = state["sv"]
    ordering = _bits(n, _host_array(bit_ordering, np.int32, "bit_ordering"), "bit_ordering")
    numbers = _host_array(randnums, np.float64, "randnums")
    if len(ordering) != bit_string_len or numbers.size != n_shots:
        raise AssertionError("bit_string_len / randnums length")
    probabilities = np.abs(_statevector(sv, sv_data_type, n).astype(np.complex128)) ** 2
    cumulative = np.cumsum(probabilities)
    out = _view(bit_strings, np.int64, n_shots)
    for shot, number in enumerate(np.clip(numbers, 0, np.nextafter(1, 0))):
        index = min(int(np.searchsorted(cumulative, number * cumulative[-1], "right")), 2**n - 1)
        out[shot] = sum(((index >> q) & 1) << k for k, q in enumerate(ordering))
    if output == SamplerOutput.ASCENDING_ORDER:
        out.sort()
    elif output != SamplerOutput.RANDNUM_ORDER:
        raise cuStateVecError(f"INVALID_VALUE: output {output}")


def sampler_destroy(sampler):  # type: ignore[no-untyped-def]
    REGISTRY.samplers.pop(sampler)


_PAULI_MATRICES = {
    1: np.array([[0, 1], [1, 0]], dtype=np.complex128),
    2: np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    3: np.array([[1, 0], [0, -1]], dtype=np.complex128),
}


def compute_expectations_on_pauli_basis(
    handle,
    sv,
    sv_data_type,
    n_index_bits,
    expectation_values,
    pauli_operators_array,
    n_pauli_operator_arrays,
    basis_bits_array,
    n_basis_bits_array,
):  # type: ignore[no-untyped-def]
    _handle(handle)
    paulis, bases, counts = (list(pauli_operators_array), list(basis_bits_array),
                             list(n_basis_bits_array))  # fmt: skip
    if not (len(paulis) == len(bases) == len(counts) == n_pauli_operator_arrays):
        raise AssertionError("one Pauli list, one basis-bit list and one count per term")
    vector = _statevector(sv, sv_data_type, n_index_bits).astype(np.complex128)
    out = _view(expectation_values, np.float64, n_pauli_operator_arrays)
    for term, (letters, qubits, count) in enumerate(zip(paulis, bases, counts, strict=True)):
        qubits = _bits(n_index_bits, qubits, "basis_bits")
        if not len(letters) == len(qubits) == count:
            raise AssertionError("n_basis_bits_array")
        image = vector.copy()
        for letter, qubit in zip(letters, qubits, strict=True):
            _apply(image, _PAULI_MATRICES[int(letter)], [qubit])
        out[term] = np.vdot(vector, image).real


# -- CuPy, as much of it as the kernel and the probe use ---------------------------------------


class _Memory:
    """Device memory per device, as CuPy's pools and the CUDA contexts hold it.

    ``used``: bytes of live arrays; ``cached``: bytes freed into the pool but not given back to
    the device (``free_all_blocks`` gives them back); ``contexts``: the devices this process
    holds a CUDA context on (created by the first allocation or handle, destroyed by
    ``deviceReset``, which must not find live arrays).
    """

    CONTEXT_BYTES = 300 * 2**20
    TOTAL_BYTES = 16 * 2**30

    def __init__(self) -> None:
        self.used: dict[int, int] = {}
        self.cached: dict[int, int] = {}
        self.contexts: set[int] = set()
        self.device_count = 1

    def context(self, device: int) -> None:
        if not 0 <= device < self.device_count:
            raise RuntimeError(f"cudaErrorInvalidDevice: device {device}")
        self.contexts.add(device)

    def allocate(self, array: DeviceArray, device: int, nbytes: int) -> None:
        self.context(device)
        self.used[device] = self.used.get(device, 0) + nbytes
        weakref.finalize(array, self._freed, device, nbytes)

    def _freed(self, device: int, nbytes: int) -> None:
        self.used[device] -= nbytes
        self.cached[device] = self.cached.get(device, 0) + nbytes

    def held(self, device: int) -> int:
        """What the device sees this process hold."""
        context = self.CONTEXT_BYTES if device in self.contexts else 0
        return context + self.used.get(device, 0) + self.cached.get(device, 0)

    def reset(self, device: int) -> None:
        if self.used.get(device, 0):
            raise AssertionError("cudaDeviceReset with live allocations on the device")
        self.cached[device] = 0
        self.contexts.discard(device)


MEMORY = _Memory()


def _device_array(array: np.ndarray) -> DeviceArray:  # type: ignore[type-arg]
    return np.array(array, copy=True, order="C").view(DeviceArray)


class _Stream:
    ptr = 0

    def synchronize(self) -> None:
        return None


class _Device:
    def __init__(self, index: int) -> None:
        self.index = index
        self._previous: list[int] = []

    def use(self) -> None:
        _set_device(self.index)

    @property
    def pci_bus_id(self) -> str:
        return pci_bus_id(self.index)

    def __enter__(self) -> _Device:
        self._previous.append(REGISTRY.device)
        if self.index != REGISTRY.device:
            _set_device(self.index)
        return self

    def __exit__(self, *_exc: object) -> None:
        previous = self._previous.pop()
        if previous != REGISTRY.device:
            _set_device(previous)  # as CuPy restores it: cudaSetDevice


def _set_device(index: int) -> None:
    """``cudaSetDevice``: since CUDA 12 it also creates the device's primary context."""
    MEMORY.context(index)
    REGISTRY.device = index


def pci_bus_id(index: int) -> str:
    """The stand-in devices' PCI bus ids: one bus per device."""
    return f"0000:{0x3B + index:02X}:00.0"


class _Pool:
    """CuPy's default device memory pool: ``free_bytes`` are the cached blocks."""

    def free_bytes(self) -> int:
        return MEMORY.cached.get(REGISTRY.device, 0)

    def used_bytes(self) -> int:
        return MEMORY.used.get(REGISTRY.device, 0)

    def free_all_blocks(self) -> None:
        MEMORY.cached[REGISTRY.device] = 0


class _PinnedPool:
    def __init__(self) -> None:
        self.emptied = 0

    def free_all_blocks(self) -> None:
        self.emptied += 1


_POOL, _PINNED_POOL = _Pool(), _PinnedPool()


class _Runtime:
    @staticmethod
    def getDevice() -> int:
        return REGISTRY.device

    @staticmethod
    def getDeviceCount() -> int:
        return MEMORY.device_count

    @staticmethod
    def memGetInfo() -> tuple[int, int]:
        device = REGISTRY.device
        MEMORY.context(device)  # as in CUDA: the query creates the context
        return MEMORY.TOTAL_BYTES - MEMORY.held(device), MEMORY.TOTAL_BYTES

    @staticmethod
    def getDeviceProperties(index: int) -> dict[str, Any]:
        return {"name": f"Stand-in GPU {index}".encode()}

    @staticmethod
    def deviceReset() -> None:
        MEMORY.reset(REGISTRY.device)


cupy = SimpleNamespace(
    zeros=lambda shape, dtype: _device_array(np.zeros(shape, dtype=dtype)),
    asarray=lambda array: _device_array(np.asarray(array)),
    asnumpy=lambda array: np.asarray(array).view(np.ndarray).copy(),
    get_default_memory_pool=lambda: _POOL,
    get_default_pinned_memory_pool=lambda: _PINNED_POOL,
    cuda=SimpleNamespace(
        Device=_Device,
        get_current_stream=_Stream,
        alloc=lambda size: SimpleNamespace(ptr=_device_array(np.zeros(size, np.uint8)).data.ptr),
        runtime=_Runtime,
    ),
)
"""A stand-in for the ``cupy`` module: "device" arrays are :class:`DeviceArray`."""


# -- NVML (nvidia-ml-py's ``pynvml``), as much of it as the executor's memory report uses -------


class _Nvml:
    """Reads what the devices hold as :class:`_Memory` counts it (this process only: the
    stand-in's devices are not shared between processes)."""

    def __init__(self) -> None:
        self.initialised = 0

    def nvmlInit(self) -> None:
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        if self.initialised <= 0:
            raise AssertionError("nvmlShutdown without nvmlInit")
        self.initialised -= 1

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str) -> int:
        if self.initialised <= 0:
            raise AssertionError("NVML_ERROR_UNINITIALIZED")
        for index in range(MEMORY.device_count):
            if pci_bus_id(index).lower() == str(bus_id).lower():
                return index
        raise AssertionError(f"NVML_ERROR_NOT_FOUND: {bus_id}")

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        used = MEMORY.held(handle)
        total = MEMORY.TOTAL_BYTES
        return SimpleNamespace(total=total, used=used, free=total - used)


nvml = _Nvml()
