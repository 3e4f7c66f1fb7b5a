"""The plugin: the hook implementations the server calls. Nothing heavy happens at import."""

from __future__ import annotations

from collections.abc import Sequence

from qiskit.circuit import ControlFlowOp
from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import ExecutionTask, ExecutorInfo, hookimpl

from .engine import Engine
from .executor import describe, make_engine

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
    """Refuse at submit what the engine cannot run (a 400 rather than a failed job)."""
    for index, pub in enumerate(task.pubs):
        for instruction in pub.circuit.data:
            if isinstance(instruction.operation, ControlFlowOp):
                raise ValueError(
                    f"PUB {index}: classical control flow ({instruction.operation.name}) is not "
                    "supported by the custatevec executor yet; run this circuit on an @aer backend"
                )


@hookimpl
def qiskit_runtime_execute(task: ExecutionTask) -> PrimitiveResult | None:
    return engine().run(task)
