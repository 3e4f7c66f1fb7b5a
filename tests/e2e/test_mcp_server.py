"""IBM's MCP server for Qiskit Runtime (``qiskit-ibm-runtime-mcp-server``, dependency group
``mcp``) against a real server: every tool that makes sense on a simulator, as an agent calls
it, on IBM's device names (issue 21, item 3). The agent runs in a child process
(mcp_agent.py) with the environment ``qiskit-runtime-server env --url`` prints."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from qiskit import QuantumCircuit
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_runtime_server.cli import main
from qiskit_runtime_server.testing import LiveServer

AGENT = Path(__file__).with_name("mcp_agent.py")

if importlib.util.find_spec("qiskit_ibm_runtime_mcp_server") is None:
    message = "qiskit-ibm-runtime-mcp-server is not installed: uv sync --group mcp"
    if os.environ.get("QRS_TEST_REQUIRE_MCP") == "1":  # .ci/run installs it
        raise RuntimeError(message)
    pytest.skip(message, allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def env_url(url: str) -> dict[str, str]:
    """The variables ``qiskit-runtime-server env --url URL`` prints."""
    printed = CliRunner().invoke(main, ["env", "--url", url])
    assert printed.exit_code == 0, printed.output
    variables = {}
    for line in printed.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        variables[name] = shlex.split(value)[0]
    return variables


@pytest.fixture(scope="module")
def agent(
    server: LiveServer,
    service: QiskitRuntimeService,
    gate: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """The agent's calls by tool, and the id of the job it was to cancel (held at the gate)."""
    held = QuantumCircuit(1, metadata={"testkit": "gate"})
    held.measure_all()
    gate.close()
    try:
        job = SamplerV2(mode=service.backend("ideal_simulator@testkit")).run([held], shots=5)
        home = tmp_path_factory.mktemp("agent-home")
        environment = {**os.environ, **env_url(server.url), "HOME": str(home)}
        done = subprocess.run(
            [sys.executable, str(AGENT), job.job_id()],
            env=environment,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
    finally:
        gate.open()
    assert done.returncode == 0, done.stderr[-5000:]
    by_tool: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in json.loads(done.stdout.strip().splitlines()[-1]):
        by_tool[call["tool"]].append(call)
    (home / "calls.json").write_text(json.dumps(by_tool, indent=1))  # for reading on failure
    return by_tool, job.job_id()


def answers(agent: tuple[dict[str, list[dict[str, Any]]], str], tool: str) -> list[Any]:
    return [call["answer"] for call in agent[0][tool]]


def test_every_tool_succeeds(agent: tuple[dict[str, list[dict[str, Any]]], str]) -> None:
    failed = [
        (tool, call["arguments"], call["answer"])
        for tool, calls in agent[0].items()
        for call in calls
        if call["answer"].get("status") != "success"
        and tool not in ("get_job_status_tool", "get_job_results_tool")
    ]
    assert not failed, failed
    assert len(agent[0]) == 20  # every tool the agent called


def test_account_backends_and_least_busy(
    agent: tuple[dict[str, list[dict[str, Any]]], str],
) -> None:
    (setup,) = answers(agent, "setup_ibm_quantum_account_tool")
    assert setup["available_backends"] > 66
    (listing,) = answers(agent, "list_backends_tool")
    names = {backend["name"] for backend in listing["backends"]}
    assert {"ibm_kyiv", "ibmq_manila", "ibm_fez", "fake_kyiv@aer"} <= names
    (least,) = answers(agent, "least_busy_backend_tool")
    assert "@" not in least["backend_name"]  # IBM's name, on the default executor
    (instances,) = answers(agent, "available_instances_tool")
    assert instances["total_instances"] >= 1
    (active,) = answers(agent, "active_instance_info_tool")
    assert active["instance_crn"] in {i["crn"] for i in instances["instances"]}
    (account,) = answers(agent, "active_account_info_tool")
    assert account["account_info"]["token"] == "***ocal"  # "local", masked by the tool
    (usage,) = answers(agent, "usage_info_tool")
    assert "usage" in usage


def test_device_tools_on_ibm_names(agent: tuple[dict[str, list[dict[str, Any]]], str]) -> None:
    widths = {"ibm_kyiv": 127, "ibmq_manila": 5}
    for tool in (
        "get_backend_properties_tool",
        "get_backend_calibration_tool",
        "get_coupling_map_tool",
        "find_optimal_qubit_chains_tool",
        "find_optimal_qv_qubits_tool",
    ):
        assert [call["arguments"]["backend_name"] for call in agent[0][tool]] == list(widths)
    for properties in answers(agent, "get_backend_properties_tool"):
        assert properties["num_qubits"] == widths[properties["backend_name"]]
        assert properties["operational"] is True
    for calibration in answers(agent, "get_backend_calibration_tool"):
        qubits = calibration["qubit_calibration"]
        assert [q["qubit"] for q in qubits] == [0, 1]
        assert all(q["t1_us"] and q["readout_error"] is not None for q in qubits)
    for coupling in answers(agent, "get_coupling_map_tool"):
        assert coupling["num_qubits"] == widths[coupling["backend_name"]]
        assert coupling["num_edges"] > 0
        assert "source" not in coupling  # the server's map, not the client's local fake
    for chains in answers(agent, "find_optimal_qubit_chains_tool"):
        assert chains["chains"]
        assert all(len(chain["qubits"]) == 3 for chain in chains["chains"])
    for subsets in answers(agent, "find_optimal_qv_qubits_tool"):
        assert subsets["subgraphs"]
        assert all(len(subset["qubits"]) == 4 for subset in subsets["subgraphs"])


def test_sampler_and_estimator_with_their_default_mitigation(
    agent: tuple[dict[str, list[dict[str, Any]]], str], service: QiskitRuntimeService
) -> None:
    (sampler,) = answers(agent, "run_sampler_tool")
    (estimator,) = answers(agent, "run_estimator_tool")
    assert sampler["backend"] == "ibmq_manila"
    assert estimator["backend"] == "ibm_kyiv"
    results = {r["job_id"]: r for r in answers(agent, "get_job_results_tool")}
    counts = results[sampler["job_id"]]["counts"]
    assert results[sampler["job_id"]]["shots"] == 1000
    assert counts.get("00", 0) + counts.get("11", 0) > 800  # a noisy Bell state
    assert results[estimator["job_id"]]["status"] == "success"
    assert results[estimator["job_id"]]["job_status"] == "DONE"
    # The tool reports no values: the job itself has them. The tool sums its observables,
    # <ZZ + XX> = 2 for a Bell state, and asks for resilience level 1 with ZNE.
    job = service.job(estimator["job_id"])
    assert job.inputs["resilience_level"] == 1
    assert job.inputs["options"]["resilience"]["zne_mitigation"] is True
    value = float(job.result()[0].data.evs)
    assert 1.6 < value < 2.2, value
    options = service.job(sampler["job_id"]).inputs["options"]
    assert options["dynamical_decoupling"] == {"enable": True, "sequence_type": "XY4"}
    assert options["twirling"] == {"enable_gates": True, "enable_measure": True}
    listed = {job["job_id"]: job for job in answers(agent, "list_my_jobs_tool")[0]["jobs"]}
    assert listed[sampler["job_id"]]["backend"] == "ibmq_manila"
    assert listed[estimator["job_id"]]["backend"] == "ibm_kyiv"


def test_cancel_and_saved_accounts(
    agent: tuple[dict[str, list[dict[str, Any]]], str], service: QiskitRuntimeService
) -> None:
    (cancel,) = answers(agent, "cancel_job_tool")
    assert cancel["status"] == "success", cancel
    assert service.job(agent[1]).status() == "CANCELLED"
    statuses = {s.get("job_id"): s for s in answers(agent, "get_job_status_tool")}
    assert statuses[agent[1]]["job_status"] == "CANCELLED"
    deleted = answers(agent, "delete_saved_account_tool")
    assert deleted
    assert all(answer["deleted"] for answer in deleted)
