"""An AI agent's session with IBM's MCP server for Qiskit Runtime, against this server.

Run by test_mcp_server.py in a child process whose environment is what
``qiskit-runtime-server env --url`` prints (and a temporary HOME: the account set-up tool saves
an account file there). It drives the real ``qiskit-ibm-runtime-mcp-server`` package through
the MCP protocol, in memory (FastMCP's client on the package's own server object: the tools
as an agent calls them, arguments validated and results serialised, without stdio), and prints
one JSON object: each call's name and arguments, and the tool's answer.

``python mcp_agent.py JOB_TO_CANCEL``: the job is one the test holds at the testkit's gate.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

#: Bell circuits in OpenQASM 3, the format the tools recommend. The sampler tool sends its
#: circuit as given, and IBM (so this server) takes only circuits in the device's instruction
#: set: this one is written for ibmq_manila (H is RZ(pi/2) SX RZ(pi/2) up to a phase). The
#: estimator tool transpiles its circuit itself.
BELL_FOR_MANILA = """OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
rz(pi/2) $0;
sx $0;
rz(pi/2) $0;
cx $0, $1;
c[0] = measure $0;
c[1] = measure $1;
"""
BELL = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
h q[0];
cx q[0], q[1];
"""
DEVICES = ("ibm_kyiv", "ibmq_manila")
FINAL = ("DONE", "ERROR", "CANCELLED")


async def session(job_to_cancel: str) -> list[dict[str, Any]]:
    from fastmcp import Client
    from qiskit_ibm_runtime_mcp_server.server import mcp

    calls: list[dict[str, Any]] = []

    async def call(tool: str, **arguments: Any) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments, raise_on_error=False)
        answer = result.structured_content
        if answer is None:  # a tool without an output schema answers in text
            answer = json.loads(result.content[0].text)  # type: ignore[union-attr]
        answer = answer.get("result", answer) if set(answer) == {"result"} else answer
        calls.append({"tool": tool, "arguments": arguments, "answer": answer})
        return answer  # type: ignore[no-any-return]

    async with Client(mcp) as client:
        await call("setup_ibm_quantum_account_tool")
        await call("list_backends_tool")
        await call("least_busy_backend_tool")
        for name in DEVICES:
            await call("get_backend_properties_tool", backend_name=name)
            await call("get_backend_calibration_tool", backend_name=name, qubit_indices=[0, 1])
            await call("get_coupling_map_tool", backend_name=name)
            await call("find_optimal_qubit_chains_tool", backend_name=name, chain_length=3)
            await call("find_optimal_qv_qubits_tool", backend_name=name, num_qubits=4)
        for tool in (
            "available_instances_tool",
            "active_instance_info_tool",
            "active_account_info_tool",
            "usage_info_tool",
            "list_saved_accounts_tool",
        ):
            await call(tool)
        # The primitives with their defaults: dynamical decoupling and twirling for the
        # sampler, resilience level 1 with ZNE for the estimator.
        sampler = await call(
            "run_sampler_tool", circuit=BELL_FOR_MANILA, backend_name="ibmq_manila", shots=1000
        )
        estimator = await call(
            "run_estimator_tool", circuit=BELL, observables=["ZZ", "XX"], backend_name="ibm_kyiv"
        )
        for job in (sampler, estimator):
            job_id = job.get("job_id")
            if job_id is None:
                continue
            for _ in range(600):
                status = await call("get_job_status_tool", job_id=job_id)
                if status.get("job_status") in FINAL or status.get("status") != "success":
                    break
                calls.pop()  # keep the last poll only
                await asyncio.sleep(0.5)
            await call("get_job_results_tool", job_id=job_id)
        await call("list_my_jobs_tool", limit=20)
        await call("cancel_job_tool", job_id=job_to_cancel)
        await call("get_job_status_tool", job_id=job_to_cancel)
        saved = await call("list_saved_accounts_tool")
        for account_name in saved.get("accounts", {}):
            await call("delete_saved_account_tool", account_name=account_name)
    return calls


def main() -> None:
    calls = asyncio.run(session(sys.argv[1]))
    print(json.dumps(calls, default=str))


if __name__ == "__main__":
    main()
