"""Fixtures for the core's tests: a server over the installed plugins, on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.plugins import PluginHost
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer

#: Small enough that the hostile-input table can exceed it cheaply.
MAX_BODY_BYTES = 4 * 2**20


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        workers=2,
        prestart_workers=False,  # one worker per executor at start: quicker set-up
        max_body_bytes=MAX_BODY_BYTES,
        # Every installed executor, the opt-in example executor ``reference`` included (a
        # small exact one for tests of the API).
        executors=sorted(PluginHost.load().executors),
    )
    with LiveServer(create_app(settings)) as server:
        server.wait_ready()
        yield server


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as http:
        yield http


def wait_final(
    client: httpx.Client,
    job_id: str,
    timeout: float = 120,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The job once final; the timeout allows for a worker's cold start on a loaded machine.
    ``headers`` name another instance (``Service-CRN``) than the default one."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["state"]["status"] in ("Completed", "Failed", "Cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def assert_ibm_error(response: Any, status: int, code: str, fragment: str = "") -> None:
    """The response is an IBM error container with this status, code and message text."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"errors", "trace"}
    (error,) = body["errors"]
    assert error["code"] == code, body
    assert error["more_info"].startswith("https://")
    assert fragment in error["message"], error["message"]
    assert response.headers["X-Request-Id"] == body["trace"]
