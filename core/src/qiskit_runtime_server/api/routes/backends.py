"""``/backends``: the catalogue of virtual backends, their documents and status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ...catalogue import VirtualBackend
from ...errors import NotFound
from ..deps import ServerDep

router = APIRouter(tags=["backends"])


def _backend(server: ServerDep, name: str, calibration_id: str | None = None) -> VirtualBackend:
    """The backend, in the calibration asked for (404 for one it does not have, as IBM)."""
    backend = server.catalogue.get(name)
    if backend is None:
        raise NotFound(server.catalogue.not_found(name))
    if calibration_id is not None:
        problem = backend.unknown_calibration(calibration_id)
        if problem:
            raise NotFound(problem)
    return backend


@router.get("/backends", summary="List backends (short entries)")
def list_backends(server: ServerDep, include_mocks: bool = False) -> dict[str, Any]:
    """Every backend; with ``include_mocks``, also their mock counterparts for dry runs,
    marked ``class: mock`` (the client sends it when it looks a name up, and leaves mocks
    out of ``service.backends()`` unless asked: see catalogue.py)."""
    queues = server.store.queue_lengths()
    backends = [*server.catalogue, *(server.catalogue.mocks() if include_mocks else ())]
    devices = []
    for backend in backends:
        status: dict[str, Any] = {"name": "online" if backend.available else "offline"}
        if not backend.available:
            status["reason"] = backend.unavailable_reason
        entry: dict[str, Any] = {
            "name": backend.name,
            "status": status,
            "qubits": backend.num_qubits,
            "physical_qubits": backend.num_qubits,
            "queue_length": queues.get(backend.name, 0),
            "simulator": backend.description.simulator,
            "executor": backend.executor.info.name,
            "noise": backend.simulates_noise,
        }
        if backend.dry_run_of is not None:
            entry["class"] = "mock"
        devices.append(entry)
    return {"devices": devices}


@router.get("/backends/{name}/configuration", summary="Backend configuration document")
async def backend_configuration(
    name: str, server: ServerDep, calibration_id: str | None = None
) -> Response:
    """The device's configuration, with the ``calibration_id`` of its one calibration; asking
    for another calibration is a 404 (``service.backend(name, calibration_id=...)`` then finds
    no backend)."""
    backend = _backend(server, name, calibration_id)
    return Response(backend.encoded("configuration"), media_type="application/json")


@router.get("/backends/{name}/properties", summary="Backend calibration properties")
async def backend_properties(
    name: str, server: ServerDep, calibration_id: str | None = None
) -> Response:
    """The device's calibration snapshot; ``{}`` for devices without calibration (ideal).
    Another ``calibration_id`` is a 404; ``updated_before`` changes nothing (there is one
    snapshot per device)."""
    backend = _backend(server, name, calibration_id)
    return Response(backend.encoded("properties"), media_type="application/json")


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
