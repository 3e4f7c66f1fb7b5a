"""Prometheus metrics: what the server does, for ``GET /metrics``.

The exposition is prometheus-client's, from a registry of this server's own (several servers may
live in one process: the tests start many). The counts come from where things happen:

- jobs are counted by the job store's listeners (:class:`~.jobs.store.JobListener`): every path
  that submits, starts or ends a job goes through a store. The API's store tells
  :class:`ServerMetrics` directly (submissions, cancellations); the scheduler process's store
  tells a :class:`ScheduledEvents` sender, whose events the API applies (starts, ends);
- worker processes are counted by the scheduler, which sees them come and go;
- HTTP requests by :class:`HttpMetrics`, an ASGI middleware;
- database errors by SQLAlchemy's ``handle_error`` event, in both processes;
- queued and running jobs and sessions by state are read from the store at each scrape (they are
  state, not events: the store is the truth, shared with other servers);
- device memory from what executor plugins report (:func:`device_memory`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .jobs.models import JobRecord, JobStatus
from .jobs.store import JobStore

if TYPE_CHECKING:
    from .plugins import PluginHost

logger = logging.getLogger(__name__)

#: Seconds, from a poll-sized wait to an hour's simulation.
DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
#: The route label of requests that matched no route (their paths would make a label per probe).
UNMATCHED_ROUTE = "unmatched"

#: What the scheduler process sends the API: ``(kind, *values)``, see :meth:`ServerMetrics.apply`.
SchedulerEvent = tuple[Any, ...]


#: Methods counted under their own name; any other a client sends is "other", so that the
#: label's values stay bounded whatever the HTTP parser accepts.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ServerMetrics:
    """The metrics of one server, in a registry of its own."""

    def __init__(
        self,
        store: JobStore,
        plugins: PluginHost,
        workers_alive: Callable[[], Mapping[str, int]],
    ) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.jobs_submitted = Counter(
            "qrs_jobs_submitted",
            "Jobs accepted by this server.",
            ["program", "executor"],
            registry=registry,
        )
        self.jobs_finished = Counter(
            "qrs_jobs_finished",
            "Jobs that reached a final status (Completed, Failed, Cancelled) on this server.",
            ["program", "executor", "status"],
            registry=registry,
        )
        self.queue_wait = Histogram(
            "qrs_job_queue_wait_seconds",
            "From a job's submission to the start of its first run.",
            ["executor"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.run_time = Histogram(
            "qrs_job_run_seconds",
            "Time a finished job ran on its worker (its usage).",
            ["program", "executor", "status"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.worker_restarts = Counter(
            "qrs_worker_restarts",
            "Worker processes (Ray: actors) that ended while the server ran: crashed, killed "
            "for a cancel or a deadline, or failed to start. A replacement starts when jobs "
            "need it.",
            ["executor"],
            registry=registry,
        )
        self.http_requests = Counter(
            "qrs_http_requests",
            "HTTP requests answered, by route template.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "qrs_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.database_errors = Counter(
            "qrs_database_errors",
            "Errors the database driver raised, by process and error class.",
            ["process", "error"],
            registry=registry,
        )
        Gauge(
            "qrs_server_start_time_seconds",
            "When this server started (Unix time).",
            registry=registry,
        ).set(time.time())
        registry.register(_StateCollector(store, plugins, workers_alive))

    # -- the API process's own store (JobListener) ----------------------------------------------

    def job_submitted(self, job: JobRecord) -> None:
        self.jobs_submitted.labels(job.program_id, job.executor).inc()

    def job_started(self, job: JobRecord) -> None:
        if job.attempts == 1 and job.running_at is not None:
            wait = (job.running_at - job.created).total_seconds()
            self.queue_wait.labels(job.executor).observe(max(0.0, wait))

    def job_finished(self, job: JobRecord) -> None:
        status = job.status.value
        self.jobs_finished.labels(job.program_id, job.executor, status).inc()
        if job.running_at is not None:
            self.run_time.labels(job.program_id, job.executor, status).observe(job.usage_seconds)

    # -- the scheduler process --------------------------------------------------------------------

    def apply(self, event: SchedulerEvent) -> None:
        """Count an event the scheduler process sent (see :class:`ScheduledEvents`)."""
        kind = event[0]
        if kind == "started":
            _, executor, wait = event
            self.queue_wait.labels(executor).observe(wait)
        elif kind == "finished":
            _, program, executor, status, seconds = event
            self.jobs_finished.labels(program, executor, status).inc()
            if seconds is not None:
                self.run_time.labels(program, executor, status).observe(seconds)
        elif kind == "worker_ended":
            _, executor, count = event
            self.worker_restarts.labels(executor).inc(count)
        elif kind == "database_error":
            self.database_errors.labels("scheduler", event[1]).inc()
        else:  # pragma: no cover - both ends are this module
            logger.error("unknown scheduler event %r", kind)


class ScheduledEvents:
    """The scheduler process's job listener: it sends what its store did to the API's
    :class:`ServerMetrics` as :data:`SchedulerEvent` tuples (``send`` must be thread-safe)."""

    def __init__(self, send: Callable[[SchedulerEvent], None]) -> None:
        self.send = send

    def job_submitted(self, job: JobRecord) -> None:  # the scheduler submits nothing
        pass

    def job_started(self, job: JobRecord) -> None:
        if job.attempts == 1 and job.running_at is not None:
            wait = max(0.0, (job.running_at - job.created).total_seconds())
            self.send(("started", job.executor, wait))

    def job_finished(self, job: JobRecord) -> None:
        seconds = job.usage_seconds if job.running_at is not None else None
        self.send(("finished", job.program_id, job.executor, job.status.value, seconds))


def count_database_errors(engine: Engine, count: Callable[[str], None]) -> None:
    """Call ``count`` with the error's class name whenever the database driver raises."""

    def on_error(context: Any) -> None:
        count(type(context.original_exception).__name__)

    sa.event.listen(engine, "handle_error", on_error)


