"""``/dashboard``: the web dashboard's page and the JSON it reads (docs/observability.md).

The page itself holds no data and needs no credential; everything it shows comes from
``/dashboard/api/*``, which needs what the runtime API needs: a valid token or key (any caller
in the open mode), and for jobs and sessions a ``Service-CRN`` the caller may use. A job of
another instance answers 404, as in the runtime API.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from ... import __version__
from ...dashboard import views
from ...errors import NotFound
from ...jobs.models import JobStatus
from ...jobs.store import JobQuery
from ..deps import InstanceDep, PrincipalDep, ServerDep
from .jobs import MAX_OFFSET

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

STATIC_PACKAGE = "qiskit_runtime_server.dashboard"


@router.get("", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    html = resources.files(STATIC_PACKAGE).joinpath("static/index.html").read_text("utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/api/me")
async def me(server: ServerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Who the caller is, and the instances it may look at."""
    return {
        "mode": "open" if server.access.open_mode else "keys",
        "user": principal.user,
        "instances": [
            {"crn": config.crn, "name": config.name}
            for config in server.access.instances_of(principal)
        ],
    }


@router.get("/api/overview")
def overview(server: ServerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Executors, workers and device memory, the queue of the caller's instances, and each
    instance's usage."""
    instances = server.access.instances_of(principal)
    body = views.overview(
        server.store,
        server.plugins,
        server.scheduler.workers_alive(),
        principal.instances,
    )
    body["server_version"] = __version__
    body["instances"] = [
        {
            "crn": config.crn,
            "name": config.name,
            "usage_seconds": round(server.store.usage_seconds(config.crn), 6),
            "pending_jobs": server.store.pending_count(config.crn),
            "jobs": server.store.list_jobs(JobQuery(instance=config.crn, limit=1))[1],
        }
        for config in instances
    ]
    return body


@router.get("/api/jobs")
def jobs(
    server: ServerDep,
    instance: InstanceDep,
    status: JobStatus | None = None,
    backend: Annotated[str | None, Query(max_length=200)] = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
    tags: Annotated[list[str] | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """One page of the instance's jobs, newest first, with filters."""
    page, total = server.store.list_jobs(
        JobQuery(
            instance=instance,
            limit=limit,
            offset=offset,
            backend=backend or None,
            status=status,
            session_id=session_id or None,
            tags=[tag for tag in tags or [] if tag],
        )
    )
    return {"jobs": [views.job_row(job) for job in page], "count": total, "offset": offset}


@router.get("/api/jobs/{job_id}")
def job(server: ServerDep, instance: InstanceDep, job_id: str) -> dict[str, Any]:
    """A job's page: timeline, logs, PUB summary and results to draw."""
    record = server.store.get_job(job_id)
    if record is None or record.instance != instance:
        raise NotFound(f"Job {job_id} not found")
    return views.job_page(server.store, record)


@router.get("/api/sessions")
def sessions(
    server: ServerDep,
    instance: InstanceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    page, total = server.store.list_sessions(instance, limit, offset)
    return {"sessions": [views.session_row(s) for s in page], "count": total, "offset": offset}
