"""``/instances/usage``."""

from __future__ import annotations

from datetime import datetime, timedelta

from httpx import Client
from qiskit import QuantumCircuit
from qiskit_runtime_server.testing import encode_job_body

from ...conftest import wait_final

#: An instance of its own: no other test's jobs count.
HEADERS = {"Service-CRN": "crn:v1:bluemix:public:quantum-computing:us-east:a/usage:one::"}


def test_usage_has_every_field_of_ibms_answer(client: Client) -> None:
    body = client.get("/api/v1/instances/usage").json()
    assert set(body) == {
        "instance_id", "plan_id", "usage_period", "usage_consumed_seconds",
        "usage_limit_seconds", "usage_allocation_seconds", "usage_remaining_seconds",
        "usage_limit_reached",
    }  # fmt: skip
    assert body["instance_id"].startswith("crn:")
    # No limit on this server: nothing is allocated, reached, or counted down.
    assert body["usage_limit_seconds"] is None
    assert body["usage_allocation_seconds"] is None
    assert body["usage_remaining_seconds"] is None
    assert body["usage_limit_reached"] is False
    period = body["usage_period"]
    start, end = (
        datetime.fromisoformat(period[key].replace("Z", "+00:00"))
        for key in ("start_time", "end_time")
    )
    assert end - start == timedelta(days=30)  # the retention window


def test_usage_counts_the_instances_finished_jobs(client: Client) -> None:
    circuit = QuantumCircuit(1)
    circuit.measure_all()
    usage = client.get("/api/v1/instances/usage", headers=HEADERS).json()
    assert usage["usage_consumed_seconds"] == 0
    body = encode_job_body("sampler", "ideal_simulator@aer", [(circuit, None, 5)])
    job_id = client.post("/api/v1/jobs", json=body, headers=HEADERS).json()["id"]
    job = wait_final(client, job_id, headers=HEADERS)
    usage = client.get("/api/v1/instances/usage", headers=HEADERS).json()
    assert usage["usage_consumed_seconds"] == job["usage"]["seconds"] > 0
