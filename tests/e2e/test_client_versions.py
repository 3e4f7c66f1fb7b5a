"""The key user workflows with the other client release the project supports.

The workspace locks ``qiskit-ibm-runtime`` 0.51, which every other end-to-end test drives; the
project promises that 0.50 works too. This test builds a fresh virtual environment with uv
holding the latest 0.50.x (every other package at the version of ``uv.lock``, plus ``./core``
for ``qiskit_runtime_server.client.connect``), starts a server of the main environment on
loopback, and runs tests/e2e/client_workflows.py in that environment: Bell jobs on a Heron, a
pre-2021 and a Falcon device, parameter sets, EstimatorV2's 0-d results, usage, an unknown
calibration id, a private job, fractional gates, Session and Batch, and the primitives IBM is
moving to: Executor, the twirled client-side Sampler, the client-side Estimator with TREX and
ZNE, NoiseLearnerV3 and NoiseLearner. The script reports every workflow in JSON; the
assertions are here.

The 0.50 wheel comes from uv's cache, or PyPI when the cache lacks it: without uv or PyPI the
test skips with the reason, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("client_workflows.py")
REPORT_MARKER = "CLIENT-WORKFLOWS-REPORT "  # as in client_workflows.py
UV = shutil.which("uv")
#: Client releases tested here besides the locked one, as pip version specifiers.
CLIENT_VERSIONS = ["0.50.*"]
SHOTS = 4000
BELL_DEVICES = ("fake_fez@aer", "fake_london@aer", "fake_manila@aer")
#: How uv words a failure to reach the index (connection, DNS, TLS, timeouts, --offline misses).
NETWORK_ERROR = re.compile(
    r"Failed to fetch|error sending request|dns error|tcp connect|Connection refused|"
    r"timed out|network|certificate|not found in the cache",
    re.IGNORECASE,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # an install and a dozen noisy jobs on a loaded 2-core machine
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def cannot_install(reason: str) -> None:
    """Skip, or fail under CI: there the other client release must be tested."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this test must run there)")
    pytest.skip(reason)


