"""A real server on loopback, for end-to-end tests with the real client."""

from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from ..state import ServerState


def _ephemeral_ports() -> range:
    """The ports the kernel hands to outgoing connections (Linux; IANA's range elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(49152, 65536)


def free_port() -> int:
    """A free loopback port outside the ephemeral range.

    A server started in another process binds its port seconds after it was chosen; a port
    from the ephemeral range may meanwhile be taken by any outgoing connection (a database
    client, an HTTP poll), and the server would fail to start.
    """
    ephemeral = _ephemeral_ports()
    candidates = [p for p in range(20_000, 32_768) if p not in ephemeral]
    for port in random.sample(candidates, min(len(candidates), 200)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # every candidate taken: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


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
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=10)
                answer = response.text
                if response.status_code == 200:
                    return
            except httpx.TransportError as exc:  # a slow answer on a loaded machine
                answer = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} is not ready: {answer}")
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
