"""``/sessions`` over raw HTTP."""

from __future__ import annotations

import time

from httpx import Client
from qiskit import QuantumCircuit
from qiskit_runtime_server.testing import encode_job_body

from ...conftest import assert_ibm_error, wait_final


def one_qubit() -> QuantumCircuit:
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    return circuit


def create(client: Client, **body: object) -> dict[str, object]:
    response = client.post("/api/v1/sessions", json={"backend": "fake_manila@aer", **body})
    assert response.status_code == 200, response.text
    session: dict[str, object] = response.json()
    return session


def test_lifecycle(client: Client) -> None:
    session = create(client, mode="dedicated", max_ttl=120)
    assert session["state"] == "open"
    assert session["max_ttl"] == 120
    assert session["accepting_jobs"] is True
    body = encode_job_body("sampler", "fake_manila@aer", [(one_qubit(), None, 10)])
    body["session_id"] = session["id"]
    job = client.post("/api/v1/jobs", json=body).json()
    assert job["session_id"] == session["id"]
    wait_final(client, job["id"])
    # The session's time is added just after the job's final state is written.
    deadline = time.monotonic() + 30
    while (details := client.get(f"/api/v1/sessions/{session['id']}").json())["elapsed_time"] == 0:
        assert time.monotonic() < deadline, details
        time.sleep(0.02)
    assert details["state"] == "active"
    assert details["activated_at"] is not None
    assert details["elapsed_time"] > 0
    assert (
        client.patch(
            f"/api/v1/sessions/{session['id']}", json={"accepting_jobs": False}
        ).status_code
        == 204
    )
    closed = client.get(f"/api/v1/sessions/{session['id']}").json()
    assert closed["state"] == "closed"
    assert [stamp["status"] for stamp in closed["timestamps"]] == ["open", "active", "closed"]
    assert_ibm_error(client.post("/api/v1/jobs", json=body), 409, "conflict", "closed")


def test_jobs_must_use_the_session_backend(client: Client) -> None:
    session = create(client, mode="batch")
    body = encode_job_body("sampler", "fake_lima@aer", [(one_qubit(), None, 10)])
    body["session_id"] = session["id"]
    assert_ibm_error(
        client.post("/api/v1/jobs", json=body), 400, "invalid_request", "fake_manila@aer"
    )


def test_bad_requests(client: Client) -> None:
    assert_ibm_error(
        client.post("/api/v1/sessions", json={"backend": "fake_manila@aer", "mode": "exclusive"}),
        400, "invalid_request", "'mode'",
    )  # fmt: skip
    assert_ibm_error(
        client.post("/api/v1/sessions", json={"backend": "nowhere@aer", "mode": "batch"}),
        404, "not_found", "nowhere@aer",
    )  # fmt: skip
    assert_ibm_error(
        client.post("/api/v1/sessions", json={"backend": "fake_manila@aer", "mode": "batch", "max_ttl": 0}),
        400, "invalid_request", "max_ttl",
    )  # fmt: skip
    assert_ibm_error(client.get("/api/v1/sessions/nope"), 404, "not_found")
    session = create(client, mode="batch")
    assert_ibm_error(
        client.patch(f"/api/v1/sessions/{session['id']}", json={"accepting_jobs": True}),
        400, "invalid_request", "accepting_jobs",
    )  # fmt: skip
    other = {"Service-CRN": "crn:v1:bluemix:public:quantum-computing:us-east:a/x:other::"}
    assert_ibm_error(
        client.get(f"/api/v1/sessions/{session['id']}", headers=other), 404, "not_found"
    )


def test_cancel_closes_the_session(client: Client) -> None:
    session = create(client, mode="batch")
    assert client.delete(f"/api/v1/sessions/{session['id']}/close").status_code == 204
    details = client.get(f"/api/v1/sessions/{session['id']}").json()
    assert details["state"] == "closed"
    assert details["accepting_jobs"] is False
