"""Hostile requests, one table: each gets exactly this status and error code, and the server
answers a normal request afterwards with nothing lost."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from httpx import Client
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from qiskit_runtime_server.testing import encode_job_body

from ..conftest import MAX_BODY_BYTES, assert_ibm_error

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/hostile:instance::"


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


SAMPLER = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 100)])
_theta = Parameter("theta")
_rotation = QuantumCircuit(1)
_rotation.ry(_theta, 0)
ESTIMATOR = encode_job_body(
    "estimator", "ideal_simulator@aer", [(_rotation, SparsePauliOp("Z"), [[0.1]], 0.01)]
)
MANILA_NOT_ISA = encode_job_body("sampler", "fake_manila@aer", [(bell(), None, 100)])
_wide = QuantumCircuit(6)
_wide.measure_all()
MANILA_TOO_WIDE = encode_job_body("sampler", "fake_manila@aer", [(_wide, None, 100)])
MANILA_ISA = encode_job_body(
    "sampler",
    "fake_manila@aer",
    [(generate_preset_pass_manager(1, backend=FakeManilaV2()).run(bell()), None, 100)],
)


def with_changes(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> str:
    changed = copy.deepcopy(body)
    change(changed)
    return json.dumps(changed)


def set_path(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def change(body: dict[str, Any]) -> None:
        node: Any = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def qpy_value(text: str) -> dict[str, Any]:
    return {"__type__": "QuantumCircuit", "__value__": text}


@dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    code: str
    body: str | bytes | Iterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fragment: str = ""


JSON = {"Content-Type": "application/json"}
GARBAGE_QPY = base64.b64encode(b"QISKIT" + b"\x00\xff" * 40).decode()

# fmt: off
CASES = [
    # -- bodies that are not the JSON object they must be
    Case("malformed json", "POST", "/jobs", 400, "invalid_request", '{"program_id":', JSON, "JSON"),
    Case("json array", "POST", "/jobs", 400, "invalid_request", "[]", JSON, "object"),
    Case("json string", "POST", "/jobs", 400, "invalid_request", '"sampler"', JSON, "object"),
    Case("empty body", "POST", "/jobs", 400, "invalid_request", b"", JSON, "JSON"),
    Case("invalid utf-8", "POST", "/jobs", 400, "invalid_request", b'{"a":"\xff\xfe"}', JSON),
    Case(
        "deep nesting",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        "[" * 100_000 + "]" * 100_000,
        JSON,
        "JSON",
    ),
    Case(
        "nan shots",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "options", {"default_shots": float("nan")})),
        JSON,
        "NaN is not a JSON value",
    ),
    Case(
        "wrong content type",
        "POST",
        "/jobs",
        415,
        "unsupported_media_type",
        json.dumps(SAMPLER),
        {"Content-Type": "text/plain"},
    ),
    Case(
        "form content type",
        "POST",
        "/jobs",
        415,
        "unsupported_media_type",
        "a=b",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "oversized body",
        "POST",
        "/jobs",
        413,
        "payload_too_large",
        b" " * (MAX_BODY_BYTES + 1),
        JSON,
        "limit",
    ),
    Case(
        "oversized chunked body",
        "POST",
        "/jobs",
        413,
        "payload_too_large",
        iter([b" " * 2**20] * 5),
        JSON,
        "limit",
    ),
    # -- the job's fields
    Case(
        "no program",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, lambda b: b.pop("program_id")),
        JSON,
        "program_id",
    ),
    Case(
        "program not a string",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("program_id", 5)),
        JSON,
        "program_id",
    ),
    Case(
        "unknown program",
        "POST",
        "/jobs",
        404,
        "not_found",
        with_changes(SAMPLER, set_path("program_id", "rm -rf")),
        JSON,
        "program",
    ),
    Case(
        "no backend",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, lambda b: b.pop("backend")),
        JSON,
        "backend",
    ),
    Case(
        "backend as list",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("backend", ["x"])),
        JSON,
        "backend",
    ),
    Case(
        "unknown backend",
        "POST",
        "/jobs",
        404,
        "not_found",
        with_changes(SAMPLER, set_path("backend", "fake_nowhere@aer")),
        JSON,
        "backend",
    ),
    Case(
        "params as string",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs")),
        JSON,
        "params",
    ),
    Case(
        "version 1",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "version", 1)),
        JSON,
        "version",
    ),
    Case(
        "no pubs",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", [])),
        JSON,
        "pubs",
    ),
    Case(
        "pub not a list",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", ["circuit"])),
        JSON,
        "PUB 0",
    ),
    Case(
        "garbage base64",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", 0, 0, qpy_value("!!not base64!!"))),
        JSON,
        "QuantumCircuit",
    ),
    Case(
        "garbage qpy",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", 0, 0, qpy_value(GARBAGE_QPY))),
        JSON,
        "QuantumCircuit",
    ),
    Case(
        "unknown encoded type",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(
            SAMPLER, set_path("params", "pubs", 0, 0, {"__type__": "Result", "__value__": {}})
        ),
        JSON,
        "unsupported encoded type",
    ),
    Case(
        "settings of a foreign class",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(
            SAMPLER,
            set_path(
                "params",
                "pubs",
                0,
                0,
                {
                    "__type__": "settings",
                    "__module__": "subprocess",
                    "__class__": "Popen",
                    "__value__": {"args": ["true"]},
                },
            ),
        ),
        JSON,
        "PUB 0",
    ),
    Case(
        "_json of a foreign class",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(
            SAMPLER,
            set_path(
                "params",
                "pubs",
                0,
                0,
                {
                    "__type__": "_json",
                    "__module__": "subprocess",
                    "__class__": "Popen",
                    "__value__": {"args": ["true"]},
                },
            ),
        ),
        JSON,
        "unsupported encoded class subprocess.Popen",
    ),
    Case(
        "negative shots",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", 0, 2, -5)),
        JSON,
        "shots",
    ),
    Case(
        "float shots",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", 0, 2, 1.5)),
        JSON,
        "shots",
    ),
    Case(
        "string shots",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "options", {"default_shots": "many"})),
        JSON,
        "default_shots",
    ),
    Case(
        "huge shots",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "pubs", 0, 2, 10**12)),
        JSON,
        "executions",
    ),
    Case(
        "zero precision",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(ESTIMATOR, set_path("params", "pubs", 0, 3, 0)),
        JSON,
        "precision",
    ),
    Case(
        "negative default precision",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(ESTIMATOR, set_path("params", "options", {"default_precision": -0.1})),
        JSON,
        "default_precision",
    ),
    Case(
        "tiny precision",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(ESTIMATOR, set_path("params", "pubs", 0, 3, 1e-9)),
        JSON,
        "executions",
    ),
    Case(
        "observable garbage",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(ESTIMATOR, set_path("params", "pubs", 0, 1, {"QQ": 1})),
        JSON,
        "PUB 0",
    ),
    Case(
        "shapes that do not broadcast",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(
            ESTIMATOR,
            lambda b: b["params"]["pubs"][0].__setitem__(
                slice(1, 3), [[{"Z": 1}, {"X": 1}], [[0.1], [0.2], [0.3]]]
            ),
        ),
        JSON,
        "PUB 0",
    ),
    Case(
        "parameter values not numbers",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(ESTIMATOR, set_path("params", "pubs", 0, 2, [["a"]])),
        JSON,
        "PUB 0",
    ),
    Case(
        "options not an object",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("params", "options", [1])),
        JSON,
        "options",
    ),
    Case(
        "seed as string",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(
            SAMPLER, set_path("params", "options", {"simulator": {"seed_simulator": "x"}})
        ),
        JSON,
        "seed_simulator",
    ),
    Case(
        "coupling map garbage",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(
            SAMPLER, set_path("params", "options", {"simulator": {"coupling_map": [[0, "a"]]}})
        ),
        JSON,
        "coupling_map",
    ),
    Case(
        "more qubits than the backend",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        json.dumps(MANILA_TOO_WIDE),
        JSON,
        "has 5",
    ),
    Case(
        "not ISA for the device",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        json.dumps(MANILA_NOT_ISA),
        JSON,
        "ISA",
    ),
    Case(
        "tags not a list",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("tags", "a,b")),
        JSON,
        "tags",
    ),
    Case(
        "too many tags",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("tags", [str(i) for i in range(101)])),
        JSON,
        "tags",
    ),
    Case(
        "negative cost",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("cost", -1)),
        JSON,
        "cost",
    ),
    Case(
        "session id as number",
        "POST",
        "/jobs",
        400,
        "invalid_request",
        with_changes(SAMPLER, set_path("session_id", 7)),
        JSON,
        "session_id",
    ),
    Case(
        "unknown session",
        "POST",
        "/jobs",
        404,
        "not_found",
        with_changes(SAMPLER, set_path("session_id", "' OR 1=1 --")),
        JSON,
        "session",
    ),
    # -- odd ids, filters and headers
    Case("sql-like job id", "GET", "/jobs/' OR '1'='1", 404, "not_found"),
    Case("encoded path traversal id", "GET", "/jobs/..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
    Case("very long job id", "GET", "/jobs/" + "a" * 5000, 404, "not_found"),
    Case("nul in job id", "GET", "/jobs/%00", 404, "not_found"),
    Case("cancel unknown job", "POST", "/jobs/nope/cancel", 404, "not_found"),
    Case(
        "tags of unknown job", "PUT", "/jobs/nope/tags", 404, "not_found", '{"tags": ["x"]}', JSON
    ),
    Case(
        "tags body not a list",
        "PUT",
        "/jobs/nope/tags",
        400,
        "invalid_request",
        '{"tags": {"a": 1}}',
        JSON,
        "tags",
    ),
    Case("limit negative", "GET", "/jobs?limit=-1", 400, "invalid_request", fragment="limit"),
    Case("limit not a number", "GET", "/jobs?limit=ten", 400, "invalid_request", fragment="limit"),
    Case("limit too large", "GET", f"/jobs?limit={2**31}", 400, "invalid_request", fragment="limit"),
    Case("pending not a bool", "GET", "/jobs?pending=maybe", 400, "invalid_request"),
    Case("bad date filter", "GET", "/jobs?created_after=yesterday", 400, "invalid_request"),
    Case(
        "bad sort", "GET", "/jobs?sort=1;DROP TABLE jobs", 400, "invalid_request", fragment="sort"
    ),
    Case(
        "bad service crn",
        "GET",
        "/jobs",
        400,
        "invalid_request",
        headers={"Service-CRN": "not-a-crn"},
        fragment="Service-CRN",
    ),
    Case(
        "huge service crn",
        "GET",
        "/jobs",
        400,
        "invalid_request",
        headers={"Service-CRN": "crn:" + "x" * 10_000},
        fragment="Service-CRN",
    ),
    # -- sessions
    Case(
        "session mode unknown",
        "POST",
        "/sessions",
        400,
        "invalid_request",
        '{"backend": "fake_manila@aer", "mode": "exclusive"}',
        JSON,
        "mode",
    ),
    Case(
        "session max_ttl negative",
        "POST",
        "/sessions",
        400,
        "invalid_request",
        '{"backend": "fake_manila@aer", "mode": "batch", "max_ttl": -5}',
        JSON,
        "max_ttl",
    ),
    Case("session body array", "POST", "/sessions", 400, "invalid_request", "[1]", JSON),
    Case(
        "session of unknown backend",
        "POST",
        "/sessions",
        404,
        "not_found",
        '{"backend": "<script>"}',
        JSON,
        "backend",
    ),
    Case(
        "close unknown session",
        "PATCH",
        "/sessions/nope",
        404,
        "not_found",
        '{"accepting_jobs": false}',
        JSON,
    ),
    Case("cancel unknown session", "DELETE", "/sessions/nope/close", 404, "not_found"),
    # -- backends, routing, methods
    Case("unknown backend config", "GET", "/backends/nope/configuration", 404, "not_found"),
    Case("injection backend status", "GET", "/backends/x'%3B--/status", 404, "not_found"),
    Case("unknown route", "GET", "/nowhere", 404, "not_found"),
    Case("wrong method on jobs", "PATCH", "/jobs", 405, "method_not_allowed"),
    Case("wrong method on backends", "DELETE", "/backends", 405, "method_not_allowed"),
    Case("wrong method on a job", "POST", "/jobs/nope", 405, "method_not_allowed"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request(client: Client, case: Case) -> None:
    response = client.request(
        case.method,
        "/api/v1" + case.path,
        content=case.body,
        headers={"Service-CRN": CRN, **case.headers},
    )
    assert_ibm_error(response, case.status, case.code, case.fragment)


def test_token_exchange_hostile_forms(client: Client) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in ("", "grant_type=password&apikey=x", "%%%", "apikey=" + "k" * 100_000):
        assert_ibm_error(
            client.post("/identity/token", content=body, headers=form), 400, "invalid_request"
        )


def test_filters_with_injection_like_strings_find_nothing(client: Client) -> None:
    for params in (
        {"backend": "' OR '1'='1"},
        {"tags": "x'; DROP TABLE jobs; --"},
        {"program": "sampler' --"},
        {"session_id": '"); DELETE FROM jobs; --'},
    ):
        response = client.get("/api/v1/jobs", params=params, headers={"Service-CRN": CRN})
        assert response.status_code == 200, response.text
        assert response.json()["count"] == 0


def test_after_everything_a_normal_job_runs(client: Client) -> None:
    assert len(CASES) >= 40
    headers = {"Service-CRN": CRN}
    job_id = client.post("/api/v1/jobs", json=MANILA_ISA, headers=headers).json()["id"]
    deadline = time.monotonic() + 60
    while (status := client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()["status"]) in (
        "Queued",
        "Running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "Completed"
    assert client.get(f"/api/v1/jobs/{job_id}/results", headers=headers).status_code == 200
    # Nothing hostile was stored as a job.
    listed = client.get("/api/v1/jobs", headers=headers).json()
    assert listed["count"] == 1
