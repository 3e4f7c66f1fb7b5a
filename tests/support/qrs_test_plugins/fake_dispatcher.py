"""A dispatcher in memory, for the scheduler's tests: its workers run nothing, a test says
what became of their jobs."""

from __future__ import annotations

from qiskit_runtime_server.jobs.dispatchers.base import Dispatcher, Event, Worker
from qiskit_runtime_server.jobs.worker import Assignment


class FakeDispatcher(Dispatcher):
    name = "fake"

    def __init__(self, executors: tuple[str, ...] = ("testkit",), size: int = 2) -> None:
        self.pools: dict[str, list[Worker]] = {executor: [] for executor in executors}
        self.size = size
        self.sent: list[tuple[Worker, Assignment]] = []
        self.stopped: list[Worker] = []
        self.grown: list[str] = []
        self.broken_because: dict[str, str] = {}
        #: Events the next wait() returns.
        self.events: list[Event] = []

    def start(self, wake: int) -> None:
        pass

    def executors(self) -> list[str]:
        return list(self.pools)

    def max_qubits(self) -> dict[str, int]:
        return dict.fromkeys(self.pools, 8)

    def wait(self, wake: int, timeout: float) -> list[Event]:
        events, self.events = self.events, []
        return events

    def workers(self) -> list[Worker]:
        return [worker for workers in self.pools.values() for worker in workers]

    def ready_worker(self, executor: str = "testkit") -> Worker:
        worker = Worker(executor, label=f"fake worker {len(self.workers())}", ready=True)
        self.pools[executor].append(worker)
        return worker

    def idle(self, executor: str) -> Worker | None:
        return next((w for w in self.pools.get(executor, []) if w.ready and w.job is None), None)

    def can_grow(self, executor: str) -> bool:
        return executor not in self.broken_because and len(self.pools[executor]) < self.size

    def grow(self, executor: str) -> None:
        while len(self.pools[executor]) < self.size:
            self.pools[executor].append(Worker(executor, label="starting"))
            self.grown.append(executor)

    def broken(self, executor: str) -> str | None:
        return self.broken_because.get(executor)

    def send(self, worker: Worker, assignment: Assignment) -> bool:
        self.sent.append((worker, assignment))
        return True

    def sent_to(self, worker: Worker) -> list[str]:
        return [a.job_id for w, a in self.sent if w is worker]

    def stop(self, worker: Worker) -> None:
        self.pools[worker.executor].remove(worker)
        self.stopped.append(worker)

    def threads(self, worker: Worker, busy: list[Worker], more_queued: bool) -> tuple[int, int]:
        return 1, 0

    def close(self) -> None:
        pass
