"""``POST /identity/token``: IAM's token exchange."""

from __future__ import annotations

import jwt
from httpx import Client

from ...conftest import assert_ibm_error

GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def test_token_is_a_jwt_with_iat_and_exp(client: Client) -> None:
    response = client.post(
        "/identity/token",
        content=f"grant_type={GRANT}&apikey=anything&response_type=cloud_iam",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 3600


def test_bad_grant_and_missing_key(client: Client) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_ibm_error(
        client.post("/identity/token", content="grant_type=password", headers=form),
        400, "invalid_request", "grant_type",
    )  # fmt: skip
    assert_ibm_error(
        client.post("/identity/token", content=f"grant_type={GRANT}", headers=form),
        400, "invalid_request", "apikey",
    )  # fmt: skip
