"""``/instances/usage``: what the client checks before every submission.

The answer has every field of IBM's ``GetUsageResponse`` (``instance_id``, ``plan_id``,
``usage_period``, ``usage_consumed_seconds``, ``usage_limit_seconds``,
``usage_allocation_seconds``, ``usage_limit_reached``) plus ``usage_remaining_seconds``, which
``QiskitRuntimeService.usage()`` adds itself only when a limit or an allocation is set: code
written for a limited IBM plan reads it unconditionally.

This server sets no time limit or allocation, so those are null, the limit is never reached,
and what remains is unbounded: ``usage_remaining_seconds`` is null too (a made-up large number
would look like a real allocation). The period is the retention window: the seconds consumed
are those of the instance's jobs that finished within it, which are the jobs the server still
keeps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from ...jobs.models import isoformat, utcnow
from ..deps import InstanceDep, ServerDep
from .discovery import PLAN_ID

router = APIRouter(tags=["instances"])


@router.get("/instances/usage", summary="Usage of the instance")
def instance_usage(server: ServerDep, instance: InstanceDep) -> dict[str, Any]:
    end = utcnow()
    start = end - timedelta(days=server.settings.retention_days)
    return {
        "instance_id": instance,
        "plan_id": PLAN_ID,
        "usage_period": {"start_time": isoformat(start), "end_time": isoformat(end)},
        "usage_consumed_seconds": round(server.store.usage_seconds(instance, since=start), 6),
        "usage_limit_seconds": None,
        "usage_allocation_seconds": None,
        "usage_remaining_seconds": None,
        "usage_limit_reached": False,
    }
