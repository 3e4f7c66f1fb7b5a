"""Finding the GPUs: whether cuStateVec can run here and on which devices, and if not, why.

The probe tries each layer in turn (CuPy, the CUDA devices, the cuStateVec bindings, a
cuStateVec handle on every device used) and stops at the first failure, whose message becomes
the executor's unavailability reason. It never raises: the server must start, list the executor
and explain, on any host. It then gives back the CUDA contexts it created: the API and scheduler
processes probe too, and a context holds a few hundred MiB of device memory for as long as its
process lives.

A worker process claims one device for its lifetime (:func:`claim_device`), so that the pool
of one worker per device (the executor's default) spreads over the devices.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .settings import Settings

INSTALL_HINT = (
    "install the CUDA stack with pip install 'qiskit-runtime-server-custatevec[cu12]' "
    "(or [cu13] for CUDA 13)"
)


@dataclass(frozen=True)
class Device:
    """One CUDA device as the probe found it (memory at probe time)."""

    index: int
    name: str = ""
    pci_bus_id: str = ""
    free_bytes: int = 0
    total_bytes: int = 0


@dataclass(frozen=True)
class Probe:
    """What the probe found. ``reason`` is set exactly when the GPUs cannot be used."""

    reason: str | None = None
    devices: tuple[Device, ...] = ()
    custatevec_version: int = 0
    bindings: Any = None
    cupy: Any = None

    @property
    def available(self) -> bool:
        return self.reason is None

    @property
    def free_bytes(self) -> int:
        """The free memory of the device with the least: any job may land on it."""
        return min((d.free_bytes for d in self.devices), default=0)

    def max_qubits(self, settings: Settings) -> int:
        """Qubits whose statevector fits in every device's free memory, minus the reserve."""
        usable = self.free_bytes - settings.memory_reserve_mib * 2**20
        if usable < settings.itemsize * 2:
            return 1
        return int(math.log2(usable / settings.itemsize))


@cache
def probe_gpu(devices: tuple[int, ...] = ()) -> Probe:
    """Probe once per process (the answer does not change while it runs). ``devices``: the
    CUDA indices to use, empty for every visible one."""
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
    missing = [d for d in devices if d >= count]
    if missing:
        return Probe(
            f"QRS_CUSTATEVEC_DEVICES names {missing}, but only {count} CUDA device(s) are "
            "visible (indices from 0)"
        )
    try:
        from cuquantum.bindings import custatevec
    except Exception as error:
        return Probe(
            f"cuquantum-python is not importable ({type(error).__name__}: {error}); {INSTALL_HINT}"
        )
    found: list[Device] = []
    for index in devices or tuple(range(count)):
        try:
            with cupy.cuda.Device(index):
                handle = custatevec.create()
                custatevec.destroy(handle)
                free, total = cupy.cuda.runtime.memGetInfo()
                name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
                bus_id = str(cupy.cuda.Device(index).pci_bus_id)
                version = int(custatevec.get_version())
        except Exception as error:
            # A missing cuBLAS shows up here, as cuda.pathfinder's DynamicLibNotFoundError.
            return Probe(
                f"cuStateVec cannot start on device {index} ({type(error).__name__}: {error}); "
                "libcustatevec needs cuBLAS (nvidia-cublas-cu12 / nvidia-cublas), which the "
                "cu12/cu13 extras install"
            )
        found.append(
            Device(
                index=index,
                name=name.decode() if isinstance(name, bytes) else str(name),
                pci_bus_id=bus_id,
                free_bytes=int(free),
                total_bytes=int(total),
            )
        )
    release_contexts(cupy, [d.index for d in found])
    return Probe(devices=tuple(found), custatevec_version=version, bindings=custatevec, cupy=cupy)


def release_contexts(cupy: Any, devices: Sequence[int]) -> None:
    """Destroy the CUDA contexts the probe created (``cudaDeviceReset``); the next CUDA call
    on a device creates a fresh one. Device 0 last: leaving a ``with Device(i)`` block makes
    device 0 current again, which (``cudaSetDevice``, CUDA 12 and later) creates its context."""
    with contextlib.suppress(Exception):
        for index in devices:
            if index != 0:
                with cupy.cuda.Device(index):
                    cupy.cuda.runtime.deviceReset()
        cupy.cuda.runtime.deviceReset()  # device 0 is current here


@dataclass
class DeviceClaim:
    """A device a worker process runs on. ``exclusive``: no other worker of this server holds
    it (false when there are more workers than devices and they share)."""

    device: Device
    exclusive: bool
    _lock: socket.socket | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def claim_device(devices: Sequence[Device]) -> DeviceClaim:
    """The first of ``devices`` no other worker of this server holds, held until the process
    ends (or :meth:`DeviceClaim.release`).

    The hold is a Linux abstract socket named after the worker's parent (the server's
    scheduler process) and the device's PCI bus id (the same under any CUDA_VISIBLE_DEVICES):
    the kernel drops it when the process dies, even of SIGKILL, so a cancelled job's
    replacement worker finds the device free. With more workers than devices (an operator's
    ``QRS_EXECUTOR_WORKERS``), the extra ones share the device chosen by their process id.
    """
    if not devices:
        raise RuntimeError("no CUDA device to claim")
    scope = os.getppid()
    for device in devices:
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(f"\0qrs-custatevec-{scope}-{device.pci_bus_id or device.index}")
        except OSError:
            lock.close()
            continue
        return DeviceClaim(device, exclusive=True, _lock=lock)
    return DeviceClaim(devices[os.getpid() % len(devices)], exclusive=False)
