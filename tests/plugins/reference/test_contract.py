"""The example third-party plugin (tests/example_plugin) passes the shared executor contract."""

from qiskit_runtime_server.testing.contract import ExecutorContract


class TestReferenceContract(ExecutorContract):
    executor = "reference"
