"""The server's log lines: readable text by default, or one JSON object per line.

``--log-format json`` (``QRS_LOG_FORMAT=json``) gives every line of the API process (uvicorn's
included), the scheduler process and the worker processes one shape, for a log collector::

    {"timestamp": "...", "level": "INFO", "logger": "uvicorn.access", "message": "...",
     "process": "api", "request_id": "...", "instance": "crn:...", "job_id": "...",
     "method": "GET", "path": "/api/v1/jobs/...", "status": 200}

``request_id``, ``instance`` and ``job_id`` appear where they are known: the request id is the
``X-Request-Id`` header every response carries (and the ``trace`` of an error body); the
instance and job are those the request acts for, or the job a worker runs. They are context
variables, set by :class:`RequestContext` and the routes' dependencies, so a line logged anywhere
while a request or a job is handled carries them.
"""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id: ContextVar[str | None] = ContextVar("qrs_request_id", default=None)
instance: ContextVar[str | None] = ContextVar("qrs_instance", default=None)
job_id: ContextVar[str | None] = ContextVar("qrs_job_id", default=None)

#: Libraries that log every step at INFO (Qiskit: each transpiler pass of each job): they log
#: at WARNING and above unless the server's level is DEBUG.
CHATTY_LOGGERS = ("qiskit",)

#: uvicorn's loggers: with the JSON format they write through the root's handler.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class ContextFilter(logging.Filter):
    """Adds what is known of the current request or job to each record that reaches the
    handler (``process`` always; ``request_id``, ``instance``, ``job_id`` when set; the method,
    path and status of uvicorn's access lines)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = self.process
        for name, variable in (("request_id", request_id), ("instance", instance)):
            value = variable.get()
            if value is not None:
                setattr(record, name, value)
        job = job_id.get()
        if job is not None:
            record.job_id = job
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            _, record.method, record.path, _, record.status = args  # and client, HTTP version
        return True


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "process_name": "process"},
            timestamp=True,
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's, with ANSI colours
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, log_format: LogFormat, process: str) -> None:
    """Send every log line of this process to stderr in ``log_format``. ``process`` names it
    in JSON lines: ``api``, ``scheduler`` or ``worker``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ContextFilter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.NOTSET if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
        )
    logging.captureWarnings(log_format == "json")  # Python's warnings as log lines too
    if log_format == "json":
        for name in UVICORN_LOGGERS:  # in case uvicorn configured them already
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True


class RequestContext:
    """ASGI middleware: gives each request an id (``X-Request-Id`` on its response, the
    ``trace`` of an error body) that its log lines carry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = str(uuid.uuid4())
        # Not reset on the way out: an unexpected exception leaves this middleware and is
        # answered (500) and logged by Starlette's outermost ServerErrorMiddleware, whose
        # lines and error body must carry this id too. Each request runs in a task of its own
        # (a copy of the context), so the id does not outlive its request.
        request_id.set(current)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "x-request-id" not in headers:
                    headers["X-Request-Id"] = current
            await send(message)

        await self.app(scope, receive, send_with_id)
