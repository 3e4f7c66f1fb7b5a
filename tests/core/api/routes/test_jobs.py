"""``/jobs`` over raw HTTP: what the client sends, and what a mistake gets back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpx import Client
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit_ibm_runtime import RuntimeDecoder
from qiskit_runtime_server.api.routes.jobs import MAX_LIST_LIMIT
from qiskit_runtime_server.testing import encode_job_body

from ...conftest import assert_ibm_error, wait_final


def bell(measure: bool = True) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def submit(client: Client, body: dict[str, Any]) -> str:
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["id"]
    return job_id


def test_sampler_job_round_trip(client: Client) -> None:
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 100)])
    response = client.post("/api/v1/jobs", json=body)
    assert response.json()["backend"] == "ideal_simulator@aer"
    job = wait_final(client, response.json()["id"])
    assert job["state"] == {"status": "Completed"}
    assert job["program"] == {"id": "sampler"}
    result = json.loads(client.get(f"/api/v1/jobs/{job['id']}/results").text, cls=RuntimeDecoder)
    assert result[0].data.meas.num_shots == 100
    with_params = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert with_params["params"] == body["params"]
    assert "params" not in client.get(f"/api/v1/jobs/{job['id']}?exclude_params=true").json()


def test_estimator_job_with_default_shots_sets_precision(client: Client) -> None:
    body = encode_job_body(
        "estimator", "ideal_simulator@aer", [(bell(False), SparsePauliOp("ZZ"))],
        {"default_shots": 10_000},
    )  # fmt: skip
    job = wait_final(client, submit(client, body))
    result = json.loads(client.get(f"/api/v1/jobs/{job['id']}/results").text, cls=RuntimeDecoder)
    assert float(result[0].data.stds) == pytest.approx(0.01)


def test_failed_job_results_are_200_with_the_reason(client: Client) -> None:
    body = encode_job_body(
        "sampler", "ideal_simulator@aer", [bell()], {"simulator": {"basis_gates": ["x"]}}
    )
    job = wait_final(client, submit(client, body))
    assert job["state"]["status"] == "Failed"
    assert job["state"]["reason_code"] == 1010
    assert "'h' is not in options.simulator.basis_gates" in job["state"]["reason"]
    response = client.get(f"/api/v1/jobs/{job['id']}/results")
    assert response.status_code == 200
    assert "Traceback" in response.text
    assert "basis_gates" in response.text


def test_list_count_and_paging(client: Client) -> None:
    crn = "crn:v1:bluemix:public:quantum-computing:us-east:a/paging:one::"
    headers = {"Service-CRN": crn}
    ids = []
    for _ in range(5):
        body = encode_job_body("sampler", "ideal_simulator@reference", [(bell(), None, 5)])
        ids.append(client.post("/api/v1/jobs", json=body, headers=headers).json()["id"])
    page = client.get("/api/v1/jobs?limit=2&offset=1", headers=headers).json()
    assert page["count"] == 5
    assert [job["id"] for job in page["jobs"]] == [ids[3], ids[2]]
    ascending = client.get("/api/v1/jobs?limit=10&sort=ASC", headers=headers).json()
    assert [job["id"] for job in ascending["jobs"]] == ids
    # A page holds at most MAX_LIST_LIMIT jobs, and says so; past the last job, count is the
    # offset (the client asks again until it holds count - skip jobs).
    large = client.get(f"/api/v1/jobs?limit={MAX_LIST_LIMIT + 1}", headers=headers).json()
    assert (large["limit"], large["count"], len(large["jobs"])) == (MAX_LIST_LIMIT, 5, 5)
    beyond = client.get("/api/v1/jobs?offset=7", headers=headers).json()
    assert (beyond["jobs"], beyond["count"]) == ([], 7)
    # Another instance sees none of them.
    other = {"Service-CRN": "crn:v1:bluemix:public:quantum-computing:us-east:a/paging:two::"}
    assert client.get("/api/v1/jobs", headers=other).json()["count"] == 0
    assert client.get(f"/api/v1/jobs/{ids[0]}", headers=other).status_code == 404


def test_tags(client: Client) -> None:
    job_id = submit(client, encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 5)]))
    response = client.put(f"/api/v1/jobs/{job_id}/tags", json={"tags": ["b", "a", "a"]})
    assert response.status_code == 204
    assert client.get(f"/api/v1/jobs/{job_id}").json()["tags"] == ["a", "b"]
    assert_ibm_error(
        client.put(f"/api/v1/jobs/{job_id}/tags", json={"tags": "a"}),
        400, "invalid_request", "'tags' must be a list of at most 100",
    )  # fmt: skip


def test_cancel_finished_job_is_409(client: Client) -> None:
    job_id = submit(client, encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 5)]))
    wait_final(client, job_id)
    assert_ibm_error(
        client.post(f"/api/v1/jobs/{job_id}/cancel"), 409, "conflict", "already Completed"
    )


def test_delete(client: Client) -> None:
    job_id = submit(client, encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 5)]))
    wait_final(client, job_id)
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert_ibm_error(client.get(f"/api/v1/jobs/{job_id}"), 404, "not_found", job_id)
    assert_ibm_error(client.delete(f"/api/v1/jobs/{job_id}"), 404, "not_found")


def _body(**changes: Any) -> dict[str, Any]:
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 5)])
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        (_body(program_id="qasm3-runner"), 404, "not_found", "program 'qasm3-runner'"),
        (_body(backend="ibm_nowhere@aer"), 404, "not_found", "backend 'ibm_nowhere@aer'"),
        (_body(backend=None), 400, "invalid_request", "'backend' is required"),
        (_body(params=[]), 400, "invalid_request", "'params' must be an object"),
        (_body(params={"pubs": []}), 400, "invalid_request", "non-empty list of PUBs"),
        (_body(params={"pubs": [[1, 2]]}), 400, "invalid_request", "encoded QuantumCircuit"),
        (
            _body(params={"pubs": [[{"__type__": "QuantumCircuit", "__value__": "garbage"}]]}),
            400, "invalid_request", "could not decode QuantumCircuit",
        ),
        (
            _body(params={"pubs": [[{"__type__": "Result", "__value__": {}}]]}),
            400, "invalid_request", "unsupported encoded type 'Result'",
        ),
        (_body(params={"pubs": [], "version": 1}), 400, "invalid_request", "version 2"),
        (_body(tags="x"), 400, "invalid_request", "'tags' must be a list of at most 100"),
        (_body(cost=-1), 400, "invalid_request", "'cost'"),
    ],
)  # fmt: skip
def test_bad_submissions_are_4xx(
    client: Client, body: dict[str, Any], status: int, code: str, fragment: str
) -> None:
    assert_ibm_error(client.post("/api/v1/jobs", json=body), status, code, fragment)


def test_bad_pub_values_are_4xx(client: Client) -> None:
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 5)])
    body["params"]["pubs"][0][2] = 0
    assert_ibm_error(client.post("/api/v1/jobs", json=body), 400, "invalid_request", "shots")
    body["params"]["pubs"][0][2] = 5
    body["params"]["options"] = {"default_shots": "many"}
    assert_ibm_error(
        client.post("/api/v1/jobs", json=body), 400, "invalid_request", "default_shots"
    )
    body["params"]["options"] = {"simulator": {"seed_simulator": -3}}
    assert_ibm_error(client.post("/api/v1/jobs", json=body), 400, "invalid_request", "seed")
    estimator = encode_job_body("estimator", "ideal_simulator@aer", [(bell(False), "ZZ")])
    estimator["params"]["pubs"][0][3] = -0.1
    assert_ibm_error(
        client.post("/api/v1/jobs", json=estimator), 400, "invalid_request", "precision"
    )


def test_too_many_qubits_is_4xx(client: Client) -> None:
    wide = QuantumCircuit(6)
    wide.h(range(6))
    wide.measure_all()
    body = encode_job_body("sampler", "fake_manila@aer", [wide])
    assert_ibm_error(client.post("/api/v1/jobs", json=body), 400, "invalid_request", "has 5")
    huge = QuantumCircuit(31)
    huge.h(range(31))
    huge.measure_all()
    body = encode_job_body("sampler", "ideal_simulator@reference", [huge])
    assert_ibm_error(client.post("/api/v1/jobs", json=body), 400, "invalid_request", "at most 16")


def test_malformed_json_is_400(client: Client) -> None:
    response = client.post(
        "/api/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_ibm_error(response, 400, "invalid_request", "not valid JSON")


def test_metrics_and_logs(client: Client) -> None:
    job_id = submit(client, encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 7)]))
    wait_final(client, job_id)
    metrics = client.get(f"/api/v1/jobs/{job_id}/metrics").json()
    assert metrics["usage"]["status"] == "final"
    assert metrics["executions"] == 7
    assert metrics["circuit_depths"] == [3]
    logs = client.get(f"/api/v1/jobs/{job_id}/logs")
    assert logs.headers["content-type"].startswith("text/plain")
    assert "job completed" in logs.text


def test_a_private_jobs_params_are_never_shown_and_its_result_is_read_once(
    client: Client,
) -> None:
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 9)])
    job_id = submit(client, {**body, "private": True})
    assert "params" not in client.get(f"/api/v1/jobs/{job_id}").json()  # not even while pending
    job = wait_final(client, job_id)
    assert job["private"] is True
    assert "params" not in job
    listed = client.get("/api/v1/jobs?exclude_params=false&limit=1000").json()["jobs"]
    assert "params" not in next(entry for entry in listed if entry["id"] == job_id)
    first = client.get(f"/api/v1/jobs/{job_id}/results")
    assert first.status_code == 200
    assert json.loads(first.text, cls=RuntimeDecoder)[0].data.meas.num_shots == 9
    again = client.get(f"/api/v1/jobs/{job_id}/results")
    assert_ibm_error(again, 410, "gone", f"the results of job {job_id} were deleted")
    # The rest of the job stays.
    assert client.get(f"/api/v1/jobs/{job_id}/metrics").json()["executions"] == 9
    # A job that is not private is untouched.
    public = wait_final(client, submit(client, body))
    for _ in range(2):
        assert client.get(f"/api/v1/jobs/{public['id']}/results").status_code == 200
    assert public["params"] == body["params"]


def test_a_failed_private_jobs_reason_can_be_read_again(client: Client) -> None:
    """The client reads a failed job's results for its error message on every new job object."""
    body = encode_job_body(
        "sampler", "ideal_simulator@aer", [bell()], {"simulator": {"basis_gates": ["x"]}}
    )
    job = wait_final(client, submit(client, {**body, "private": True}))
    assert job["state"]["status"] == "Failed"
    for _ in range(2):
        response = client.get(f"/api/v1/jobs/{job['id']}/results")
        assert response.status_code == 200
        assert "basis_gates" in response.text