def device_memory(plugins: PluginHost) -> dict[str, dict[str, int]]:
    """Device memory by executor, as the executors' plugins report it: ``{executor: {"used":
    bytes, "free": bytes, "total": bytes}}`` (any of the three), from the ``device_memory``
    entry of an executor's summary (``/-/plugins``). Executors that report none are left out."""
    memory: dict[str, dict[str, int]] = {}
    for executor in plugins.summary()["executors"]:
        reported = executor.get("device_memory")
        if not isinstance(reported, Mapping):
            continue
        values = {
            kind: int(reported[key])
            for kind in ("used", "free", "total")
            for key in (kind, f"{kind}_bytes")
            if isinstance(reported.get(key), int | float)
        }
        if values:
            memory[str(executor["name"])] = values
    return memory


class _StateCollector(Collector):
    """Gauges read at each scrape: jobs queued and running, sessions, workers, device memory."""

    def __init__(
        self,
        store: JobStore,
        plugins: PluginHost,
        workers_alive: Callable[[], Mapping[str, int]],
    ) -> None:
        self.store = store
        self.plugins = plugins
        self.workers_alive = workers_alive

    def describe(self) -> Iterable[Metric]:
        return []  # no names to check at registration: the families are read per scrape

    def collect(self) -> Iterable[Metric]:
        executors = sorted(self.plugins.executors)
        try:
            activity = self.store.activity()
        except Exception:  # the database is down: say nothing rather than zeros
            logger.exception("reading the jobs and sessions for /metrics failed")
        else:
            for status, name, text in (
                (JobStatus.QUEUED, "qrs_jobs_queued", "Jobs waiting for a worker."),
                (JobStatus.RUNNING, "qrs_jobs_running", "Jobs running on a worker."),
            ):
                family = GaugeMetricFamily(name, f"{text} (all instances)", labels=["executor"])
                seen = {executor for executor, _ in activity.jobs}
                for executor in sorted(set(executors) | seen):
                    family.add_metric([executor], activity.jobs.get((executor, status.value), 0))
                yield family
            sessions = GaugeMetricFamily(
                "qrs_sessions", "Sessions and batches by state (all instances).", labels=["state"]
            )
            for state in sorted({"open", "active", "inactive", "closed"} | set(activity.sessions)):
                sessions.add_metric([state], activity.sessions.get(state, 0))
            yield sessions
        alive = self.workers_alive()
        workers = GaugeMetricFamily(
            "qrs_workers_alive",
            "Worker processes (Ray: actors) ready to run jobs, busy or idle.",
            labels=["executor"],
        )
        for executor in sorted(set(executors) | set(alive)):
            workers.add_metric([executor], alive.get(executor, 0))
        yield workers
        memory = GaugeMetricFamily(
            "qrs_device_memory_bytes",
            "Device (GPU) memory of an executor, as its plugin reports it.",
            labels=["executor", "kind"],
        )
        for executor, values in sorted(device_memory(self.plugins).items()):
            for kind, value in sorted(values.items()):
                memory.add_metric([executor, kind], value)
        yield memory


class HttpMetrics:
    """ASGI middleware: counts each HTTP request and its duration by method, route template
    (``/api/v1/jobs/{job_id}``, never the path itself) and status.

    A request is counted as its last byte is handed to the server, before the client can have
    it: a scrape that follows a response always counts it."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started
        counted = False

        def count() -> None:
            nonlocal counted
            counted = True
            template = route_template(scope)
            method = scope["method"] if scope["method"] in HTTP_METHODS else "other"
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_duration.labels(method, template, str(status)).observe(
                time.perf_counter() - started
            )

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                count()
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if not counted:  # no complete response: an error, or the client went away
                count()


def route_template(scope: Scope) -> str:
    """The matched route's path template with the prefix it was included under
    (``/api/v1/jobs/{job_id}``), ``<mount point>/{path}`` for a mounted app, or
    :data:`UNMATCHED_ROUTE`. FastAPI leaves the route as
    declared in ``scope["route"]`` (``/jobs/{job_id}``): the prefix is the leading segments of
    the request's path that the template does not cover."""
    route = scope.get("route")
    path_template = getattr(route, "path", None)
    if not isinstance(path_template, str) or not path_template:
        # A mounted app (the dashboard's files) leaves no route, and its mount point as the
        # root path: one label for all its files.
        mounted = scope.get("root_path")
        return f"{mounted}/{{path}}" if mounted else UNMATCHED_ROUTE
    segments = scope["path"].rstrip("/").split("/")
    covered = len(path_template.rstrip("/").split("/")) - 1  # both start with an empty segment
    if len(segments) - 1 < covered:  # a {name:path} parameter: its template is long enough
        return path_template
    return "/".join(segments[: len(segments) - covered]) + path_template
