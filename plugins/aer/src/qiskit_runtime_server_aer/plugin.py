"""The plugin: the hook implementations the server calls. Nothing heavy happens at import."""

from __future__ import annotations

from collections.abc import Sequence

from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import DeviceNoise, ExecutionTask, ExecutorInfo, NoiseQuery, hookimpl

from .layer_noise import device_noise
from .primitives import AerPrimitives, describe, validate_options

_primitives: AerPrimitives | None = None


def primitives() -> AerPrimitives:
    """The process's primitives, created on first use; they cache noise models per backend."""
    global _primitives
    if _primitives is None:
        _primitives = AerPrimitives()
    return _primitives


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [describe()]


@hookimpl
def qiskit_runtime_validate(task: ExecutionTask) -> None:
    validate_options(task)


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult | None:
    return primitives().run(task)


@hookimpl
def qiskit_runtime_device_noise(query: NoiseQuery) -> DeviceNoise | None:
    return device_noise(query, primitives().noise_models)
