"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .. import logs
from ..auth import Principal
from ..state import ServerState


async def get_server(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


# Dependencies are coroutines although they do no I/O: FastAPI runs plain functions in a
# thread pool, and each hop costs more than the dependency itself.
ServerDep = Annotated[ServerState, Depends(get_server)]


# The two headers are read from the request rather than declared with ``Header()``: FastAPI
# validates declared parameters through a model on every request, which cost more than the
# rest of a job poll. The OpenAPI document lists ``Service-CRN`` (see openapi.py).


async def get_principal(request: Request) -> Principal:
    """The authenticated caller (anyone, in the open single-user mode)."""
    server: ServerState = request.app.state.server
    return server.access.authenticate(request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_instance(request: Request) -> str:
    """The instance a runtime request acts for: its ``Service-CRN`` header, which the caller's
    key must allow. In the open mode every CRN is its own namespace of jobs and sessions, and
    a request without the header acts for the default instance. (It authenticates the caller
    itself rather than depending on ``get_principal``: FastAPI walks a dependency's own
    dependencies on every use, cached or not, and every job poll comes through here.)"""
    server: ServerState = request.app.state.server
    headers = request.headers
    principal = server.access.authenticate(headers.get("authorization"))
    crn = server.access.instance_for(principal, headers.get("service-crn"))
    logs.instance.set(crn)  # for the request's log lines
    job_id = request.path_params.get("job_id")
    if job_id is not None:
        logs.job_id.set(job_id)
    return crn


InstanceDep = Annotated[str, Depends(get_instance)]
