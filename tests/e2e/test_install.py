"""Each distribution installs on its own into an empty virtual environment.

``pip install ./core`` gives a server that starts, says no executor is installed and serves an
empty catalogue; adding ``./plugins/aer`` gives a working server; adding ``./plugins/custatevec``
(without its CUDA extras, on this host without a GPU) lists the custatevec executor as
unavailable with the reason, its backends offline, and jobs sent to them refused with a 400. Uses uv to build the
environment, with the versions of the workspace's ``uv.lock`` (a release on PyPI since the lock
cannot change what this test sees; the packages come from uv's cache).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from qiskit import QuantumCircuit
from qiskit_runtime_server.testing import encode_job_body
from qrs_test_plugins.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # three installs and three cold servers on a loaded 2-core machine
    pytest.mark.skipif(UV is None, reason="uv is needed to build a fresh virtual environment"),
]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, check=True
    )


def test_core_alone_then_with_aer_then_with_custatevec(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)  # type: ignore[arg-type]
    python = venv / "bin" / "python"
    locked = tmp_path / "constraints.txt"
    run(UV, "export", "--project", ROOT, "--frozen", "--no-hashes", "--no-emit-workspace", "--no-emit-local",  # type: ignore[arg-type]
        "--all-packages", "--quiet", "--output-file", locked)  # fmt: skip

    def install(distribution: Path) -> None:
        # Compiled once here: servers started with PYTHONDONTWRITEBYTECODE would otherwise
        # compile qiskit from source at every start.
        run(UV, "pip", "install", "--quiet", "--compile-bytecode", "--python", python,  # type: ignore[arg-type]
            "--constraint", locked, distribution)  # fmt: skip

    install(ROOT / "core")

    listing = run(venv / "bin" / "qiskit-runtime-server", "plugins").stdout
    assert "No executor is installed" in listing
    server_command = [str(venv / "bin" / "qiskit-runtime-server")]
    with ServerProcess(tmp_path / "core-only", executable=server_command) as server:
        ready = server.wait_ready(status=503)
        assert "no executor" in ready.json()["reason"]
        assert httpx.get(f"{server.url}/api/v1/backends").json() == {"devices": []}
    assert "No executor is installed" in server.log.read_text()

    install(ROOT / "plugins" / "aer")
    assert "executor aer: CPU" in run(venv / "bin" / "qiskit-runtime-server", "plugins").stdout
    with ServerProcess(tmp_path / "with-aer", executable=server_command) as server:
        server.wait_ready()
        url = server.url
        names = {d["name"] for d in httpx.get(f"{url}/api/v1/backends").json()["devices"]}
        assert len(names) == 69 + 66  # and IBM's names of 66 devices, on aer
        assert {"fake_kyiv@aer", "ibm_kyiv"} <= names
        circuit = QuantumCircuit(1)
        circuit.x(0)
        circuit.measure_all()
        body = encode_job_body("sampler", "ideal_simulator@aer", [(circuit, None, 10)])
        job_id = httpx.post(f"{url}/api/v1/jobs", json=body).json()["id"]
        deadline = time.monotonic() + 60
        while (status := httpx.get(f"{url}/api/v1/jobs/{job_id}").json()["state"]["status"]) in (
            "Queued",
            "Running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert status == "Completed"

    install(ROOT / "plugins" / "custatevec")
    listing = run(venv / "bin" / "qiskit-runtime-server", "plugins").stdout
    assert "executor custatevec: GPU" in listing
    assert "unavailable: CuPy is not importable" in listing
    with ServerProcess(tmp_path / "with-custatevec", executable=server_command) as server:
        server.wait_ready()
        url = server.url
        devices = httpx.get(f"{url}/api/v1/backends").json()["devices"]
        assert len(devices) == 2 * 69 + 66  # IBM's names stay on aer, the default
        status = httpx.get(f"{url}/api/v1/backends/fake_manila@custatevec/status").json()
        assert status["state"] is False
        assert "CuPy is not importable" in status["message"]
        body = encode_job_body("sampler", "fake_manila@custatevec", [(circuit, None, 10)])
        refused = httpx.post(f"{url}/api/v1/jobs", json=body)
        assert refused.status_code == 400
        assert "not available" in refused.text
