"""Bearer tokens in the shape IBM Cloud IAM issues them.

The client decodes the ``access_token`` as a JWT without checking its signature and needs its
``iat`` and ``exp`` claims to know when to refresh; the server signs it (HS256) so that it can
verify tokens it issued.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

ISSUER = "qiskit-runtime-server"


class TokenIssuer:
    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds

    def issue(self, subject: str, key_id: str | None = None) -> dict[str, Any]:
        """The body of ``POST /identity/token``, as IBM Cloud IAM returns it. ``kid`` names
        the API key, so that revoking the key invalidates its tokens."""
        now = int(time.time())
        expiration = now + self._lifetime
        claims: dict[str, Any] = {"iss": ISSUER, "sub": subject, "iat": now, "exp": expiration}
        if key_id is not None:
            claims["kid"] = key_id
        return {
            "access_token": jwt.encode(claims, self._secret, algorithm="HS256"),
            "refresh_token": "not_supported",
            "token_type": "Bearer",
            "expires_in": self._lifetime,
            "expiration": expiration,
            "scope": "ibm_openid",
        }

    def verify(self, token: str) -> dict[str, Any] | None:
        """The token's claims if this server issued it and it has not expired, else None."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=ISSUER
            )
        except jwt.PyJWTError:
            return None
        return claims
