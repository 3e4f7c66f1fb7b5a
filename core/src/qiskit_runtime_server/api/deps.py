"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..errors import InvalidRequest
from ..state import ServerState


async def get_server(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


# Dependencies are coroutines although they do no I/O: FastAPI runs plain functions in a
# thread pool, and each hop costs more than the dependency itself.
ServerDep = Annotated[ServerState, Depends(get_server)]


async def get_instance(
    server: ServerDep,
    service_crn: Annotated[str | None, Header(alias="Service-CRN")] = None,
) -> str:
    """The instance a runtime request acts for: its ``Service-CRN`` header.

    In the open single-user mode every CRN is its own namespace of jobs and sessions, and a
    request without the header acts for the default instance.
    """
    if service_crn is None or service_crn == "":
        return server.settings.instance_crn
    if not service_crn.startswith("crn:") or len(service_crn) > 512:
        raise InvalidRequest("the Service-CRN header must be an instance CRN (crn:v1:...)")
    return service_crn


InstanceDep = Annotated[str, Depends(get_instance)]
