"""Every error response, in IBM's shape: ``{"errors": [{code, message, more_info}], "trace"}``.

The ``trace`` id is also sent as the ``X-Request-Id`` header and logged, so that a user's error
text can be matched with the server log.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import logs
from ..errors import ServerError

logger = logging.getLogger(__name__)

MORE_INFO = "https://quantum.cloud.ibm.com/docs/en/errors"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def error_response(status_code: int, code: str, message: str) -> JSONResponse:
    trace = logs.request_id.get() or str(uuid.uuid4())  # the request's id, as its log lines
    body = {
        "errors": [{"code": code, "message": message, "more_info": MORE_INFO}],
        "trace": trace,
        "status_code": status_code,
    }
    return JSONResponse(body, status_code=status_code, headers={"X-Request-Id": trace})


async def _server_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServerError)
    return error_response(exc.status_code, exc.code, exc.message)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{location}: {error.get('msg', 'invalid')}")
    return error_response(400, "invalid_request", "; ".join(problems) or "invalid request")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unstorable_value(_request: Request, exc: Exception) -> JSONResponse:
    """A value of the request that the database refuses, in a key or a filter: PostgreSQL
    takes no NUL character in text (SQLite does), and a number may be out of a column's range.
    The caller's mistake, so a 400 with the database's reason, not a 500."""
    assert isinstance(exc, DataError)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "invalid value"
    return error_response(
        400, "invalid_request", f"the request holds a value the database cannot take: {reason}"
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    response = error_response(500, "internal_error", "Internal error of the server")
    logger.error(
        "unexpected error on %s %s (trace %s)",
        request.method,
        request.url.path,
        response.headers["X-Request-Id"],
        exc_info=exc,
    )
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServerError, _server_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(Exception, _unexpected_error)
