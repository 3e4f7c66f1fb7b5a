"""``/instances/usage``."""

from __future__ import annotations

from httpx import Client


def test_usage_shape(client: Client) -> None:
    body = client.get("/api/v1/instances/usage").json()
    assert body["usage_limit_reached"] is False
    assert body["usage_consumed_seconds"] >= 0
