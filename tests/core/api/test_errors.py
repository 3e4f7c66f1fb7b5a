"""Every error the API returns uses IBM's error container, even for routing errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from httpx import Client
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer, encode_job_body
from qrs_test_plugins.circuits import bell
from qrs_test_plugins.databases import fresh_postgresql_database

from ..conftest import assert_ibm_error


def test_unknown_route_and_wrong_method(client: Client) -> None:
    assert_ibm_error(client.get("/api/v1/nowhere"), 404, "not_found")
    assert_ibm_error(client.delete("/api/v1/backends"), 405, "method_not_allowed")


def test_query_validation_is_400(client: Client) -> None:
    assert_ibm_error(client.get("/api/v1/jobs?limit=-1"), 400, "invalid_request", "limit")
    assert_ibm_error(client.get("/api/v1/jobs?sort=sideways"), 400, "invalid_request", "sort")
    assert_ibm_error(
        client.get("/api/v1/jobs?created_after=yesterday"), 400, "invalid_request", "created_after"
    )


def test_bad_service_crn_is_400(client: Client) -> None:
    assert_ibm_error(
        client.get("/api/v1/jobs", headers={"Service-CRN": "not-a-crn"}), 400, "invalid_request",
        "Service-CRN",
    )  # fmt: skip


def test_nan_and_infinity_are_not_json(client: Client) -> None:
    """Python's parser takes them; a job stored with them could not be answered as JSON."""
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = (
            '{"program_id": "sampler", "backend": "ideal_simulator@aer", '
            f'"params": {{"version": 2, "pubs": [], "options": {{"x": {constant}}}}}}}'
        )
        response = client.post(
            "/api/v1/jobs", content=body, headers={"Content-Type": "application/json"}
        )
        assert_ibm_error(response, 400, "invalid_request", f"{constant} is not a JSON value")


@pytest.fixture(scope="module")
def on_postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with fresh_postgresql_database() as url:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("postgresql"),
            database_url=url,
            prestart_workers=False,
            executors=["aer"],
        )
        with LiveServer(create_app(settings)) as server, Client(base_url=server.url) as http:
            yield http


def test_a_nul_character_is_a_400_on_postgresql(on_postgresql: Client) -> None:
    """PostgreSQL refuses NUL in text where SQLite stores it: in an id, a filter or a tag it
    is the caller's mistake, not the server's."""
    for path in (
        "/api/v1/jobs/a%00b",
        "/api/v1/jobs?backend=a%00b",
        "/api/v1/sessions/a%00b",
        "/dashboard/api/jobs/a%00b",
        "/dashboard/api/jobs?tags=a%00",
    ):
        response = on_postgresql.get(path)
        assert_ibm_error(response, 400, "invalid_request", "NUL")
    body = encode_job_body("sampler", "ideal_simulator@aer", [(bell(), None, 10)])
    body["tags"] = ["a\x00"]
    assert_ibm_error(on_postgresql.post("/api/v1/jobs", json=body), 400, "invalid_request", "NUL")
    assert on_postgresql.get("/api/v1/jobs").json()["jobs"] == []  # nothing half-stored
