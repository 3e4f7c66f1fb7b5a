"""Server-only routes, outside IBM's API: health probes and the plugin list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ... import __version__
from ..deps import PrincipalDep, ServerDep

router = APIRouter(tags=["server"])


@router.get("/livez", summary="The process is alive")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The server can accept and run jobs")
def readyz(server: ServerDep) -> JSONResponse:
    """200 when the database answers and at least one executor worker is alive."""
    problems: list[str] = []
    try:
        server.store.ping()
    except Exception as exc:
        problems.append(f"the database is unreachable: {type(exc).__name__}")
    executors = server.scheduler.executors
    workers = server.scheduler.alive_workers()
    if not executors:
        problems.append("no executor is installed and available")
    elif workers == 0:
        problems.append("no executor worker process is alive yet")
    body = {
        "status": "unavailable" if problems else "ok",
        "executors_available": executors,
        "workers_alive": workers,
        "reason": "; ".join(problems) or None,
    }
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/-/plugins", summary="Installed plugins and executors")
async def plugins(server: ServerDep, _caller: PrincipalDep) -> dict[str, Any]:
    return {"server_version": __version__, **server.plugins.summary()}
