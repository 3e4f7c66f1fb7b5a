"""Running ``qiskit-runtime-server serve`` as a real process, for tests that restart or kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from qiskit_runtime_server.testing.live_server import free_port


class ServerProcess:
    """``with ServerProcess(data_dir) as server: ...``: the server's output goes to a log file."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        executable: list[str] | None = None,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        own_process_group: bool = False,
    ) -> None:
        """``own_process_group``: the server leads a process group of its own, so that
        :meth:`signal_group` reaches it and its children at once, as a terminal's Ctrl-C,
        ``timeout`` or systemd do."""
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"server-{self.port}.log"
        self.env = dict(env if env is not None else os.environ)
        self.env.setdefault("QRS_DATA_DIR", str(data_dir))
        self.env.update(extra_env or {})
        self.command = [
            *(executable or [sys.executable, "-m", "qiskit_runtime_server.cli"]),
            "serve",
            "--port",
            str(self.port),
        ]
        self.own_process_group = own_process_group
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=self.own_process_group,
            )
        return self

    def wait_ready(self, timeout: float = 120, status: int = 200) -> httpx.Response:
        """Wait until ``/readyz`` answers ``status``."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                if response.status_code == status:
                    return response
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server is not ready:\n{self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the server and every process of its group (its children)."""
        assert self.process is not None
        assert self.own_process_group
        os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
