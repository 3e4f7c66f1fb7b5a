"""Global Search and Global Catalog, as the client's instance discovery reads them."""

from __future__ import annotations

from httpx import Client
from qiskit_runtime_server.settings import DEFAULT_INSTANCE_CRN

from ...conftest import assert_ibm_error


def test_search_lists_the_instance_with_extensions(client: Client) -> None:
    body = client.post(
        "/v3/resources/search?limit=100", json={"query": "service_name:quantum-computing"}
    ).json()
    (item,) = body["items"]
    assert item["crn"] == DEFAULT_INSTANCE_CRN
    assert item["doc"]["extensions"]
    assert not body["search_cursor"]
    entry = client.get(f"/catalog/{item['service_plan_unique_id']}").json()
    assert entry["metadata"]["pricing"]["type"] == "free"
    assert entry["overview_ui"]["en"]["display_name"]


def test_unknown_plan_is_404(client: Client) -> None:
    assert_ibm_error(client.get("/catalog/unknown"), 404, "not_found")
