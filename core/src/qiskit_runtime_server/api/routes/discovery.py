"""IBM Cloud Global Search and Global Catalog, as far as the client's instance discovery goes.

``QiskitRuntimeService(...)`` lists the instances a token may use (Global Search) and looks up
each one's plan (Global Catalog). Serving both lets the unmodified client connect with only
environment variables, and lets it pick an instance by name or automatically.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...errors import NotFound
from ..deps import PrincipalDep, ServerDep

router = APIRouter(tags=["discovery"])

PLAN_ID = "qiskit-runtime-server-local-plan"


@router.post("/v3/resources/search", summary="Global Search: list runtime instances")
async def search_instances(server: ServerDep, principal: PrincipalDep) -> dict[str, Any]:
    """The instances the caller's key may use (the default instance in the open mode)."""
    items = [
        {
            "crn": instance.crn,
            "name": instance.name,
            "tags": [],
            "service_plan_unique_id": PLAN_ID,
            # The client skips instances without "backend allocations" in doc.extensions.
            "doc": {"extensions": {"qiskit_runtime_server": {"backends": len(server.catalogue)}}},
        }
        for instance in server.access.instances_of(principal)
    ]
    return {"items": items, "limit": 100, "search_cursor": None}


@router.get("/catalog/{plan_id}", summary="Global Catalog: describe an instance plan")
async def catalog_entry(plan_id: str) -> dict[str, Any]:
    if plan_id != PLAN_ID:
        raise NotFound(f"catalog entry {plan_id!r} was not found")
    return {
        "id": PLAN_ID,
        "name": "local",
        "overview_ui": {"en": {"display_name": "Local"}},
        "metadata": {"pricing": {"type": "free"}},
    }
