"""Every error the API returns uses IBM's error container, even for routing errors."""

from __future__ import annotations

from httpx import Client

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
