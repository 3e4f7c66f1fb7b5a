"""What an executor receives: one typed, validated task per job.

The core has already decoded the HTTP request, coerced every PUB (with shots and precision
resolved from the PUB, then the job options, then IBM's defaults), checked the PUBs against the
backend, and split the options into the ones executors act on. An executor never sees JSON,
HTTP or the job store; it turns a task into a :class:`~qiskit.primitives.PrimitiveResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from .backend_description import BackendDescription

#: IBM's default shots per PUB when neither the PUB nor ``default_shots`` gives any.
DEFAULT_SHOTS = 4096
#: IBM's default estimator precision when neither the PUB nor ``default_precision`` gives any.
DEFAULT_PRECISION = 0.015625


def _never_cancelled() -> bool:
    return False


def _discard(_line: str) -> None:
    return None


@dataclass(frozen=True)
class TaskOptions:
    """Job options that executors act on, already decoded.

    ``raw`` holds every option the client sent (nested as sent) for executors that honour more
    than the fields below; they must list such options in ``ExecutorInfo.honoured_options``.
    """

    seed_simulator: int | None = None
    seed_estimator: int | None = None
    noise_model: Any | None = None
    coupling_map: tuple[tuple[int, int], ...] | None = None
    basis_gates: tuple[str, ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Task:
    job_id: str
    executor: str
    backend_name: str
    backend: BackendDescription
    options: TaskOptions
    #: Appends one line to the job's log (``job.logs()`` on the client).
    log: Callable[[str], None] = _discard
    #: True once the user cancelled the job; long executors should check it between steps.
    cancelled: Callable[[], bool] = _never_cancelled
    #: CPU threads the job owns: its worker's share of the host's cores (0: the executor
    #: decides). The shares of jobs running together never add up to more than the host has.
    threads: int = 0
    #: Further cores no job was using when this one started. Use them only for independent
    #: work (shots, trajectories, experiments): a job starting later takes its core back, and
    #: threads that wait for each other at every step (one state's update) then stall.
    idle_threads: int = 0


@dataclass(frozen=True)
class SamplerTask(_Task):
    """A SamplerV2 job: every PUB has its shots set."""

    program: ClassVar[str] = "sampler"
    pubs: tuple[SamplerPub, ...] = ()


@dataclass(frozen=True)
class EstimatorTask(_Task):
    """An EstimatorV2 job: every PUB has its precision set."""

    program: ClassVar[str] = "estimator"
    pubs: tuple[EstimatorPub, ...] = ()


ExecutionTask = SamplerTask | EstimatorTask
