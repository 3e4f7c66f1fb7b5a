"""A real server whose custatevec executor runs on the NumPy reference kernel (this host has no
GPU), and a real client connected to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qiskit_ibm_runtime import QiskitRuntimeService
from qiskit_runtime_server.app import create_app
from qiskit_runtime_server.client import client_environment, connect
from qiskit_runtime_server.settings import Settings
from qiskit_runtime_server.testing import LiveServer


@contextmanager
def custatevec_on_numpy(data_dir: Path, workers: int = 1) -> Iterator[QiskitRuntimeService]:
    """``QRS_CUSTATEVEC_KERNEL=numpy`` is inherited by the worker processes; it and the
    client's environment (``connect`` sets it) are restored afterwards."""
    saved = {
        name: os.environ.get(name)
        for name in ["QRS_CUSTATEVEC_KERNEL", *client_environment("http://x")]
    }
    os.environ["QRS_CUSTATEVEC_KERNEL"] = "numpy"
    try:
        with LiveServer(create_app(Settings(data_dir=data_dir, workers=workers))) as live:
            live.wait_ready()
            yield connect(live.url)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
