"""Domain errors. The API maps them to IBM-shaped HTTP errors in one place (api/errors.py)."""

from __future__ import annotations


class ServerError(Exception):
    """Base class: an error with a stable machine code and an HTTP status."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ServerError):
    status_code = 400
    code = "invalid_request"


class NotFound(ServerError):
    status_code = 404
    code = "not_found"


class Conflict(ServerError):
    status_code = 409
    code = "conflict"


class Unauthorized(ServerError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ServerError):
    status_code = 403
    code = "forbidden"


class Gone(ServerError):
    """What existed was deleted on purpose (a private job's result, once read)."""

    status_code = 410
    code = "gone"


class PayloadTooLarge(ServerError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServerError):
    status_code = 415
    code = "unsupported_media_type"


class LimitExceeded(ServerError):
    """An instance limit (IBM answers 409 "Usage exceeds instance limit")."""

    status_code = 409
    code = "limit_exceeded"


class ExecutorContractError(Exception):
    """A plugin broke the contract (wrong return type, duplicate name, ...)."""


class ConfigurationError(Exception):
    """The operator's settings ask for something this installation cannot serve (an executor
    that is not installed): the server refuses to start and says what is installed."""
