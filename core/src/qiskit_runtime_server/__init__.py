"""qiskit-runtime-server: IBM Quantum's Qiskit Runtime REST API, served locally.

The public surface for plugin authors is re-exported here; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .backend_description import BackendDescription
from .device_noise import DeviceNoise, GateRef, NoiseQuery
from .document_backend import DocumentBackend, DocumentDescription
from .executor import Availability, ExecutorInfo
from .hookspecs import hookimpl, hookspec
from .tasks import (
    DEFAULT_PRECISION,
    DEFAULT_SHOTS,
    EstimatorTask,
    ExecutionTask,
    SamplerTask,
    TaskOptions,
)

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_SHOTS",
    "Availability",
    "BackendDescription",
    "DeviceNoise",
    "DocumentBackend",
    "DocumentDescription",
    "EstimatorTask",
    "ExecutionTask",
    "ExecutorInfo",
    "GateRef",
    "NoiseQuery",
    "SamplerTask",
    "TaskOptions",
    "__version__",
    "hookimpl",
    "hookspec",
]
