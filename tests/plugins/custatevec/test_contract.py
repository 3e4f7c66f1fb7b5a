"""The custatevec executor passes the shared executor contract, on the NumPy reference kernel.

On a host with a GPU, run it on cuStateVec itself with ``QRS_CUSTATEVEC_TEST_KERNEL=custatevec``
(the self-check in the plugin's README does more).
"""

import os
from collections.abc import Iterator

import pytest
from qiskit_runtime_server.testing.contract import ExecutorContract


class TestCustatevecContract(ExecutorContract):
    executor = "custatevec"

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def kernel(cls) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(
                "QRS_CUSTATEVEC_KERNEL", os.environ.get("QRS_CUSTATEVEC_TEST_KERNEL", "numpy")
            )
            yield
