"""Server-only routes, outside IBM's API: health probes and the plugin list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ... import __version__
from ..deps import ServerDep

router = APIRouter(tags=["server"])


@router.get("/livez", summary="The process is alive")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The server can accept and run jobs")
async def readyz(server: ServerDep) -> JSONResponse:
    available = [
        name for name, ex in server.plugins.executors.items() if ex.info.availability.available
    ]
    ready = bool(available)
    body = {
        "status": "ok" if ready else "unavailable",
        "executors_available": available,
        "reason": None if ready else "no executor is installed and available",
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/-/plugins", summary="Installed plugins and executors")
async def plugins(server: ServerDep) -> dict[str, Any]:
    return {"server_version": __version__, **server.plugins.summary()}
