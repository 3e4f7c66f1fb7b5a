"""What the executor says about itself, and the primitives it runs jobs on, from the settings.

``QRS_CUSTATEVEC_KERNEL=custatevec`` (the default) needs an NVIDIA GPU: without one the executor
is listed as unavailable with the probe's reason, so its backends report ``state: false`` and
jobs sent to them get a 400 at submit. ``QRS_CUSTATEVEC_KERNEL=numpy`` runs the same simulation on
the NumPy reference kernel on CPU, for tests and development; it says so in its description and
in every result.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
from qiskit_runtime_server import Availability, ExecutorInfo
from qiskit_runtime_server_aer.trajectory_count import OPTION as TRAJECTORIES_OPTION

from . import __version__
from .custatevec_kernel import CuStateVecKernel
from .device import claim_device, probe_gpu
from .kernel import Kernel
from .numpy_kernel import NumpyKernel
from .primitives import EXECUTOR_NAME, StatevectorPrimitives
from .settings import Settings, SettingsError

#: ``experimental.trajectories``: the aer executor's option, same semantics (trajectory_count.py).
HONOURED_OPTIONS = frozenset({"simulator.seed_simulator", "seed_estimator", TRAJECTORIES_OPTION})


def _info(
    max_qubits: int, availability: Availability, description: str, workers: int = 1
) -> ExecutorInfo:
    return ExecutorInfo(
        name=EXECUTOR_NAME,
        version=__version__,
        device="GPU",
        programs=frozenset({"sampler", "estimator"}),
        simulates_noise=True,
        max_qubits=max_qubits,
        availability=availability,
        honoured_options=HONOURED_OPTIONS,
        description=description,
        workers=workers,
    )


def describe() -> ExecutorInfo:
    """The executor's self-description on this host; never raises."""
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        return _info(1, Availability.unavailable(str(error)), "misconfigured")
    noise = "fake devices with their device noise by quantum trajectories"
    if settings.kernel == "numpy":
        kernel = NumpyKernel(np.complex128 if settings.precision == "double" else np.complex64)
        return ExecutorInfo(
            name=EXECUTOR_NAME,
            version=__version__,
            device="CPU",
            programs=frozenset({"sampler", "estimator"}),
            simulates_noise=True,
            max_qubits=max(1, int(math.log2(max(kernel.capacity(0), 2)))),
            availability=Availability.ok(),
            honoured_options=HONOURED_OPTIONS,
            description=(
                f"cuStateVec simulator on the NumPy reference kernel (CPU, for testing; "
                f"QRS_CUSTATEVEC_KERNEL=numpy), {settings.precision} precision, {noise}"
            ),
        )
    probe = probe_gpu(settings.devices)
    if not probe.available:
        assert probe.reason is not None
        return _info(1, Availability.unavailable(probe.reason), f"NVIDIA cuStateVec, {noise}")
    devices = ", ".join(f"{d.index}: {d.name}" for d in probe.devices)
    return _info(
        probe.max_qubits(settings),
        Availability.ok(),
        f"NVIDIA cuStateVec {probe.custatevec_version} on {len(probe.devices)} device(s) "
        f"({devices}), one worker each, {settings.precision} precision, {noise}",
        workers=len(probe.devices),
    )


def make_kernel(settings: Settings) -> Kernel:
    if settings.kernel == "numpy":
        return NumpyKernel(np.complex128 if settings.precision == "double" else np.complex64)
    probe = probe_gpu(settings.devices)
    if not probe.available:
        raise RuntimeError(f"the custatevec executor is unavailable: {probe.reason}")
    claim = claim_device(probe.devices)
    return CuStateVecKernel(
        bindings=probe.bindings,
        cupy=probe.cupy,
        precision=settings.precision,
        device=claim.device.index,
        memory_reserve_bytes=settings.memory_reserve_mib * 2**20,
        claim=claim,
    )


def device_memory(nvml: Any = None) -> dict[str, Any] | None:
    """The memory of the executor's devices now, for ``/-/plugins``: used, free and total
    bytes summed over the devices, and per device. Read through NVML (``nvidia-ml-py``,
    in the cu12/cu13 extras), which needs no CUDA context: reading it must not make the API
    process hold device memory. None without a GPU (or on the NumPy kernel)."""
    try:
        settings = Settings.from_environment()
    except SettingsError:
        return None
    if settings.kernel == "numpy":
        return None
    probe = probe_gpu(settings.devices)
    if not probe.available:
        return None
    if nvml is None:
        try:
            nvml = importlib.import_module("pynvml")
        except ImportError as error:
            return {"error": f"nvidia-ml-py is not importable ({error}); the cu12/cu13 extras "
                             "install it"}  # fmt: skip
    nvml.nvmlInit()
    try:
        devices: list[dict[str, Any]] = []
        for device in probe.devices:
            handle = nvml.nvmlDeviceGetHandleByPciBusId(device.pci_bus_id)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            devices.append(
                {
                    "index": device.index,
                    "name": device.name,
                    "pci_bus_id": device.pci_bus_id,
                    "used_bytes": int(memory.used),
                    "free_bytes": int(memory.free),
                    "total_bytes": int(memory.total),
                }
            )
    finally:
        nvml.nvmlShutdown()
    totals = {
        key: sum(d[key] for d in devices) for key in ("used_bytes", "free_bytes", "total_bytes")
    }
    return {**totals, "devices": devices}


def make_primitives(settings: Settings | None = None) -> StatevectorPrimitives:
    settings = settings if settings is not None else Settings.from_environment()
    return StatevectorPrimitives(make_kernel(settings), settings)
