"""Refuse request bodies above ``QRS_MAX_BODY_BYTES`` before they are buffered.

A pure ASGI middleware: it answers 413 at once when ``Content-Length`` is too large, and
counts the bytes of bodies sent without one (chunked), so that no route ever holds more than
the limit in memory.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PayloadTooLarge
from .errors import error_response


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the request body is larger than the server's limit of {self.max_bytes} bytes "
            "(QRS_MAX_BODY_BYTES): send fewer or smaller PUBs per job"
        )

    def _response(self) -> ASGIApp:
        error = self._error()
        return error_response(error.status_code, error.code, error.message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._response()(scope, receive, send)
                    return
                break
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # The route's error handler turns this into the 413 response.
                    raise self._error()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge:
            if not started:
                await self._response()(scope, receive, send)
