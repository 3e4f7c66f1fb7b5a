"""The aer executor passes the shared executor contract."""

from qiskit_runtime_server.testing.contract import ExecutorContract


class TestAerContract(ExecutorContract):
    executor = "aer"
