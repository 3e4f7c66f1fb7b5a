"""Authentication and instance authorisation, without HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from qiskit_runtime_server.auth import AccessControl, InstanceConfig, Limits
from qiskit_runtime_server.auth.keyfile import load, save
from qiskit_runtime_server.errors import Forbidden, InvalidRequest, Unauthorized
from qiskit_runtime_server.tokens import ISSUER, TokenIssuer

CRN_A = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:alice::"
CRN_B = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:bob::"
DEFAULT = InstanceConfig("crn:v1:local::", "local")
LIMITS = Limits(max_queued_jobs=10, max_executions=1000)
SECRET = "s" * 32


def make(tmp_path: Path) -> tuple[AccessControl, str, str, Path]:
    path = tmp_path / "keys.toml"
    keys = load(path)
    _, alice = keys.add("alice", [CRN_A], max_executions=50)
    _, bob = keys.add("bob", [CRN_B])
    save(path, keys)
    return AccessControl(TokenIssuer(SECRET, 60), path, DEFAULT, LIMITS), alice, bob, path


def bearer(access: AccessControl, key: str) -> str:
    principal = access.exchange(key)
    return "Bearer " + access.tokens.issue(principal.user, principal.key_id)["access_token"]


def test_open_mode_lets_anyone_use_any_instance() -> None:
    access = AccessControl(TokenIssuer(SECRET, 60), None, DEFAULT, LIMITS)
    principal = access.authenticate(None)
    assert access.instance_for(principal, None) == DEFAULT.crn
    assert access.instance_for(principal, CRN_A) == CRN_A
    assert [i.crn for i in access.instances_of(principal)] == [DEFAULT.crn]


def test_keys_mode_needs_a_valid_credential(tmp_path: Path) -> None:
    access, alice, _, _ = make(tmp_path)
    for header in (None, "", "Bearer", "Bearer garbage", "Basic abc", "apikey wrong"):
        with pytest.raises(Unauthorized):
            access.authenticate(header)
    expired = jwt.encode(
        {"iss": ISSUER, "sub": "alice", "kid": access.exchange(alice).key_id,
         "iat": int(time.time()) - 120, "exp": int(time.time()) - 60},
        SECRET, algorithm="HS256",
    )  # fmt: skip
    with pytest.raises(Unauthorized, match="expired"):
        access.authenticate(f"Bearer {expired}")
    forged = jwt.encode({"iss": ISSUER, "kid": "k", "exp": 2**40}, "o" * 32, algorithm="HS256")
    with pytest.raises(Unauthorized):
        access.authenticate(f"Bearer {forged}")
    with pytest.raises(InvalidRequest, match="could not be found"):
        access.exchange("wrong")
    assert access.authenticate(bearer(access, alice)).user == "alice"
    assert access.authenticate(f"apikey {alice}").user == "alice"


def test_a_key_uses_only_its_instances(tmp_path: Path) -> None:
    access, alice, _, _ = make(tmp_path)
    principal = access.authenticate(bearer(access, alice))
    assert access.instance_for(principal, CRN_A) == CRN_A
    assert access.instance_for(principal, None) == CRN_A  # its only instance
    with pytest.raises(Forbidden):
        access.instance_for(principal, CRN_B)
    assert [i.crn for i in access.instances_of(principal)] == [CRN_A]
    assert access.limits(CRN_A) == Limits(max_queued_jobs=10, max_executions=50)
    assert access.limits(CRN_B) == LIMITS


def test_revoking_a_key_invalidates_its_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    access, alice, _, path = make(tmp_path)
    token = bearer(access, alice)
    keys = load(path)
    keys.revoke(access.exchange(alice).key_id or "")
    save(path, keys)
    monkeypatch.setattr("qiskit_runtime_server.auth.access.RELOAD_SECONDS", 0.0)
    with pytest.raises(Unauthorized, match="revoked"):
        access.authenticate(token)
    with pytest.raises(Unauthorized):
        access.authenticate(f"apikey {alice}")
