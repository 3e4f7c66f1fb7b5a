"""``--log-format json`` on a real ``serve`` process: every line one JSON object, from the API
(uvicorn's access lines included), the scheduler and the worker processes, with the request id,
instance and job id where they are known; the default stays text."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from qiskit import QuantumCircuit
from qiskit_ibm_runtime import SamplerV2
from qiskit_runtime_server import logs
from qiskit_runtime_server.api.errors import install_error_handlers
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.testing import LiveServer
from qrs_test_plugins.processes import ServerProcess

ENVIRONMENT = {
    "QRS_WORKERS": "1",
    "QRS_PRESTART_WORKERS": "false",
    "QRS_EXECUTORS": '["testkit"]',
    "QRS_PLUGINS": '["qrs_test_plugins.testkit"]',
}


def lines_of(server: ServerProcess) -> list[dict[str, Any]]:
    parsed = []
    for line in server.log.read_text().splitlines():
        if line.strip():
            parsed.append(json.loads(line))  # every line parses
    return parsed


def test_json_lines_carry_the_request_instance_and_job(tmp_path: Path) -> None:
    environment = {**ENVIRONMENT, "QRS_LOG_FORMAT": "json"}
    with ServerProcess(tmp_path, extra_env=environment) as server:
        server.wait_ready()
        service = connect(server.url)
        circuit = QuantumCircuit(1, metadata={"testkit": "warn:a line from the executor"})
        circuit.measure_all()
        job = SamplerV2(service.backend("ideal_simulator@testkit")).run([circuit], shots=10)
        job.result()
        missing = httpx.get(f"{server.url}/api/v1/jobs/no-such-job")
        deadline = time.monotonic() + 30
        while not any("a line from the executor" in line["message"] for line in lines_of(server)):
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
    lines = lines_of(server)
    for line in lines:
        assert {"timestamp", "level", "logger", "message", "process"} <= set(line), line
        assert "color_message" not in line
    assert {line["process"] for line in lines} >= {"api", "worker"}
    assert any("qiskit-runtime-server" in line["message"] for line in lines)  # the banner
    (executor_line,) = [line for line in lines if "a line from the executor" in line["message"]]
    assert executor_line["process"] == "worker"
    assert executor_line["level"] == "WARNING"
    assert executor_line["job_id"] == job.job_id()
    # uvicorn's access lines, each with its request's id; the job's polls with the job and
    # the instance it was asked for.
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access
    assert all(line.get("request_id") for line in access)
    job_path = f"/api/v1/jobs/{job.job_id()}"
    polls = [line for line in access if line["path"].split("?")[0] == job_path]
    assert polls
    assert all(line["job_id"] == job.job_id() for line in polls)
    assert all(line["instance"].startswith("crn:") for line in polls)
    assert all(line["method"] == "GET" and line["status"] == 200 for line in polls)
    # The id an error body gives the user is the one its log line has.
    trace = missing.json()["trace"]
    assert missing.headers["X-Request-Id"] == trace
    (logged,) = [line for line in access if line.get("request_id") == trace]
    assert logged["status"] == 404


@pytest.mark.slow
def test_text_stays_the_default(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, extra_env=ENVIRONMENT) as server:
        server.wait_ready()
        httpx.get(f"{server.url}/livez")
    text = server.log.read_text()
    assert "qiskit-runtime-server" in text
    assert '"GET /livez HTTP/1.1" 200' in text
    assert not any(line.startswith("{") for line in text.splitlines())


class Kept(logging.Handler):
    """Keeps the records that reach it, after the server's context filter."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(logs.ContextFilter("api"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_unexpected_error_s_trace_is_its_log_line_s_request_id() -> None:
    """A 500 is answered and logged outside the middlewares, by Starlette's outermost one:
    its body's trace and its log line still carry the request's id."""
    app = FastAPI()
    app.add_middleware(logs.RequestContext)
    install_error_handlers(app)

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("a bug")

    kept = Kept()
    errors = logging.getLogger("qiskit_runtime_server.api.errors")
    errors.addHandler(kept)
    try:
        with LiveServer(app) as server:
            response = httpx.get(f"{server.url}/fails")
    finally:
        errors.removeHandler(kept)
    assert response.status_code == 500
    trace = response.json()["trace"]
    assert response.headers["X-Request-Id"] == trace
    (record,) = [r for r in kept.records if "unexpected error" in r.getMessage()]
    assert getattr(record, "request_id", None) == trace
