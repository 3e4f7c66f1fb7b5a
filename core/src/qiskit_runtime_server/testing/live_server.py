"""A real server on loopback, for end-to-end tests with the real client."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from ..state import ServerState


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """``with LiveServer(create_app(...)) as server: connect(server.url)``."""

    def __init__(self, app: FastAPI, port: int | None = None, startup_timeout: float = 30) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="qrs-live-server", daemon=True
        )
        self._startup_timeout = startup_timeout

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.server
        return state

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until ``/readyz`` answers 200 (an executor worker process is alive)."""
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            response = httpx.get(f"{self.url}/readyz", timeout=10)
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} is not ready: {response.text}")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
