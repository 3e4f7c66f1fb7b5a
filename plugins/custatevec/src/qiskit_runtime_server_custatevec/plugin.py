"""The plugin: the hook implementations the server calls. Nothing heavy happens at import."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import ExecutionTask, ExecutorInfo, hookimpl
from qiskit_runtime_server.device_noise import DeviceNoise, NoiseQuery
from qiskit_runtime_server_aer.trajectory_count import validate_trajectories

from .executor import describe, device_memory, make_primitives
from .primitives import ESTIMATOR_TRAJECTORIES, StatevectorPrimitives, check_runnable
from .program import UnsupportedCircuit

_primitives: StatevectorPrimitives | None = None


def primitives() -> StatevectorPrimitives:
    """The process's primitives, created on first use (they hold the kernel and its GPU handle)."""
    global _primitives
    if _primitives is None:
        _primitives = make_primitives()
    return _primitives


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [describe()]


@hookimpl
def qiskit_runtime_device_memory() -> dict[str, Any] | None:
    return device_memory()


@hookimpl
def qiskit_runtime_validate(task: ExecutionTask) -> None:
    """Refuse at submit what the simulator cannot run (a 400 rather than a failed job): control
    flow, instructions it cannot lower, measurements in an estimator circuit, non-Pauli
    observables, an invalid ``options.experimental.trajectories`` or one sent with an
    estimator job (checked as the aer executor checks it). No GPU is touched and nothing is
    simulated: the circuit is compiled on the host with one parameter set (standard gates'
    matrices come from a cache)."""
    validate_trajectories(task, ESTIMATOR_TRAJECTORIES)
    for index, pub in enumerate(task.pubs):
        try:
            check_runnable(pub)
        except UnsupportedCircuit as error:
            raise ValueError(f"PUB {index}: {error}") from None
        except Exception as error:  # an opaque gate without a matrix, say: a 400, not a 500
            raise ValueError(
                f"PUB {index}: the custatevec executor cannot compile this circuit: "
                f"{type(error).__name__}: {error}"
            ) from None


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult | None:
    return primitives().run(task)


@hookimpl
def qiskit_runtime_device_noise(query: NoiseQuery) -> DeviceNoise | None:
    """The noise the executor simulates (the aer executor's device model, noise.py), for the
    noise-learner program; needs no GPU."""
    from qiskit_runtime_server_aer.layer_noise import device_noise

    return device_noise(query, _noise_models())


@cache
def _noise_models() -> Any:
    from qiskit_runtime_server_aer.noise import NoiseModelCache

    return NoiseModelCache()
