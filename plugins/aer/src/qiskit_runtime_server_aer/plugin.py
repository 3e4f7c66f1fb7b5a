"""The plugin: the hook implementations the server calls. Nothing heavy happens at import."""

from __future__ import annotations

from collections.abc import Sequence

from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import DeviceNoise, ExecutionTask, ExecutorInfo, NoiseQuery, hookimpl

from .engine import AerEngine, describe, validate_options
from .layer_noise import device_noise

_engine: AerEngine | None = None


def engine() -> AerEngine:
    """The process's engine, created on first use; it caches noise models per backend."""
    global _engine
    if _engine is None:
        _engine = AerEngine()
    return _engine


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [describe()]


@hookimpl
def qiskit_runtime_validate(task: ExecutionTask) -> None:
    validate_options(task)


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult | None:
    return engine().run(task)


@hookimpl
def qiskit_runtime_device_noise(query: NoiseQuery) -> DeviceNoise | None:
    return device_noise(query, engine().noise_models)