def test_a_job_runs_only_in_the_calibration_it_names(client: Client) -> None:
    configuration = client.get("/api/v1/backends/fake_manila@aer/configuration").json()
    calibration_id = configuration["calibration_id"]
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    body = encode_job_body("sampler", "fake_manila@aer", [(circuit, None, 5)])
    job = wait_final(client, submit(client, {**body, "calibration_id": calibration_id}))
    assert job["state"]["status"] == "Completed"
    stale = client.post("/api/v1/jobs", json={**body, "calibration_id": "20200101T000000Z-0"})
    assert_ibm_error(
        stale, 400, "invalid_request", f"keeps one calibration per device, '{calibration_id}'"
    )
    wrong_type = client.post("/api/v1/jobs", json={**body, "calibration_id": 7})
    assert_ibm_error(wrong_type, 400, "invalid_request", "'calibration_id' must be a string")


def rzz_on_fez(angle: float | Parameter) -> QuantumCircuit:
    """A circuit with one rzz on qubits 0 and 1, ISA for fake_fez (not transpiled: the
    transpiler would fold a numeric angle into range)."""
    circuit = QuantumCircuit(2)
    circuit.rzz(angle, 0, 1)
    circuit.measure_all()
    return circuit


@pytest.mark.parametrize(
    ("angle", "values", "message"),
    [
        (2.0, None, "range [0, pi/2]"),
        (-0.1, None, "range [0, pi/2]"),
        (Parameter("theta"), [2.0], "range [0, pi/2]"),
        (Parameter("theta") ** 0.5, [-1.0], "cannot be evaluated"),  # complex: no angle
    ],
)
def test_rzz_angles_outside_ibms_range_are_refused(
    client: Client, angle: Any, values: list[float] | None, message: str
) -> None:
    """What the client checks for IBM devices, checked again for raw requests: a numeric angle,
    or a parameter's value, outside [0, pi/2] is a 400, and nothing is stored."""
    body = encode_job_body("sampler", "fake_fez@aer", [(rzz_on_fez(angle), values, 10)])
    before = client.get("/api/v1/jobs").json()["count"]
    response = client.post("/api/v1/jobs", json=body)
    assert_ibm_error(response, 400, "invalid_request", message)
    assert client.get("/api/v1/jobs").json()["count"] == before


