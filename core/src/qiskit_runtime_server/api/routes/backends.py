"""``/backends``: the catalogue of virtual backends, their documents and status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ...catalogue import VirtualBackend
from ...errors import NotFound
from ..deps import ServerDep

router = APIRouter(tags=["backends"])


def _backend(server: ServerDep, name: str) -> VirtualBackend:
    backend = server.catalogue.get(name)
    if backend is None:
        raise NotFound(f"backend {name!r} was not found; GET /api/v1/backends lists them")
    return backend


@router.get("/backends", summary="List backends (short entries)")
def list_backends(server: ServerDep) -> dict[str, Any]:
    queues = server.store.queue_lengths()
    devices = []
    for backend in server.catalogue:
        status: dict[str, Any] = {"name": "online" if backend.available else "offline"}
        if not backend.available:
            status["reason"] = backend.unavailable_reason
        devices.append(
            {
                "name": backend.name,
                "status": status,
                "qubits": backend.num_qubits,
                "physical_qubits": backend.num_qubits,
                "queue_length": queues.get(backend.name, 0),
                "simulator": backend.description.simulator,
                "executor": backend.executor.info.name,
                "noise": backend.simulates_noise,
            }
        )
    return {"devices": devices}


@router.get("/backends/{name}/configuration", summary="Backend configuration document")
async def backend_configuration(name: str, server: ServerDep) -> Response:
    return Response(_backend(server, name).encoded("configuration"), media_type="application/json")


@router.get("/backends/{name}/properties", summary="Backend calibration properties")
async def backend_properties(name: str, server: ServerDep) -> Response:
    """The device's calibration snapshot; ``{}`` for devices without calibration (ideal)."""
    return Response(_backend(server, name).encoded("properties"), media_type="application/json")


@router.get("/backends/{name}/status", summary="Backend status")
def backend_status(name: str, server: ServerDep) -> dict[str, Any]:
    backend = _backend(server, name)
    queue = server.store.queue_lengths().get(backend.name, 0)
    return {
        "state": backend.available,
        "status": "active" if backend.available else backend.unavailable_reason,
        "message": backend.unavailable_reason or "",
        "length_queue": queue,
        "backend_version": backend.description.configuration().get("backend_version", "0.0.0"),
    }
