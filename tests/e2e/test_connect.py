"""Connecting the unmodified client: the helper, the shell exports, and a saved account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qiskit_runtime_server.client import connect
from qiskit_runtime_server.settings import DEFAULT_INSTANCE_CRN
from qiskit_runtime_server.testing import LiveServer

CLIENT_VARIABLES = (
    "IAM_URL",
    "GLOBAL_SEARCH_URL",
    "GLOBAL_CATALOG_URL",
    "QISKIT_IBM_TOKEN",
    "QISKIT_IBM_URL",
    "QISKIT_IBM_INSTANCE",
    "QISKIT_IBM_CHANNEL",
    "QISKIT_FUNCTIONS_EXPERIMENTAL",
)


def clean_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLIENT_VARIABLES}
    env["QISKIT_IBM_RUNTIME_LOG_LEVEL"] = "ERROR"
    return env


def run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_env_exports_let_a_bare_service_connect(server: LiveServer, tmp_path: Path) -> None:
    exports = subprocess.run(
        [sys.executable, "-m", "qiskit_runtime_server.cli", "env", "--url", server.url],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    script = tmp_path / "client.sh"
    script.write_text(
        f"{exports}\n"
        f'exec {sys.executable} -c "'
        "from qiskit_ibm_runtime import QiskitRuntimeService; "
        "service = QiskitRuntimeService(); "
        "print(service.backend('fake_manila@aer').num_qubits)\"\n"
    )
    result = subprocess.run(
        ["bash", str(script)], env=clean_environment(), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"


def test_saved_account(server: LiveServer, tmp_path: Path) -> None:
    """``save_account(url=...)`` works too: only IAM and discovery need environment variables."""
    from qiskit_runtime_server.client import client_environment, saved_account_url

    env = clean_environment() | client_environment(server.url)
    accounts = tmp_path / "accounts.json"
    code = (
        "from qiskit_ibm_runtime import QiskitRuntimeService\n"
        f"QiskitRuntimeService.save_account(channel='ibm_quantum_platform', token='local', "
        f"url={saved_account_url(server.url)!r}, filename={str(accounts)!r}, name='local', "
        "set_as_default=True)\n"
        f"service = QiskitRuntimeService(filename={str(accounts)!r}, name='local')\n"
        "print(service.backend('ideal_simulator@aer').name)\n"
    )
    assert run_python(code, env).strip() == "ideal_simulator@aer"


def test_connect_with_an_instance_crn_or_name(server: LiveServer) -> None:
    by_crn = connect(server.url, instance=DEFAULT_INSTANCE_CRN)
    assert by_crn.backend("fake_manila@aer").name == "fake_manila@aer"
    by_name = connect(server.url, instance="local")
    assert by_name.active_account()["instance"] == DEFAULT_INSTANCE_CRN


def test_env_rejects_a_bad_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qiskit_runtime_server.cli", "env", "--url", "localhost:8000"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "expected the server's URL" in result.stderr
