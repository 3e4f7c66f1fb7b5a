"""Finding the GPU: whether cuStateVec can run here, and if not, exactly why.

The probe tries each layer in turn (CuPy, a CUDA device, the cuStateVec bindings, a cuStateVec
handle) and stops at the first failure, whose message becomes the executor's unavailability
reason. It never raises: the server must start, list the executor and explain, on any host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from .settings import Settings

INSTALL_HINT = (
    "install the CUDA stack with pip install 'qiskit-runtime-server-custatevec[cu12]' "
    "(or [cu13] for CUDA 13)"
)


@dataclass(frozen=True)
class Probe:
    """What the probe found. ``reason`` is set exactly when the GPU cannot be used."""

    reason: str | None = None
    device_name: str = ""
    free_bytes: int = 0
    total_bytes: int = 0
    custatevec_version: int = 0
    bindings: Any = None
    cupy: Any = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def max_qubits(self, settings: Settings) -> int:
        """Qubits whose statevector fits in the free device memory, minus the reserve."""
        usable = self.free_bytes - settings.memory_reserve_mib * 2**20
        if usable < settings.itemsize * 2:
            return 1
        return int(math.log2(usable / settings.itemsize))


@cache
def probe_gpu(device: int = 0) -> Probe:
    """Probe once per process (the answer does not change while it runs)."""
    try:
        import cupy
    except Exception as error:  # ImportError, or a broken CUDA library underneath
        return Probe(f"CuPy is not importable ({type(error).__name__}: {error}); {INSTALL_HINT}")
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as error:
        return Probe(f"no usable CUDA driver or device ({type(error).__name__}: {error})")
    if count == 0:
        return Probe("no CUDA device is visible (CUDA_VISIBLE_DEVICES, driver)")
    if device >= count:
        return Probe(f"QRS_CUSTATEVEC_DEVICE={device}, but only {count} CUDA device(s) are visible")
    try:
        from cuquantum.bindings import custatevec
    except Exception as error:
        return Probe(
            f"cuquantum-python is not importable ({type(error).__name__}: {error}); {INSTALL_HINT}"
        )
    try:
        with cupy.cuda.Device(device):
            handle = custatevec.create()
            custatevec.destroy(handle)
            free, total = cupy.cuda.runtime.memGetInfo()
            name = cupy.cuda.runtime.getDeviceProperties(device)["name"]
            version = int(custatevec.get_version())
    except Exception as error:
        # A missing cuBLAS shows up here, as cuda.pathfinder's DynamicLibNotFoundError.
        return Probe(
            f"cuStateVec cannot start on device {device} ({type(error).__name__}: {error}); "
            "libcustatevec needs cuBLAS (nvidia-cublas-cu12 / nvidia-cublas), which the "
            "cu12/cu13 extras install"
        )
    return Probe(
        device_name=name.decode() if isinstance(name, bytes) else str(name),
        free_bytes=int(free),
        total_bytes=int(total),
        custatevec_version=version,
        bindings=custatevec,
        cupy=cupy,
    )
