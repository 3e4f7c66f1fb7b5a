"""A real server on loopback, with a real client connected to it, once per database.

Besides the installed executors, the server loads the ``testkit`` executor
(tests/support/qrs_test_plugins/testkit.py) by import path, in the server and in its worker
processes: it holds jobs at a gate, sleeps or crashes on request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qiskit_ibm_runtime import QiskitRuntimeService
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.client import connect
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer
from qrs_test_plugins.databases import BACKENDS, database
from qrs_test_plugins.gate import Gate
from qrs_test_plugins.numpy_kernel import custatevec_on_numpy


@pytest.fixture(scope="session")
def gate() -> Iterator[Gate]:
    gate = Gate()
    gate.open()
    yield gate
    gate.open()


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    with database(request.param, data_dir) as url:
        settings = Settings(
            data_dir=data_dir,
            database_url=url,
            workers=2,
            plugins=["qrs_test_plugins.testkit"],
        )
        with LiveServer(create_app(settings)) as live:
            live.wait_ready()
            yield live


@pytest.fixture(scope="session")
def service(server: LiveServer) -> QiskitRuntimeService:
    return connect(server.url)


@pytest.fixture(scope="module")
def numpy_kernel_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[QiskitRuntimeService]:
    """A server whose custatevec executor runs on its NumPy reference kernel (no GPU here),
    with a client connected to it; one per test module."""
    with custatevec_on_numpy(tmp_path_factory.mktemp("custatevec-numpy")) as service:
        yield service
