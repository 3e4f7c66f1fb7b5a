"""``/instances/usage``: what the client checks before every submission."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import InstanceDep, ServerDep

router = APIRouter(tags=["instances"])


@router.get("/instances/usage", summary="Usage of the instance")
def instance_usage(server: ServerDep, instance: InstanceDep) -> dict[str, Any]:
    return {
        "instance_id": instance,
        "usage_consumed_seconds": round(server.store.usage_seconds(instance), 6),
        "usage_limit_seconds": None,
        "usage_allocation_seconds": None,
        "usage_limit_reached": False,
    }
