"""API keys, tokens and instance isolation on a real ``serve`` process, with the real client.

Alice's key may use instance A, Bob's instance B. Everything Alice creates must be invisible
to Bob (404, never 403, so that ids do not leak) and absent from his lists, counts and usage.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import SamplerV2
from qiskit_ibm_runtime.exceptions import IBMRuntimeError
from qiskit_runtime_server.auth.keyfile import load, save
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.testing import encode_job_body
from qiskit_runtime_server.tokens import ISSUER
from qrs_test_plugins.processes import ServerProcess

CRN_A = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:instance-a::"
CRN_B = "crn:v1:bluemix:public:quantum-computing:us-east:a/team:instance-b::"
SECRET = "test-token-secret-" + "x" * 32
GRANT = "urn:ibm:params:oauth:grant-type:apikey"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Secured:
    server: ServerProcess
    keys_file: Path
    alice: str
    bob: str

    def token(self, key: str) -> str:
        response = httpx.post(
            f"{self.server.url}/identity/token",
            content=f"grant_type={GRANT}&apikey={key}",
            headers=FORM,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def client(self, key: str, crn: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(key)}", "Service-CRN": crn}
        return httpx.Client(base_url=f"{self.server.url}/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    data_dir = tmp_path_factory.mktemp("secured")
    keys_file = data_dir / "keys.toml"
    keys = load(keys_file)
    _, alice = keys.add("alice", [CRN_A], instance_name="instance-a", max_executions=100_000)
    _, bob = keys.add("bob", [CRN_B], instance_name="instance-b", max_queued_jobs=2)
    save(keys_file, keys)
    environment = {
        "QRS_API_KEYS_FILE": str(keys_file),
        "QRS_TOKEN_SECRET": SECRET,
        "QRS_LOG_LEVEL": "debug",
        "QRS_WORKERS": "1",
        "QRS_PLUGINS": '["qrs_test_plugins.testkit"]',
    }
    with ServerProcess(data_dir, extra_env=environment) as server:
        server.wait_ready()
        yield Secured(server, keys_file, alice, bob)


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errors"][0]["code"]


def test_runtime_calls_need_a_valid_token_for_the_instance(secured: Secured) -> None:
    url = f"{secured.server.url}/api/v1/backends"
    assert error_code(httpx.get(url)) == (401, "unauthorized")
    assert error_code(httpx.get(url, headers={"Authorization": "Bearer garbage"})) == (
        401,
        "unauthorized",
    )
    assert error_code(httpx.get(url, headers={"Authorization": "Basic YTpi"})) == (
        401,
        "unauthorized",
    )
    now = int(time.time())
    kid = load(secured.keys_file).find(secured.alice)
    assert kid is not None
    expired = jwt.encode(
        {"iss": ISSUER, "sub": "alice", "kid": kid.id, "iat": now - 7200, "exp": now - 3600},
        SECRET,
        algorithm="HS256",
    )
    response = httpx.get(url, headers={"Authorization": f"Bearer {expired}", "Service-CRN": CRN_A})
    assert error_code(response) == (401, "unauthorized")
    assert "expired" in response.json()["errors"][0]["message"]
    forged = jwt.encode({"iss": ISSUER, "kid": kid.id, "exp": now + 60}, "f" * 32, "HS256")
    response = httpx.get(url, headers={"Authorization": f"Bearer {forged}", "Service-CRN": CRN_A})
    assert error_code(response) == (401, "unauthorized")
    # A valid token for another instance: forbidden.
    with secured.client(secured.alice, CRN_B) as alice_on_b:
        assert error_code(alice_on_b.get("/backends")) == (403, "forbidden")
    with secured.client(secured.alice, CRN_A) as alice:
        assert alice.get("/backends").status_code == 200
    # The client's fallback when the token exchange fails.
    fallback = {"Authorization": f"apikey {secured.alice}", "Service-CRN": CRN_A}
    assert httpx.get(url, headers=fallback).status_code == 200
    assert error_code(
        httpx.post(f"{secured.server.url}/identity/token",
                   content=f"grant_type={GRANT}&apikey=wrong", headers=FORM)
    ) == (400, "invalid_request")  # fmt: skip
    # Probes stay open; the plugin report does not.
    assert httpx.get(f"{secured.server.url}/livez").status_code == 200
    assert httpx.get(f"{secured.server.url}/-/plugins").status_code == 401


def test_the_real_client_sees_only_its_instances(secured: Secured) -> None:
    alice = connect(secured.server.url, token=secured.alice)
    assert [i["crn"] for i in alice.instances()] == [CRN_A]
    bob = connect(secured.server.url, token=secured.bob, instance="instance-b")
    assert [i["crn"] for i in bob.instances()] == [CRN_B]
    with pytest.raises(Exception, match="instance"):
        connect(secured.server.url, token=secured.bob, instance=CRN_A).backends()


def test_one_instance_never_sees_another_instances_jobs_or_sessions(secured: Secured) -> None:
    alice_service = connect(secured.server.url, token=secured.alice, instance=CRN_A)
    backend = alice_service.backend("fake_manila@aer")
    isa = generate_preset_pass_manager(1, backend=backend).run(bell())
    job = SamplerV2(mode=backend).run([isa], shots=100)
    assert job.result()[0].data.meas.num_shots == 100
    job_id = job.job_id()

    with secured.client(secured.alice, CRN_A) as alice:
        session = alice.post("/sessions", json={"backend": "fake_manila@aer", "mode": "dedicated"})
        assert session.status_code == 200, session.text
        session_id = session.json()["id"]
        assert alice.get(f"/jobs/{job_id}").status_code == 200
        usage_a = alice.get("/instances/usage").json()["usage_consumed_seconds"]
        assert usage_a > 0

    with secured.client(secured.bob, CRN_B) as bob:
        for method, path, body in [
            ("GET", f"/jobs/{job_id}", None),
            ("GET", f"/jobs/{job_id}/results", None),
            ("GET", f"/jobs/{job_id}/logs", None),
            ("GET", f"/jobs/{job_id}/metrics", None),
            ("PUT", f"/jobs/{job_id}/tags", {"tags": ["mine"]}),
            ("POST", f"/jobs/{job_id}/cancel", None),
            ("DELETE", f"/jobs/{job_id}", None),
            ("GET", f"/sessions/{session_id}", None),
            ("PATCH", f"/sessions/{session_id}", {"accepting_jobs": False}),
            ("DELETE", f"/sessions/{session_id}/close", None),
        ]:
            response = bob.request(method, path, json=body)
            assert error_code(response) == (404, "not_found"), (method, path, response.text)
        listed = bob.get("/jobs").json()
        assert listed["count"] == 0
        assert listed["jobs"] == []
        assert bob.get("/instances/usage").json()["usage_consumed_seconds"] == 0
        # Submitting into Alice's session from instance B: not found either.
        body = encode_job_body("sampler", "fake_manila@aer", [(isa, None, 10)])
        response = bob.post("/jobs", json={**body, "session_id": session_id})
        assert error_code(response) == (404, "not_found")

    bob_service = connect(secured.server.url, token=secured.bob, instance=CRN_B)
    assert job_id not in [j.job_id() for j in bob_service.jobs()]
    with pytest.raises(IBMRuntimeError):
        bob_service.job(job_id)
    # And Alice's job is untouched.
    with secured.client(secured.alice, CRN_A) as alice:
        state = alice.get(f"/jobs/{job_id}").json()
        assert state["state"]["status"] == "Completed"
        assert state["tags"] == []
        assert alice.get(f"/sessions/{session_id}").json()["state"] == "open"


def sleeping_job(seconds: int) -> dict[str, Any]:
    circuit = QuantumCircuit(1, metadata={"testkit": f"sleep:{seconds}"})
    circuit.measure_all()
    return encode_job_body("sampler", "ideal_simulator@testkit", [(circuit, None, 10)])


def test_instance_limits(secured: Secured) -> None:
    with secured.client(secured.bob, CRN_B) as bob:
        ids = [bob.post("/jobs", json=sleeping_job(60)).json()["id"] for _ in range(2)]
        response = bob.post("/jobs", json=sleeping_job(60))
        assert error_code(response) == (409, "limit_exceeded")
        assert "2 jobs queued or running" in response.json()["errors"][0]["message"]
        for job_id in ids:
            assert bob.post(f"/jobs/{job_id}/cancel").status_code == 204
        assert bob.post("/jobs", json=sleeping_job(0)).status_code == 200
    with secured.client(secured.alice, CRN_A) as alice:
        circuit = QuantumCircuit(1)
        circuit.measure_all()
        body = encode_job_body("sampler", "ideal_simulator@aer", [(circuit, None, 100_001)])
        response = alice.post("/jobs", json=body)
        assert error_code(response) == (400, "invalid_request")
        assert "100,001 executions" in response.json()["errors"][0]["message"]


def test_revoked_key_and_its_tokens_stop_working(secured: Secured) -> None:
    keys = load(secured.keys_file)
    _, carol = keys.add("carol", [CRN_A])
    save(secured.keys_file, keys)
    time.sleep(1.2)  # the server re-reads the file at most once a second
    with secured.client(carol, CRN_A) as client:
        assert client.get("/backends").status_code == 200
        keys = load(secured.keys_file)
        record = keys.find(carol)
        assert record is not None
        keys.revoke(record.id)
        save(secured.keys_file, keys)
        time.sleep(1.2)
        assert error_code(client.get("/backends")) == (401, "unauthorized")


def test_keys_and_tokens_never_reach_the_log(secured: Secured) -> None:
    token = secured.token(secured.alice)
    with secured.client(secured.alice, CRN_A) as alice:
        alice.get("/jobs", params={"limit": 1})
    httpx.get(f"{secured.server.url}/api/v1/jobs", headers={"Authorization": "apikey wrong"})
    log = secured.server.log.read_text()
    assert '"GET /api/v1/jobs?limit=1 HTTP/1.1" 200' in log  # the access log is in there
    for secret in (secured.alice, secured.bob, token, SECRET, "apikey wrong"):
        assert secret not in log


def run_serve(
    *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qiskit_runtime_server.cli", "serve", *arguments],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_public_bind_without_keys_is_refused(tmp_path: Path) -> None:
    result = run_serve("--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.returncode != 0
    assert "refusing to serve on 0.0.0.0 without API keys" in result.stderr
    assert "keys create" in result.stderr
    missing = run_serve("--host", "0.0.0.0", "--api-keys-file", str(tmp_path / "none.toml"))
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_with_a_certificate(tmp_path: Path) -> None:
    certificate, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = ServerProcess(tmp_path, extra_env={"QRS_PRESTART_WORKERS": "false"})
    server.command += ["--ssl-certfile", str(certificate), "--ssl-keyfile", str(key)]
    with server:
        deadline = time.monotonic() + 120
        while True:
            try:
                context = ssl.create_default_context(cafile=str(certificate))
                response = httpx.get(f"https://127.0.0.1:{server.port}/livez", verify=context)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, server.log.read_text()
                time.sleep(0.2)
        assert response.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{server.port}/livez", timeout=5)
