"""``/sessions``: sessions and batches."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from ...errors import InvalidRequest
from ...jobs.submission import find_backend
from ..deps import InstanceDep, ServerDep

router = APIRouter(tags=["sessions"])


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


@router.post("/sessions", summary="Create a session or batch")
async def create_session(
    request: Request, server: ServerDep, instance: InstanceDep
) -> dict[str, Any]:
    body = await _body(request)
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


@router.patch("/sessions/{session_id}", status_code=204, summary="Stop accepting jobs")
async def update_session(
    session_id: str, request: Request, server: ServerDep, instance: InstanceDep
) -> Response:
    body = await _body(request)
    accepting = body.get("accepting_jobs")
    if accepting is not False:
        raise InvalidRequest("only {'accepting_jobs': false} is supported: it closes the session")
    await run_in_threadpool(server.sessions.stop_accepting, session_id, instance)
    return Response(status_code=204)


@router.delete("/sessions/{session_id}/close", status_code=204, summary="Cancel a session")
def cancel_session(session_id: str, server: ServerDep, instance: InstanceDep) -> Response:
    server.sessions.cancel(session_id, instance)
    return Response(status_code=204)
