"""The published OpenAPI document, made accurate about errors.

FastAPI documents a 422 for every route with parameters; this server answers validation
errors with 400 instead (IBM's behaviour) and can answer any route with the errors below,
all in IBM's error container. Clients generated from the document, and the schemathesis run
in the test-suite, rely on it saying exactly that.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors", "trace"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message", "more_info"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "more_info": {"type": "string"},
                },
            },
        },
        "trace": {"type": "string", "description": "Also sent as the X-Request-Id header."},
        "status_code": {"type": "integer"},
    },
}

ERRORS = {
    "400": "Invalid request: the message says what is wrong",
    "401": "Missing, invalid or expired credentials",
    "403": "The API key may not use this instance",
    "404": "Not found (also for other instances' jobs and sessions)",
    "405": "Method not allowed",
    "409": "Conflict with the resource's state, or an instance limit",
    "413": "Request body larger than the server's limit",
    "415": "The body must be JSON",
}

#: Read by the instance dependency from the request (see deps.py), documented here.
SERVICE_CRN = {
    "name": "Service-CRN",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The instance the request acts for (the client's ``instance``); without it, "
    "the server's default instance.",
}


def install_openapi(app: FastAPI, runtime_prefix: str) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                if path.startswith(f"{runtime_prefix}/"):
                    operation.setdefault("parameters", []).append(SERVICE_CRN)
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, description in ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": error_ref})
                if path == "/readyz":
                    responses["503"] = {"description": "Not ready: the body says why"}
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
