"""Fixtures shared by the whole test tree."""

from __future__ import annotations

import os

import pytest

# The real client logs (not warns) about instance selection and deprecations; keep test
# output about the server.
os.environ.setdefault("QISKIT_IBM_RUNTIME_LOG_LEVEL", "ERROR")


@pytest.fixture
def clean_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove client variables a test may set, so that tests do not leak into each other."""
    for name in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_URL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