def uv(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    return subprocess.run(
        [UV, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def client_environment(tmp_path: Path, version: str) -> Path:
    """A fresh virtual environment with ``qiskit-ibm-runtime==version``; its Python."""
    if UV is None:
        cannot_install("uv is needed to build a virtual environment with another client release")
    venv = tmp_path / "venv"
    created = uv("venv", "--quiet", "--python", sys.executable, venv)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"

    locked = uv("export", "--project", ROOT, "--frozen", "--no-hashes", "--no-emit-workspace",
                "--no-emit-local", "--all-packages", "--quiet")  # fmt: skip
    assert locked.returncode == 0, locked.stderr
    constraints = tmp_path / "constraints.txt"
    lines = locked.stdout.splitlines()
    constraints.write_text(
        "\n".join(line for line in lines if not line.startswith("qiskit-ibm-runtime=="))
    )

    # No --compile-bytecode: the client runs once, and compiling the whole environment (Qiskit,
    # SciPy) costs more than compiling what it imports.
    install = ("pip", "install", "--quiet", "--python", python, "--constraint", constraints,
               f"qiskit-ibm-runtime=={version}", ROOT / "core")  # fmt: skip
    installed = uv(*install, "--offline")  # from uv's cache, without asking PyPI
    if installed.returncode != 0:
        installed = uv(*install)
    if installed.returncode != 0:
        error = installed.stderr.strip()
        if NETWORK_ERROR.search(error):
            cannot_install(
                f"qiskit-ibm-runtime=={version} is not in uv's cache and PyPI is unreachable: "
                + error.splitlines()[-1].strip()
            )
        pytest.fail(f"installing qiskit-ibm-runtime=={version} failed:\n{error}")
    return python


def run_workflows(python: Path, url: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["QISKIT_IBM_RUNTIME_LOG_LEVEL"] = "ERROR"
    completed = subprocess.run(
        [str(python), str(SCRIPT), url],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    reports = [
        line.removeprefix(REPORT_MARKER)
        for line in completed.stdout.splitlines()
        if line.startswith(REPORT_MARKER)
    ]
    output = f"{completed.stdout[-3000:]}\n{completed.stderr[-6000:]}"
    assert completed.returncode == 0, f"the client script failed:\n{output}"
    assert reports, f"the client script printed no report:\n{output}"
    report: dict[str, Any] = json.loads(reports[-1])
    return report


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_key_workflows_with_another_client_release(tmp_path: Path, version: str) -> None:
    started = time.monotonic()
    python = client_environment(tmp_path, version)
    installed = time.monotonic()

    settings = Settings(data_dir=tmp_path / "data", workers=1)
    with LiveServer(create_app(settings)) as server:
        server.wait_ready()
        served = len(httpx.get(f"{server.url}/api/v1/backends", timeout=30).json()["devices"])
        report = run_workflows(python, server.url)
    print(
        f"client {report['client']}: installed in {installed - started:.0f} s, "
        f"workflows in {time.monotonic() - installed:.0f} s"
    )

    assert report["client"].startswith(version.removesuffix("*")), report["client"]
    checks = report["checks"]
    failed = {
        name: f"{check['error']}\n{check['traceback']}"
        for name, check in checks.items()
        if not check["ok"]
    }
    assert not failed, "\n\n".join(f"{name}: {error}" for name, error in failed.items())

    assert checks["backends"]["count"] == served

    for device in BELL_DEVICES:
        bell = checks[f"bell:{device}"]
        assert bell["status"] == "DONE", (device, bell)
        assert bell["num_shots"] == SHOTS, (device, bell)
        counts = bell["counts"]
        assert sum(counts.values()) == SHOTS
        assert counts.get("00", 0) + counts.get("11", 0) > 0.85 * SHOTS, (device, counts)
        assert min(counts.get("00", 0), counts.get("11", 0)) > 0.35 * SHOTS, (device, counts)

    assert checks["sampler_parameter_sets"]["type"] == "BitArray"
    assert checks["sampler_parameter_sets"]["shape"] == [3]

    estimator = checks["estimator_one_observable"]
    assert estimator["evs_type"] == estimator["stds_type"] == "ndarray"
    assert estimator["evs_shape"] == estimator["stds_shape"] == []
    # <ZZ> of a noisy Bell state at IBM's default resilience level 1: TREX removes the readout
    # error, so the value can exceed 1 by its shot error (about 0.02 at the default precision).
    assert 0.7 < estimator["evs"] <= 1.1

    assert checks["usage"]["has_usage_remaining_seconds"]

    unknown = checks["unknown_calibration_id"]
    assert unknown["raised"], unknown
    assert "QiskitBackendNotFoundError" in unknown["error"]

    private = checks["private_job"]
    assert private["status"] == "DONE"
    assert private["private"] is True
    assert private["inputs"] == {}

    assert checks["fractional_gates"] == {"ok": True, "rzz": True, "rx": True}

    for mode in ("session", "batch"):
        details = checks[mode]
        assert details["session_id"], (mode, details)
        assert details["job_session_id"] == details["session_id"], (mode, details)
        assert details["num_shots"] == 100, (mode, details)

    executor = checks["executor_program"]
    assert executor["shape"] == [3, 200, 2], executor
    assert executor["dtype"] == "bool", executor
    assert executor["agree"] > 0.85, executor  # a noisy Bell pair's bits mostly agree
    assert executor["inputs"] == "QuantumProgram", executor

    twirled = checks["client_side_sampler_twirled"]
    assert twirled["type"] == "PrimitiveResult", twirled
    assert twirled["num_shots"] == SHOTS, twirled
    counts = twirled["counts"]
    assert counts.get("00", 0) + counts.get("11", 0) > 0.85 * SHOTS, counts

    trex = checks["client_side_estimator_trex"]
    assert all(0.85 < value < 1.1 for value in trex["evs"]), trex  # <ZZ>, <XX> of a Bell pair

    zne = checks["client_side_estimator_zne"]
    assert zne["noise_factors"] == 3, zne
    assert 0.8 < zne["evs"] < 1.2, zne

    learned = checks["noise_learner_v3"]
    assert learned["num_qubits"] == 2, learned
    assert learned["terms"] == 15, learned
    assert all(rate >= 0 for rate in learned["rates"]), learned
    assert max(learned["rates"]) > 1e-4, learned  # fake_manila's CX(0,1) is noisy

    layers = checks["noise_learner_v2"]
    assert layers["layers"] >= 1, layers
    assert layers["max_rate"] > 1e-4, layers
