"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..auth import Principal
from ..state import ServerState


async def get_server(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


# Dependencies are coroutines although they do no I/O: FastAPI runs plain functions in a
# thread pool, and each hop costs more than the dependency itself.
ServerDep = Annotated[ServerState, Depends(get_server)]


async def get_principal(
    server: ServerDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The authenticated caller (anyone, in the open single-user mode)."""
    return server.access.authenticate(authorization)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_instance(
    server: ServerDep,
    principal: PrincipalDep,
    service_crn: Annotated[str | None, Header(alias="Service-CRN")] = None,
) -> str:
    """The instance a runtime request acts for: its ``Service-CRN`` header, which the caller's
    key must allow. In the open mode every CRN is its own namespace of jobs and sessions, and
    a request without the header acts for the default instance."""
    return server.access.instance_for(principal, service_crn)


InstanceDep = Annotated[str, Depends(get_instance)]
