"""``GET /metrics``: the server's Prometheus metrics (see docs/observability.md).

Who may read them: the metrics hold no job, key or instance, but they count every instance's
jobs together. With ``QRS_METRICS_TOKEN`` set, the scraper must send it as a bearer token. Unset,
they are open in the open single-user mode (whose address is loopback unless the operator said
``--allow-anonymous``) and refused in keys mode, where no instance's key may read them.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...errors import Unauthorized
from ..deps import ServerDep

router = APIRouter(tags=["server"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, server: ServerDep) -> Response:
    """The Prometheus text exposition (a plain function: the gauges read the database)."""
    token = server.settings.metrics_token
    if token is not None:
        scheme, _, credential = (request.headers.get("authorization") or "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credential.strip().encode(), expected
        ):
            raise Unauthorized("GET /metrics needs 'Authorization: Bearer <QRS_METRICS_TOKEN>'")
    elif not server.access.open_mode:
        raise Unauthorized(
            "the server requires API keys: GET /metrics is served only with QRS_METRICS_TOKEN "
            "set, to the scraper that sends it as a bearer token"
        )
    return Response(generate_latest(server.metrics.registry), media_type=CONTENT_TYPE_LATEST)
