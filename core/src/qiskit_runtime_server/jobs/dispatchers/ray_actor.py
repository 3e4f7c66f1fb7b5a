"""What runs on the Ray nodes: the executor actor and the probe of a node's executors.

Both load the plugins installed on their node, from the same entry points and plugin paths as
the server, so a node offers exactly the executors that are installed and available there.
This module imports Ray only in its functions: it is imported by name on every node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ... import logs
from ..worker import Assignment, Outcome, WorkerRuntime, WorkerSpec, limit_threads


@dataclass(frozen=True)
class NodeExecutor:
    """An executor as a node's probe found it."""

    name: str
    #: ``ExecutorInfo.device``: "CPU" places the actors by CPUs, anything else by GPUs.
    device: str
    available: bool
    reason: str | None
    #: ``ExecutorInfo.max_qubits`` on that node (custatevec's depends on its GPU's memory).
    max_qubits: int


def probe_node(spec: WorkerSpec) -> list[NodeExecutor]:
    """The executors installed on the node this runs on, and whether each is available."""
    from ...plugins import PluginHost

    host = PluginHost.load(
        entry_points=spec.load_entry_points,
        disabled=spec.disabled_plugins,
        plugin_paths=spec.plugin_paths,
    )
    return [
        NodeExecutor(
            name,
            executor.info.device,
            executor.info.availability.available,
            executor.info.availability.reason,
            executor.info.max_qubits,
        )
        for name, executor in host.executors.items()
    ]


class ExecutorActor:
    """One worker on a Ray node: the plugins loaded once, then one job at a time."""

    def __init__(self, spec: WorkerSpec) -> None:
        limit_threads(spec.threads)
        logs.configure(spec.log_level, spec.log_format, "worker")
        self._runtime: WorkerRuntime | None = None
        self._error: str | None = None
        try:
            self._runtime = WorkerRuntime(spec)
        except Exception as exc:  # reported by ready(): the dispatcher stops using this node
            self._error = f"{type(exc).__name__}: {exc}"

    def ready(self) -> tuple[str | None, int]:
        """Why the plugins did not load (None when they did), and this process's id."""
        return self._error, os.getpid()

    def run(self, assignment: Assignment) -> Outcome:
        if self._runtime is None:  # pragma: no cover - never sent a job
            raise RuntimeError(self._error)
        return self._runtime.run(assignment)
