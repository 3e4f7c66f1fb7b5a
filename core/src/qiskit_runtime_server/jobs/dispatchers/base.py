"""The contract between the scheduler and what runs its jobs.

A dispatcher owns workers: each runs one job at a time for one executor, and has the plugins
loaded already. The scheduler's thread calls every method; the dispatcher reports what happened
to its workers as events from :meth:`Dispatcher.wait`, and the scheduler records each in the
store before it acts on it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from ..models import JobRecord
from ..worker import Assignment, Outcome


@dataclass(eq=False)
class Worker:
    """One worker as the scheduler sees it: the job it runs and since when."""

    executor: str
    #: Where it runs, for the job's log: "worker process 1234" or "Ray actor ... on node ...".
    label: str
    ready: bool = False
    job: JobRecord | None = None
    started: float = 0.0
    deadline: float | None = None
    #: Cores offered to the job it runs (its share and the idle ones it was offered).
    cores: int = 0


@dataclass(frozen=True)
class Ready:
    """``worker`` loaded its plugins and takes jobs."""

    worker: Worker


@dataclass(frozen=True)
class Broken:
    """``executor``'s workers cannot start anywhere this dispatcher reaches (``reason``)."""

    executor: str
    reason: str


@dataclass(frozen=True)
class Finished:
    """``worker`` ran its job to an outcome (completed or failed)."""

    worker: Worker
    outcome: Outcome


@dataclass(frozen=True)
class Ended:
    """``worker`` is gone. ``lost``: its machine went away (a Ray node), not the job's fault,
    so the job may run again elsewhere; otherwise the job fails with ``reason``."""

    worker: Worker
    reason: str
    lost: bool = False


Event = Ready | Broken | Finished | Ended


class Dispatcher(abc.ABC):
    """Workers per executor; see the module's docstring."""

    #: For the job logs and the ``schedulers`` table: ``local`` or ``ray``.
    name: str
    #: Whether :meth:`executors` after :meth:`start` is all it will ever run (worker
    #: processes here), so that jobs of other executors may fail at start; not on a cluster,
    #: whose nodes may still be joining.
    complete_at_start: bool = True

    @abc.abstractmethod
    def start(self, wake: int) -> None:
        """Start the first workers. Writing a byte to the file descriptor ``wake`` wakes the
        scheduler's thread (from any thread): do it whenever an event is ready."""

    @abc.abstractmethod
    def executors(self) -> list[str]:
        """The executors it can run jobs for now (on Ray: on some live node)."""

    @abc.abstractmethod
    def max_qubits(self) -> dict[str, int]:
        """The widest circuit each of :meth:`executors` simulates where its workers run."""

    @abc.abstractmethod
    def wait(self, wake: int, timeout: float) -> list[Event]:
        """Wait at most ``timeout`` seconds for events or a byte on ``wake`` (drain it)."""

    @abc.abstractmethod
    def workers(self) -> list[Worker]:
        """Every worker, starting, idle or busy."""

    @abc.abstractmethod
    def idle(self, executor: str) -> Worker | None:
        """A ready worker of ``executor`` without a job."""

    @abc.abstractmethod
    def can_grow(self, executor: str) -> bool:
        """Whether more workers of ``executor`` may start (the pool is not full)."""

    @abc.abstractmethod
    def grow(self, executor: str) -> None:
        """Start workers of ``executor`` until its pool is full; they report :class:`Ready`."""

    @abc.abstractmethod
    def broken(self, executor: str) -> str | None:
        """Why ``executor`` cannot run here, once its workers fail to start; else None."""

    @abc.abstractmethod
    def send(self, worker: Worker, assignment: Assignment) -> bool:
        """Give ``worker`` a job (``worker.job`` is set); False if it died before it got it."""

    @abc.abstractmethod
    def stop(self, worker: Worker) -> None:
        """Stop ``worker`` at once, whatever it runs (a cancel, a deadline); it reports no
        event. A replacement starts when the pool needs one."""

    @abc.abstractmethod
    def threads(self, worker: Worker, busy: list[Worker], more_queued: bool) -> tuple[int, int]:
        """CPU threads for ``worker``'s next job: its own share, and idle cores it may use
        (``busy``: the workers running jobs; ``more_queued``: jobs of its executor wait)."""

    def alive(self) -> int:
        """Workers ready to take jobs (busy ones included), for ``/readyz``."""
        return sum(w.ready for w in self.workers())

    @abc.abstractmethod
    def close(self) -> None:
        """Stop every worker."""
