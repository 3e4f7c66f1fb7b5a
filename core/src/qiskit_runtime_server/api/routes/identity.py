"""IBM Cloud IAM's token exchange, which the client calls before any runtime request."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request

from ...errors import InvalidRequest
from ..bodies import TOKEN_BODY
from ..deps import ServerDep

router = APIRouter(tags=["identity"])

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


@router.post(
    "/identity/token", summary="Exchange an API key for a bearer token", openapi_extra=TOKEN_BODY
)
async def create_token(request: Request, server: ServerDep) -> dict[str, Any]:
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    grant = form.get("grant_type", [""])[0]
    apikey = form.get("apikey", [""])[0]
    if grant != APIKEY_GRANT:
        raise InvalidRequest(f"grant_type must be {APIKEY_GRANT}")
    if not apikey:
        raise InvalidRequest("apikey is required")
    principal = server.access.exchange(apikey)
    return server.tokens.issue(subject=principal.user, key_id=principal.key_id)
