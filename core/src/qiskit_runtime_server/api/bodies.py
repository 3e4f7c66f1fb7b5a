"""Reading JSON request bodies, and describing them in the OpenAPI document.

Routes that take a JSON body read it themselves (the job body is large and is validated by
``jobs/submission.py``, not by a pydantic model), so the OpenAPI request bodies are declared
here, by hand, next to the reader that enforces them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from ..errors import InvalidRequest, UnsupportedMediaType


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON (RFC 8259): Python's parser takes them, and a job stored
    with them could not be answered as JSON later."""
    raise ValueError(f"{name} is not a JSON value")


async def read_json_object(
    request: Request, *, empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body as a JSON object. ``empty`` is returned for an empty body when given."""
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() not in (
        "application/json",
        "",
    ):
        raise UnsupportedMediaType(
            f"the request body must be JSON (Content-Type: application/json), not {content_type!r}"
        )
    raw = await request.body()
    if not raw and empty is not None:
        return empty
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body has this schema."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


_STRING = {"type": "string"}

JOB_BODY = json_body(
    {
        "type": "object",
        "required": ["program_id", "backend", "params"],
        "properties": {
            "program_id": {"type": "string", "enum": ["sampler", "estimator"]},
            "backend": _STRING,
            "params": {
                "type": "object",
                "required": ["pubs"],
                "properties": {
                    "pubs": {"type": "array", "minItems": 1, "items": {"type": "array"}},
                    "options": {"type": "object"},
                    "version": {"type": "integer", "enum": [2]},
                    "support_qiskit": {"type": "boolean"},
                },
            },
            "session_id": _STRING,
            "tags": {"type": "array", "items": _STRING, "maxItems": 100},
            "cost": {"type": "integer", "minimum": 1, "description": "max_execution_time"},
            "runtime": _STRING,
            "log_level": _STRING,
            "private": {"type": "boolean"},
            "start_session": {"type": "boolean"},
            "calibration_id": _STRING,
        },
    }
)
TAGS_BODY = json_body(
    {
        "type": "object",
        "required": ["tags"],
        "properties": {"tags": {"type": "array", "items": _STRING, "maxItems": 100}},
    }
)
SESSION_BODY = json_body(
    {
        "type": "object",
        "required": ["backend"],
        "properties": {
            "backend": _STRING,
            "mode": {"type": "string", "enum": ["dedicated", "batch"]},
            "max_ttl": {"type": "integer", "minimum": 1},
            "instance": _STRING,
        },
    }
)
SESSION_UPDATE_BODY = json_body(
    {
        "type": "object",
        "required": ["accepting_jobs"],
        "properties": {"accepting_jobs": {"type": "boolean", "enum": [False]}},
    }
)
TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "apikey"],
                    "properties": {
                        "grant_type": {
                            "type": "string",
                            "enum": ["urn:ibm:params:oauth:grant-type:apikey"],
                        },
                        "apikey": _STRING,
                        "response_type": _STRING,
                    },
                }
            }
        },
    }
}
