"""What every program makes of a job: a record to store, and the work to run.

The server prepares a job when it is submitted (checking everything knowable then) and the
worker prepares it again from the stored params to run it. Each program (``sampler`` and
``estimator`` in ``jobs/submission.py``, ``executor`` and ``noise-learner`` here) returns the
same :class:`PreparedTask`, so the job path, the dry runs and the worker never ask which
program a job is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qiskit import QuantumCircuit

from ..tasks import ExecutionTask

if TYPE_CHECKING:
    from ..plugins import PluginHost


@dataclass(frozen=True)
class JobRun:
    """What a worker gives a program to run one job."""

    plugins: PluginHost
    #: Appends one line to the job's log.
    log: Callable[[str], None]
    #: CPU threads the job owns, and idle ones it may borrow (see ExecutionTask).
    threads: int = 0
    idle_threads: int = 0

    def task(self, task: ExecutionTask) -> ExecutionTask:
        """``task`` with this run's log and threads."""
        return dataclasses.replace(
            task, log=self.log, threads=self.threads, idle_threads=self.idle_threads
        )


@dataclass
class PreparedTask:
    """A validated job: what its record and metrics say about it, and how it runs."""

    program_id: str
    executor: str
    backend_name: str
    ignored_options: list[str]
    num_circuits: int
    #: What the executions limit counts (shots x parameter sets, or the program's equivalent).
    executions: int
    #: The circuits, in order (PUBs, QuantumProgram items, noise-learning layers).
    circuits: list[QuantumCircuit]
    #: Runs the job (in a worker) and returns the result text to store.
    run: Callable[[JobRun], str]
    #: For a dry run: a result of the same form with random data, as text.
    mock: Callable[[], str]
    #: The executor task of a sampler or estimator job.
    task: ExecutionTask | None = None
