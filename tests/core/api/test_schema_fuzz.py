"""Property-based requests from the published OpenAPI document (schemathesis, bounded and
seeded): whatever they hold, no 5xx, no hang, no crash, and responses match the document."""

from __future__ import annotations

import itertools

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from qiskit_runtime_server.testing import LiveServer
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/fuzz:instance::"


#: Examples per operation and generation mode; derandomized, so each run sends the same ones.
EXAMPLES = 25


def test_no_server_error_for_any_request(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=live.url, headers={"Service-CRN": CRN}, checks=checks, timeout=30
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing invalid can be generated for an operation without inputs.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label


def test_server_still_answers(live: LiveServer) -> None:
    assert httpx.get(f"{live.url}/readyz", timeout=10).status_code == 200
    assert httpx.get(f"{live.url}/api/v1/backends", timeout=10).status_code == 200
