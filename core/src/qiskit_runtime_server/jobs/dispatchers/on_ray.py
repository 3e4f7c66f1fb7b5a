"""The Ray dispatcher: executors as long-lived actors on the nodes of a Ray cluster.

Ray is imported only here, in the scheduler's process (``QRS_DISPATCHER=ray``). Each live node
is probed once for the executors installed and available there (``ray_actor.probe_node``);
each such executor gets a pool of :class:`~.ray_actor.ExecutorActor` on that node, pinned to it
and placed by Ray's resources:

- a CPU executor's pool has as many actors as the node has cores (``QRS_WORKERS`` or
  ``QRS_EXECUTOR_WORKERS`` set another size), as with the local dispatcher, and the node's
  CPUs are shared among all its CPU actors (``1/k`` of a CPU each, for ``k`` CPU executors);
- any other device's actor takes one GPU (``num_gpus=1``), and a pool as many actors as the
  node has GPUs;
- a node that declares the custom resource ``qrs:<executor>`` (``ray start --resources
  '{"qrs:aer": 4}'``) runs that many actors of it, each holding one unit; once some node
  declares it, the executor runs only on the nodes that do: the way to pin an executor to
  some nodes, or to size its pool.

Results come back through the futures' callbacks, which queue an event and wake the
scheduler's thread; it never blocks on Ray. A cancel or a deadline kills the actor
(``ray.kill``: Ray cannot stop running work otherwise) and starts its replacement at once. An
actor that dies fails its job; one whose node is lost gives its job back to the queue, to run
on another node.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import select
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ...plugins import PluginHost
from ...settings import Settings
from ..worker import Assignment, Outcome, WorkerSpec
from .base import Dispatcher, Ended, Event, Finished, Ready, Worker
from .local import worker_spec
from .ray_actor import ExecutorActor, NodeExecutor, probe_node

logger = logging.getLogger(__name__)

#: How often the cluster's nodes are listed, to probe new ones and drop lost ones.
DISCOVERY_SECONDS = 2.0
#: Actors of a pool that fail to start before the pool is given up on that node.
STARTUP_FAILURES = 3
#: The namespace of this server's actors on a shared cluster.
NAMESPACE = "qiskit-runtime-server"


@dataclass(eq=False)
class _Actor:
    worker: Worker
    handle: Any
    pool: _Pool
    stopped: bool = False


@dataclass(eq=False)
class _Pool:
    executor: str
    node_id: str
    node_ip: str
    size: int
    options: dict[str, Any]
    threads: int
    max_qubits: int
    actors: list[_Actor] = field(default_factory=list)
    broken: str | None = None
    startup_failures: int = 0


@dataclass(frozen=True)
class _Probed:
    node_id: str
    executors: list[NodeExecutor] | None
    error: str | None = None


@dataclass(frozen=True)
class _Started:
    actor: _Actor
    error: str | None
    pid: int


@dataclass(frozen=True)
class _Returned:
    actor: _Actor
    job_id: str
    outcome: Outcome | None
    error: BaseException | None


class RayDispatcher(Dispatcher):
    """Executor actors on a Ray cluster; see the module's docstring."""

    def __init__(self, plugins: PluginHost, settings: Settings) -> None:  # noqa: ARG002
        # The nodes' own plugins count, not this host's: each node is probed.
        self.settings = settings
        self.name = "ray"
        self.complete_at_start = False
        self._spec = worker_spec("", settings, threads=1)
        self._messages: queue.SimpleQueue[_Probed | _Started | _Returned] = queue.SimpleQueue()
        self._wake = -1
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._probing: set[str] = set()
        #: Nodes probed (their pools made), with their resources as Ray listed them.
        self._nodes: dict[str, dict[str, Any]] = {}
        #: Nodes being probed, with their resources as Ray listed them.
        self._nodes_pending: dict[str, dict[str, Any]] = {}
        #: Busy actors of lost nodes, until their job's future reports the loss.
        self._orphans: list[_Actor] = []
        self._last_discovery = 0.0
        self._pinned: set[str] = set()
        self._ray: Any = None

    # -- start and discovery -------------------------------------------------------------------

    def start(self, wake: int) -> None:
        # ``uv run`` makes Ray ship the project to its workers as a runtime environment, and
        # ray.init then hangs: the nodes have the packages installed already.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        import ray

        self._ray = ray
        self._wake = wake
        address = self.settings.ray_address
        ray.init(
            # "local": a Ray of its own even where another runs (ray.init(None) would join
            # the one recorded in /tmp/ray, or $RAY_ADDRESS).
            address=address or "local",
            namespace=NAMESPACE,
            log_to_driver=False,
            include_dashboard=False,
            configure_logging=False,
        )
        gcs = ray.get_runtime_context().gcs_address
        started = "" if address else " (a Ray started by this server)"
        logger.info("Ray dispatcher connected to the cluster at %s%s", gcs, started)
        self._discover(wait_for_probes=True)

    def _discover(self, *, wait_for_probes: bool = False) -> None:
        """Probe new nodes, forget lost ones."""
        self._last_discovery = time.monotonic()
        alive = {n["NodeID"]: n for n in self._ray.nodes() if n.get("Alive")}
        # Executors some node declares a ``qrs:<executor>`` resource for run only there.
        self._pinned = {
            name.removeprefix("qrs:")
            for node in alive.values()
            for name in node.get("Resources", {})
            if name.startswith("qrs:")
        }
        for node_id in list(self._nodes):
            if node_id not in alive:
                self._lose_node(node_id)
        new = [n for n in alive if n not in self._nodes and n not in self._probing]
        refs = [self._probe(alive[node_id]) for node_id in new]
        if wait_for_probes and refs:
            # At start: the first catalogue and recovery need the cluster's executors.
            self._ray.wait(refs, num_returns=len(refs), timeout=120)
            deadline = time.monotonic() + 5  # the callbacks post just after the results
            while self._probing and time.monotonic() < deadline:
                self._drain()
                time.sleep(0.01)
            self._drain()

    def _probe(self, node: dict[str, Any]) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node_id = node["NodeID"]
        self._probing.add(node_id)
        # max_calls: the process exits after it, with every plugin it loaded.
        remote = self._ray.remote(num_cpus=0, max_calls=1)(probe_node).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        )
        ref = remote.remote(self._spec)
        self._nodes_pending[node_id] = node

        def probed(future: Future[Any]) -> None:
            try:
                self._post(_Probed(node_id, future.result()))
            except BaseException as exc:
                self._post(_Probed(node_id, None, f"{type(exc).__name__}: {exc}"))

        ref.future().add_done_callback(probed)
        return ref

    def _probed(self, message: _Probed) -> None:
        self._probing.discard(message.node_id)
        node = self._nodes_pending.pop(message.node_id, None)
        if node is None:
            return
        if message.executors is None:
            logger.warning("Ray node %s could not be probed: %s", message.node_id, message.error)
            return  # probed again at the next discovery
        self._nodes[message.node_id] = node
        resources: dict[str, float] = node.get("Resources", {})
        pools = [
            pool for executor in message.executors if executor.available
            if (pool := self._pool_for(node, executor, resources)) is not None
        ]  # fmt: skip
        # The node's CPUs shared among its CPU executors (1/k each for k of them), and among
        # their actors when a pool has more actors than the node has cores: every actor fits.
        cpu_pools = [p for p in pools if "num_gpus" not in p.options]
        cpu_actors = sum(p.size for p in cpu_pools)
        fits = resources.get("CPU", 0) / max(1, cpu_actors)
        share = math.floor(10_000 * min(1.0 / max(1, len(cpu_pools)), fits))
        for pool in pools:
            if "num_gpus" not in pool.options:
                pool.options["num_cpus"] = share / 10_000
            self._pools[(pool.executor, message.node_id)] = pool
            first = pool.size if self.settings.prestart_workers else 1
            for _ in range(first):
                self._start_actor(pool)
        logger.info(
            "Ray node %s (%s): %s",
            node.get("NodeManagerAddress"),
            message.node_id[:12],
            ", ".join(
                f"{p.executor} x{p.size}" for p in self._pools.values()
                if p.node_id == message.node_id
            ) or "no executor available",
        )  # fmt: skip

    def _pool_for(
        self, node: dict[str, Any], executor: NodeExecutor, resources: dict[str, float]
    ) -> _Pool | None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        name = executor.name
        custom = f"qrs:{name}"
        node_cpus = int(resources.get("CPU", 0))
        options: dict[str, Any] = {
            "max_restarts": 0,
            "max_concurrency": 1,
            # No per-call events to Ray's state API: they cost the cluster CPU on every job,
            # and each job's own log says where it ran.
            "enable_task_events": False,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
        }
        if executor.device == "CPU":
            size = self.settings.executor_workers.get(name, self.settings.workers or node_cpus)
            threads = self.settings.job_threads or 1
        else:
            size = int(resources.get("GPU", 0))
            options["num_cpus"] = 0
            options["num_gpus"] = 1
            threads = node_cpus or 1
        if custom in resources:
            size = int(resources[custom])
            options["resources"] = {custom: 1}
        elif name in self._pinned:
            return None  # other nodes declare it: it runs there only
        if size < 1:
            return None
        address = node.get("NodeManagerAddress", "?")
        return _Pool(name, node["NodeID"], address, size, options, threads, executor.max_qubits)

    def _lose_node(self, node_id: str) -> None:
        """A node left the cluster: its idle actors are forgotten; busy ones report their
        failure through their job's future, as lost."""
        self._nodes.pop(node_id, None)
        for key, pool in list(self._pools.items()):
            if pool.node_id == node_id:
                del self._pools[key]
                self._orphans.extend(a for a in pool.actors if a.worker.job is not None)
                for actor in pool.actors:
                    if actor.worker.job is None:
                        actor.stopped = True
                        self._kill(actor)  # in case the node comes back: nothing holds it
        logger.warning("Ray node %s left the cluster", node_id[:12])

    # -- actors --------------------------------------------------------------------------------

    def _start_actor(self, pool: _Pool) -> None:
        spec = WorkerSpec(
            executor=pool.executor,
            load_entry_points=self._spec.load_entry_points,
            disabled_plugins=self._spec.disabled_plugins,
            plugin_paths=self._spec.plugin_paths,
            default_shots=self._spec.default_shots,
            threads=pool.threads,
            log_level=self._spec.log_level,
            log_format=self._spec.log_format,
        )
        handle = self._ray.remote(ExecutorActor).options(**pool.options).remote(spec)
        actor_id = handle._actor_id.hex()[:12]
        label = f"Ray actor {actor_id} on node {pool.node_ip} ({pool.node_id[:12]})"
        actor = _Actor(Worker(executor=pool.executor, label=label), handle, pool)
        pool.actors.append(actor)

        def started(future: Future[Any]) -> None:
            try:
                error, pid = future.result()
            except BaseException as exc:
                error, pid = f"{type(exc).__name__}: {exc}", 0
            self._post(_Started(actor, error, pid))

        handle.ready.remote().future().add_done_callback(started)

    def _started(self, message: _Started) -> list[Event]:
        actor, pool = message.actor, message.actor.pool
        if actor.stopped or actor not in pool.actors:
            return []
        if message.error is None:
            actor.worker.ready = True
            actor.worker.label += f", process {message.pid}"
            pool.startup_failures = 0
            return [Ready(actor.worker)]
        pool.actors.remove(actor)
        self._kill(actor)  # alive, with its resources held, though its plugins failed
        pool.startup_failures += 1
        logger.error(
            "an actor of executor %r on Ray node %s failed to start: %s",
            pool.executor, pool.node_ip, message.error,
        )  # fmt: skip
        if pool.startup_failures >= STARTUP_FAILURES:
            pool.broken = message.error
        return []

    def _returned(self, message: _Returned) -> list[Event]:
        actor = message.actor
        if actor.stopped:
            return []
        job = actor.worker.job
        if job is None or job.id != message.job_id:  # pragma: no cover - protocol error
            return []
        if message.outcome is not None:
            if actor in self._orphans:  # its node was lost after all: nowhere to run more
                self._orphans.remove(actor)
                self._kill(actor)
            return [Finished(actor.worker, message.outcome)]
        # The actor is gone: its process died, or its node did.
        with contextlib.suppress(ValueError):
            actor.pool.actors.remove(actor)
        if actor in self._orphans:
            self._orphans.remove(actor)
            reason = f"the Ray node {actor.pool.node_ip} running the job left the cluster"
            return [Ended(actor.worker, reason, lost=True)]
        if self._node_lost(actor.pool.node_id, message.error):
            with contextlib.suppress(Exception):  # unreachable, perhaps still running: end it
                self._ray.kill(actor.handle, no_restart=True)
            self._lose_node(actor.pool.node_id)
            reason = f"the Ray node {actor.pool.node_ip} running the job left the cluster"
            return [Ended(actor.worker, reason, lost=True)]
        self._kill(actor)  # dead already, or alive after an error Ray raised for the call
        error = message.error
        detail = str(error).strip().splitlines()[0] if error is not None else "no reason given"
        reason = f"the Ray actor running the job died ({type(error).__name__}: {detail})"
        return [Ended(actor.worker, reason)]

    def _node_lost(self, node_id: str, error: BaseException | None) -> bool:
        """Whether an actor died with its node (then its job is not at fault): Ray says so
        in the error, or the node is no longer alive. An actor Ray cannot reach
        (``ActorUnavailableError``: its node crashed, or the network failed) counts as lost:
        Ray declares such a node dead only after its health checks fail, seconds later."""
        from ray.exceptions import ActorUnavailableError

        if isinstance(error, ActorUnavailableError):
            return True
        text = str(error).lower()
        if getattr(error, "preempted", False) or "node has died" in text or "node died" in text:
            return True
        return not any(n["NodeID"] == node_id and n.get("Alive") for n in self._ray.nodes())

    def _post(self, message: _Probed | _Started | _Returned) -> None:
        """From Ray's callback threads: queue ``message`` and wake the scheduler."""
        self._messages.put(message)
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake, b"r")

    def _drain(self) -> list[Event]:
        events: list[Event] = []
        while True:
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                return events
            try:
                if isinstance(message, _Probed):
                    self._probed(message)
                elif isinstance(message, _Started):
                    events.extend(self._started(message))
                else:
                    events.extend(self._returned(message))
            except Exception:  # Ray's control service unreachable, say: the others still count
                logger.exception("handling a Ray message failed")
                if isinstance(message, _Returned) and message.actor.worker.job is not None:
                    # Reported as lost: its job runs again (attempts permitting).
                    events.append(
                        Ended(
                            message.actor.worker,
                            "the Ray dispatcher lost track of the job",
                            lost=True,
                        )
                    )

    # -- the Dispatcher interface --------------------------------------------------------------

    def executors(self) -> list[str]:
        return sorted({p.executor for p in self._pools.values() if p.broken is None})

    def max_qubits(self) -> dict[str, int]:
        """The narrowest node's width per executor: a job goes to any node that runs its
        executor, so it must fit all of them."""
        narrowest: dict[str, int] = {}
        for pool in self._pools.values():
            if pool.broken is None:
                known = narrowest.get(pool.executor, pool.max_qubits)
                narrowest[pool.executor] = min(known, pool.max_qubits)
        return narrowest

    def wait(self, wake: int, timeout: float) -> list[Event]:
        if os.get_blocking(wake):
            os.set_blocking(wake, False)  # drained below whether or not a byte is there
        if self._messages.empty():
            select.select([wake], [], [], timeout)
        with contextlib.suppress(BlockingIOError):
            os.read(wake, 4096)
        if time.monotonic() - self._last_discovery >= DISCOVERY_SECONDS:
            self._discover()
        return self._drain()

    def _actors(self) -> list[_Actor]:
        return [*(a for pool in self._pools.values() for a in pool.actors), *self._orphans]

    def workers(self) -> list[Worker]:
        return [a.worker for a in self._actors()]

    def idle(self, executor: str) -> Worker | None:
        for pool in self._pools.values():
            if pool.executor == executor and pool.broken is None:
                for actor in pool.actors:
                    if actor.worker.ready and actor.worker.job is None:
                        return actor.worker
        return None

    def broken(self, executor: str) -> str | None:
        """Why no node runs ``executor`` though one offered it: its actors failed to start."""
        pools = [p for p in self._pools.values() if p.executor == executor]
        if pools and all(p.broken is not None for p in pools):
            return pools[-1].broken
        return None

    def _growable(self, executor: str) -> list[_Pool]:
        return [
            p for p in self._pools.values()
            if p.executor == executor and p.broken is None and len(p.actors) < p.size
        ]  # fmt: skip

    def can_grow(self, executor: str) -> bool:
        return bool(self._growable(executor))

    def grow(self, executor: str) -> None:
        for pool in self._growable(executor):
            while len(pool.actors) < pool.size:
                self._start_actor(pool)

    def send(self, worker: Worker, assignment: Assignment) -> bool:
        actor = self._actor_of(worker)
        if actor is None:
            return False
        job_id = assignment.job_id
        assignment = Assignment(
            assignment.job_id, assignment.program_id, assignment.backend, assignment.params,
            threads=actor.pool.threads,
        )  # fmt: skip

        def returned(future: Future[Any]) -> None:
            try:
                self._post(_Returned(actor, job_id, future.result(), None))
            except BaseException as exc:
                self._post(_Returned(actor, job_id, None, exc))

        actor.handle.run.remote(assignment).future().add_done_callback(returned)
        return True

    def stop(self, worker: Worker) -> None:
        actor = self._actor_of(worker)
        if actor is None:
            return
        actor.stopped = True
        for actors in (actor.pool.actors, self._orphans):
            if actor in actors:
                actors.remove(actor)
        self._kill(actor)
        if self._pools.get((actor.pool.executor, actor.pool.node_id)) is actor.pool:
            self._start_actor(actor.pool)  # the next job finds it warm

    def threads(
        self,
        worker: Worker,
        busy: list[Worker],  # noqa: ARG002
        more_queued: bool,  # noqa: ARG002
    ) -> tuple[int, int]:
        """The actor's own CPUs: Ray shares the node's cores among its actors."""
        actor = self._actor_of(worker)
        return (actor.pool.threads if actor else 1), 0

    def close(self) -> None:
        self._wake = -1  # the scheduler closes its pipe next: late callbacks write nowhere
        if self._ray is None:
            return
        for actor in self._actors():
            actor.stopped = True
            with contextlib.suppress(Exception):
                self._ray.kill(actor.handle, no_restart=True)
        with contextlib.suppress(Exception):
            self._ray.shutdown()

    def _kill(self, actor: _Actor) -> None:
        with contextlib.suppress(Exception):  # gone already, or its node is
            self._ray.kill(actor.handle, no_restart=True)

    def _actor_of(self, worker: Worker) -> _Actor | None:
        return next((a for a in self._actors() if a.worker is worker), None)
