"""``/sessions``: sessions and batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from ...errors import InvalidRequest
from ...jobs.submission import find_backend
from ..bodies import SESSION_BODY, SESSION_UPDATE_BODY, read_json_object
from ..deps import InstanceDep, ServerDep

router = APIRouter(tags=["sessions"])


@router.post("/sessions", summary="Create a session or batch", openapi_extra=SESSION_BODY)
async def create_session(
    request: Request, server: ServerDep, instance: InstanceDep
) -> dict[str, Any]:
    body = await read_json_object(request, empty={})
    backend = find_backend(server.catalogue, body.get("backend"))
    session = await run_in_threadpool(
        server.sessions.create,
        instance=instance,
        mode=body.get("mode"),
        backend=backend.name,
        max_ttl=body.get("max_ttl"),
    )
    return session.to_api()


@router.get("/sessions/{session_id}", summary="Session details")
def get_session(session_id: str, server: ServerDep, instance: InstanceDep) -> dict[str, Any]:
    return server.sessions.get(session_id, instance).to_api()


@router.patch(
    "/sessions/{session_id}",
    status_code=204,
    summary="Stop accepting jobs",
    openapi_extra=SESSION_UPDATE_BODY,
)
async def update_session(
    session_id: str, request: Request, server: ServerDep, instance: InstanceDep
) -> Response:
    body = await read_json_object(request, empty={})
    accepting = body.get("accepting_jobs")
    if accepting is not False:
        raise InvalidRequest("only {'accepting_jobs': false} is supported: it closes the session")
    await run_in_threadpool(server.sessions.stop_accepting, session_id, instance)
    return Response(status_code=204)


@router.delete("/sessions/{session_id}/close", status_code=204, summary="Cancel a session")
def cancel_session(session_id: str, server: ServerDep, instance: InstanceDep) -> Response:
    server.sessions.cancel(session_id, instance)
    return Response(status_code=204)
