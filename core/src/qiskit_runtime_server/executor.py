"""How an executor describes itself to the server.

An executor is a simulator that a plugin offers. The server never imports simulator code: it
learns everything it needs (which programs run, how many qubits fit, whether device noise is
simulated, whether the executor can run at all on this host) from an :class:`ExecutorInfo`.
Fields added later always get a default that means "not supported", so plugins written against
an older core stay valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

EXECUTOR_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")

Program = Literal["sampler", "estimator"]
Device = Literal["CPU", "GPU"]

#: Option paths every executor is expected to honour, because the server resolves them
#: itself before the executor is called (shots and precision end up on the PUBs).
CORE_RESOLVED_OPTIONS: frozenset[str] = frozenset({"default_shots", "default_precision"})


@dataclass(frozen=True)
class Availability:
    """Whether an executor can run jobs on this host, and if not, why.

    The reason is written for an operator ("no CUDA device visible", "install the cu12 extra"):
    it is shown by ``qiskit-runtime-server plugins`` and as the status message of every virtual
    backend of the executor.
    """

    available: bool
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.available and not self.reason:
            raise ValueError("an unavailable executor must say why (Availability.reason)")

    @classmethod
    def ok(cls) -> Availability:
        return cls(True, None)

    @classmethod
    def unavailable(cls, reason: str) -> Availability:
        return cls(False, reason)


@dataclass(frozen=True)
class ExecutorInfo:
    """The self-description an executor plugin returns from ``qiskit_runtime_executors``.

    ``honoured_options`` lists the dotted option paths (``simulator.seed_simulator``) the
    executor acts on. Any other option a client sends is accepted, and every result of the job
    states that it was not applied, so that nothing is silently ignored.
    """

    name: str
    version: str
    device: Device
    programs: frozenset[Program]
    simulates_noise: bool
    max_qubits: int
    availability: Availability = field(default_factory=Availability.ok)
    honoured_options: frozenset[str] = frozenset()
    description: str = ""
    #: Worker processes the local dispatcher runs for the executor unless the operator sets
    #: ``QRS_EXECUTOR_WORKERS``; None: one per usable CPU for a CPU executor, one for a GPU
    #: executor. A GPU executor that binds each worker to a device says how many it has.
    workers: int | None = None
    #: Served only when the operator names it (``QRS_EXECUTORS``): for examples and other
    #: executors a newcomer's catalogue should not show (it stays installed and loadable).
    opt_in: bool = False

    def __post_init__(self) -> None:
        if not EXECUTOR_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"executor name {self.name!r} must match {EXECUTOR_NAME_PATTERN.pattern} "
                "(it becomes the part after '@' in backend names)"
            )
        if self.device not in ("CPU", "GPU"):
            raise ValueError(f"executor {self.name!r}: device must be 'CPU' or 'GPU'")
        unknown = set(self.programs) - {"sampler", "estimator"}
        if unknown or not self.programs:
            raise ValueError(
                f"executor {self.name!r}: programs must be a non-empty subset of "
                f"{{'sampler', 'estimator'}}, got {sorted(self.programs)}"
            )
        if self.max_qubits < 1:
            raise ValueError(f"executor {self.name!r}: max_qubits must be positive")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"executor {self.name!r}: workers must be positive or None")
        if not isinstance(self.availability, Availability):
            raise TypeError(f"executor {self.name!r}: availability must be an Availability")

    def honours(self, option_path: str) -> bool:
        """Whether the executor acts on ``option_path`` (the core resolves some itself)."""
        return option_path in self.honoured_options or option_path in CORE_RESOLVED_OPTIONS