def test_rzz_angles_in_range_run(client: Client) -> None:
    theta = Parameter("theta")
    body = encode_job_body(
        "sampler", "fake_fez@aer", [(rzz_on_fez(0.5), None, 10), (rzz_on_fez(theta), [1.5], 10)]
    )
    assert wait_final(client, submit(client, body))["state"]["status"] == "Completed"


def test_measure_2_is_refused_where_the_device_lacks_it_and_runs_where_it_has_it(
    client: Client,
) -> None:
    """The server's own ISA check sees ``measure_2`` as sent (raw requests skip the client's)."""
    from qiskit_ibm_runtime.circuit import MidCircuitMeasure

    circuit = QuantumCircuit(1, 2)
    circuit.x(0)
    circuit.append(MidCircuitMeasure(), [0], [0])
    circuit.measure(0, 1)
    refused = client.post(
        "/api/v1/jobs", json=encode_job_body("sampler", "fake_fez@aer", [(circuit, None, 10)])
    )
    assert_ibm_error(refused, 400, "invalid_request", "measure_2")
    body = encode_job_body(
        "sampler",
        "fake_kingston@aer",
        [(circuit, None, 200)],
        options={"simulator": {"seed_simulator": 7}},
    )
    job = wait_final(client, submit(client, body))
    assert job["state"]["status"] == "Completed"
    result = json.loads(client.get(f"/api/v1/jobs/{job['id']}/results").text, cls=RuntimeDecoder)
    counts = result[0].data.c.get_counts()
    # Both measurements read the 1: P(11) = 0.944 with the device's noise (20,000 shots: the
    # readout errors, measure_2's error, the X and T1 during the measurement), 189 +- 3.3 of
    # 200; 170 is 5.8 standard deviations below (an unseeded "> 180" failed once in CI).
    assert counts.get("11", 0) >= 170, counts
