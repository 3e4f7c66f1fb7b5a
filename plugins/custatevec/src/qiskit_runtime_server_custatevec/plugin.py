"""The plugin: the hook implementations the server calls. Nothing heavy happens at import."""

from __future__ import annotations

from collections.abc import Sequence

from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import ExecutionTask, ExecutorInfo, hookimpl

from .engine import Engine, check_runnable
from .executor import describe, make_engine
from .program import UnsupportedCircuit

_engine: Engine | None = None


def engine() -> Engine:
    """The process's engine, created on first use (it holds the kernel and its GPU handle)."""
    global _engine
    if _engine is None:
        _engine = make_engine()
    return _engine


@hookimpl
def qiskit_runtime_executors() -> Sequence[ExecutorInfo]:
    return [describe()]


@hookimpl
def qiskit_runtime_validate(task: ExecutionTask) -> None:
    """Refuse at submit what the engine cannot run (a 400 rather than a failed job): control
    flow, instructions it cannot lower, measurements in an estimator circuit, non-Pauli
    observables. No GPU is touched and nothing is simulated: the circuit is compiled on the
    host with one parameter set (standard gates' matrices come from a cache)."""
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
    return engine().run(task)
