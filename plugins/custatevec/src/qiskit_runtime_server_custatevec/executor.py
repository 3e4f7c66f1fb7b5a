"""What the executor says about itself, and the primitives it runs jobs on, from the settings.

``QRS_CUSTATEVEC_KERNEL=custatevec`` (the default) needs an NVIDIA GPU: without one the executor
is listed as unavailable with the probe's reason, so its backends report ``state: false`` and
jobs sent to them get a 400 at submit. ``QRS_CUSTATEVEC_KERNEL=numpy`` runs the same simulation on
the NumPy reference kernel on CPU, for tests and development; it says so in its description and
in every result.
"""

from __future__ import annotations

import math

import numpy as np
from qiskit_runtime_server import Availability, ExecutorInfo

from . import __version__
from .custatevec_kernel import CuStateVecKernel
from .device import probe_gpu
from .kernel import Kernel
from .numpy_kernel import NumpyKernel
from .primitives import EXECUTOR_NAME, StatevectorPrimitives
from .settings import Settings, SettingsError

HONOURED_OPTIONS = frozenset({"simulator.seed_simulator", "seed_estimator"})


def _info(max_qubits: int, availability: Availability, description: str) -> ExecutorInfo:
    return ExecutorInfo(
        name=EXECUTOR_NAME,
        version=__version__,
        device="GPU",
        programs=frozenset({"sampler", "estimator"}),
        simulates_noise=False,
        max_qubits=max_qubits,
        availability=availability,
        honoured_options=HONOURED_OPTIONS,
        description=description,
    )


def describe() -> ExecutorInfo:
    """The executor's self-description on this host; never raises."""
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        return _info(1, Availability.unavailable(str(error)), "misconfigured")
    noise = "noiseless (device noise is not simulated)"
    if settings.kernel == "numpy":
        kernel = NumpyKernel(np.complex128 if settings.precision == "double" else np.complex64)
        return ExecutorInfo(
            name=EXECUTOR_NAME,
            version=__version__,
            device="CPU",
            programs=frozenset({"sampler", "estimator"}),
            simulates_noise=False,
            max_qubits=max(1, int(math.log2(max(kernel.capacity(0), 2)))),
            availability=Availability.ok(),
            honoured_options=HONOURED_OPTIONS,
            description=(
                f"cuStateVec simulator on the NumPy reference kernel (CPU, for testing; "
                f"QRS_CUSTATEVEC_KERNEL=numpy), {settings.precision} precision, {noise}"
            ),
        )
    probe = probe_gpu(settings.device)
    if not probe.available:
        assert probe.reason is not None
        return _info(1, Availability.unavailable(probe.reason), f"NVIDIA cuStateVec, {noise}")
    return _info(
        probe.max_qubits(settings),
        Availability.ok(),
        f"NVIDIA cuStateVec {probe.custatevec_version} on {probe.device_name} "
        f"(device {settings.device}), {settings.precision} precision, {noise}",
    )


def make_kernel(settings: Settings) -> Kernel:
    if settings.kernel == "numpy":
        return NumpyKernel(np.complex128 if settings.precision == "double" else np.complex64)
    probe = probe_gpu(settings.device)
    if not probe.available:
        raise RuntimeError(f"the custatevec executor is unavailable: {probe.reason}")
    return CuStateVecKernel(
        bindings=probe.bindings,
        cupy=probe.cupy,
        precision=settings.precision,
        device=settings.device,
        memory_reserve_bytes=settings.memory_reserve_mib * 2**20,
    )


def make_primitives(settings: Settings | None = None) -> StatevectorPrimitives:
    settings = settings if settings is not None else Settings.from_environment()
    return StatevectorPrimitives(make_kernel(settings), settings)
