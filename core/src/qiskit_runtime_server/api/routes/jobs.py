"""``/jobs``: submit, read, list, cancel, delete, tag; results, logs and metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...errors import Conflict, Gone, InvalidRequest, LimitExceeded, NotFound
from ...jobs.models import JobRecord, JobStatus, isoformat, utcnow
from ...jobs.store import JobOutcome, JobQuery
from ...jobs.submission import check_tags, prepare_submission
from ...state import ServerState
from ..bodies import JOB_BODY, TAGS_BODY, read_json_object
from ..deps import InstanceDep, ServerDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["jobs"])

#: The most jobs one page of ``GET /jobs`` holds; a larger ``limit`` gets this many (the page
#: says so in ``limit``), and the client asks for the rest (see ``list_jobs``).
MAX_LIST_LIMIT = 1000
#: Results of up to this many bytes (stored and decompressed) are read on the event loop when
#: reads are local: well under a millisecond of work.
SMALL_RESULT_BYTES = 256 * 1024
#: Offsets beyond this are refused (the database takes 64-bit integers at most).
MAX_OFFSET = 2**31 - 1


def _job(server: ServerDep, job_id: str, instance: str) -> JobRecord:
    job = server.store.get_job(job_id)
    if job is None or job.instance != instance:
        raise NotFound(f"job {job_id} was not found")
    return job


@router.post("/jobs", summary="Run a primitive job", openapi_extra=JOB_BODY)
async def create_job(request: Request, server: ServerDep, instance: InstanceDep) -> dict[str, Any]:
    body = await read_json_object(request)
    caller = request.headers.get("X-Qx-Client-Application")
    return await run_in_threadpool(_create_job, server, instance, body, caller)


def _create_job(
    server: ServerState, instance: str, body: dict[str, Any], caller: str | None
) -> dict[str, Any]:
    session_id = body.get("session_id")
    if session_id is not None:
        backend = server.catalogue.get(str(body.get("backend")))
        server.sessions.check_accepts(
            session_id,
            instance,
            str(body.get("backend")),
            dry_run_of=backend.dry_run_of if backend is not None else None,
        )
    limits = server.access.limits(instance)
    submission = prepare_submission(
        body,
        instance=instance,
        catalogue=server.catalogue,
        default_shots=server.settings.default_shots,
        max_executions=limits.max_executions,
    )
    dry_run = submission.dry_run_of is not None
    # A dry run completes as it is stored: it never waits in the queue.
    if not dry_run and server.store.pending_count(instance) >= limits.max_queued_jobs:
        raise LimitExceeded(
            f"the instance already has {limits.max_queued_jobs} jobs queued or running, its "
            "limit: wait for some to finish (or cancel them) and submit again"
        )
    record = submission.record
    record.caller = caller
    now = isoformat(utcnow())
    logs = [
        f"{now} WARNING option {path!r} is not applied by the {record.executor!r} executor"
        for path in submission.prepared.ignored_options
    ]
    if dry_run:
        logs.append(
            f"{now} INFO dry run: the job was checked as on {submission.dry_run_of} and "
            f"completed without running the {record.executor!r} executor; its results are "
            "random data of the shapes a run gives"
        )
    server.store.add_job(record, submission.params, logs, result=submission.result)
    # The job is committed: from here on nothing may turn into a 5xx, because the client
    # retries a POST that fails with a 5xx and would submit the job twice.
    if not dry_run:
        try:
            server.scheduler.notify(record.executor)
        except Exception:  # pragma: no cover - idle workers look at the queue every second
            logger.exception("could not wake the scheduler for job %s", record.id)
    return {"id": record.id, "backend": record.backend, "session_id": record.session_id}


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an ISO 8601 timestamp, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/jobs", summary="List jobs")
def list_jobs(
    server: ServerDep,
    instance: InstanceDep,
    limit: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    backend: str | None = None,
    pending: bool | None = None,
    program: str | None = None,
    tags: Annotated[list[str] | None, Query()] = None,
    session_id: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    sort: Annotated[str, Query(pattern="^(ASC|DESC|asc|desc)$")] = "DESC",
    exclude_params: bool = True,
    include_mocks: bool = False,
) -> dict[str, Any]:
    """One page of the instance's jobs, and ``count``, how many match in all. Dry runs (jobs
    on mock backends) only with ``include_mocks``, as on IBM, or when ``backend`` names one.

    ``service.jobs()`` sends the caller's ``limit`` as the page size and asks again until it
    holds ``limit`` jobs or ``count - skip``: so a page is cut to ``MAX_LIST_LIMIT`` rather
    than refused (the client asks for the rest), and past the last job ``count`` is the
    offset, the position asked for, because with the total the client would never hold
    ``count - skip`` (a negative number) and would ask for the same empty page forever.
    """
    limit = min(limit, MAX_LIST_LIMIT)
    query = JobQuery(
        instance=instance,
        limit=limit,
        offset=offset,
        backend=backend,
        pending=pending,
        program=program,
        tags=tuple(tags or ()),
        session_id=session_id,
        created_after=_parse_time(created_after, "created_after"),
        created_before=_parse_time(created_before, "created_before"),
        ascending=sort.upper() == "ASC",
        hidden_backends=(
            () if include_mocks or backend else tuple(m.name for m in server.catalogue.mocks())
        ),
    )
    jobs, count = server.store.list_jobs(query)
    return {
        "jobs": [job.to_api(None if exclude_params else _params(server, job)) for job in jobs],
        "count": max(count, offset),
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/jobs/{job_id}",
    summary="Job details",
    response_model=None,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def get_job(
    job_id: str, server: ServerDep, instance: InstanceDep, exclude_params: bool = False
) -> Response | dict[str, Any]:
    """Clients poll this while they wait. Without params it is one read by key, answered with
    a plain JSONResponse (FastAPI's response encoding would cost more than the read), on the
    event loop when the store's reads are local (see ``JobStore.local_reads``)."""
    if exclude_params and server.store.local_reads:
        return _job_details(server, job_id, instance, exclude_params)
    return await run_in_threadpool(_job_details, server, job_id, instance, exclude_params)


def _job_details(
    server: ServerState, job_id: str, instance: str, exclude_params: bool
) -> Response | dict[str, Any]:
    job = _job(server, job_id, instance)
    if exclude_params:
        return JSONResponse(job.to_api())
    return job.to_api(_params(server, job))


def _params(server: ServerState, job: JobRecord) -> str | None:
    """The params to show: none for a private job, whose inputs IBM never returns (and deletes
    once the job ends); ``job.inputs`` is then ``{}``."""
    return None if job.private else server.store.job_params(job.id)


@router.get("/jobs/{job_id}/results", summary="Job results")
async def job_results(job_id: str, server: ServerDep, instance: InstanceDep) -> Response:
    """The PrimitiveResult as RuntimeEncoder JSON; for a failed or cancelled job, 200 with the
    reason (the client reads this text to build ``job.error_message()``). Every client fetches
    this once per job: with local reads, a result of up to ``SMALL_RESULT_BYTES`` is answered
    from the event loop, a larger one (or any over a network) from a worker thread, and so is
    a private job's, whose read is also a write.

    A completed private job's result is handed out once, as IBM does, then deleted: later reads
    get 410. Its failure text (a failed or cancelled private job) stays: the client reads it
    again on every ``service.job(id).status()`` of such a job, and it holds no user data."""
    if server.store.local_reads:
        outcome = server.store.job_outcome(job_id, instance, SMALL_RESULT_BYTES)
        if outcome is None or (outcome.complete and not _read_once(outcome)):
            return _results_response(outcome, job_id)
    return await run_in_threadpool(_read_results, server, job_id, instance)


def _read_once(outcome: JobOutcome) -> bool:
    return outcome.private and outcome.status == JobStatus.COMPLETED


def _read_results(server: ServerState, job_id: str, instance: str) -> Response:
    outcome = server.store.job_outcome(job_id, instance)
    # Of two readers racing for a private result, only the one whose delete finds it answers.
    if (
        outcome is not None
        and _read_once(outcome)
        and (outcome.body is None or not server.store.delete_read_result(job_id))
    ):
        raise Gone(
            f"the results of job {job_id} were deleted when they were first read: the job is "
            "private (options.environment.private), and a private job's results can be read "
            "only once"
        )
    return _results_response(outcome, job_id)


def _results_response(outcome: JobOutcome | None, job_id: str) -> Response:
    if outcome is None:
        raise NotFound(f"job {job_id} was not found")
    if outcome.status == JobStatus.COMPLETED:
        return Response(outcome.body or b"", media_type="application/json")
    if outcome.status.final:
        text = outcome.body or (outcome.reason or "").encode()
        return Response(text, media_type="text/plain")
    raise NotFound(f"job {job_id} is {outcome.status.value}; its results exist once it completes")


@router.post("/jobs/{job_id}/cancel", status_code=204, summary="Cancel a job")
def cancel_job(job_id: str, server: ServerDep, instance: InstanceDep) -> Response:
    job = _job(server, job_id, instance)
    if server.scheduler.cancel(job.id) is None:
        current = server.store.get_job(job.id)
        state = current.status.value if current else "deleted"
        raise Conflict(f"job {job_id} cannot be cancelled: it is already {state}")
    return Response(status_code=204)


@router.delete("/jobs/{job_id}", status_code=204, summary="Delete a job")
def delete_job(job_id: str, server: ServerDep, instance: InstanceDep) -> Response:
    job = _job(server, job_id, instance)
    server.scheduler.cancel(job.id)
    server.store.delete_job(job.id)
    return Response(status_code=204)


@router.get("/jobs/{job_id}/logs", summary="Job logs")
def job_logs(job_id: str, server: ServerDep, instance: InstanceDep) -> Response:
    job = _job(server, job_id, instance)
    lines = server.store.job_logs(job.id)
    return Response("".join(f"{line}\n" for line in lines), media_type="text/plain")


@router.get("/jobs/{job_id}/metrics", summary="Job metrics")
def job_metrics(job_id: str, server: ServerDep, instance: InstanceDep) -> dict[str, Any]:
    job = _job(server, job_id, instance)
    usage = round(job.usage_seconds, 6)
    position = server.store.queue_position(job) if job.status == JobStatus.QUEUED else None
    return {
        "timestamps": {
            "created": isoformat(job.created),
            "running": isoformat(job.running_at),
            "finished": isoformat(job.finished_at),
        },
        "bss": {"seconds": usage},
        "usage": {
            "quantum_seconds": usage,
            "seconds": usage,
            "qpu_charge_time_seconds": usage,
            "status": "final" if job.status.final else "pending",
        },
        "executions": job.executions,
        "num_circuits": job.num_circuits,
        "num_qubits": job.num_qubits,
        "circuit_depths": job.circuit_depths,
        "qiskit_version": job.qiskit_version,
        "caller": job.caller,
        "position_in_queue": position,
    }


@router.put(
    "/jobs/{job_id}/tags", status_code=204, summary="Replace a job's tags", openapi_extra=TAGS_BODY
)
async def replace_tags(
    job_id: str, request: Request, server: ServerDep, instance: InstanceDep
) -> Response:
    body = await read_json_object(request)
    tags = check_tags(body.get("tags"))
    job = await run_in_threadpool(_job, server, job_id, instance)
    await run_in_threadpool(server.store.set_tags, job.id, tags)
    return Response(status_code=204)
