"""Fixtures shared by the whole test tree."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# pytester runs projects' test suites with the core's pytest plugin (tests/core/testing).
pytest_plugins = ["pytester"]

# Test plugins are imported by path in the server and in its spawned worker processes, which
# inherit sys.path; subprocesses started by tests get PYTHONPATH.
SUPPORT = str(Path(__file__).parent / "support")
sys.path.insert(0, SUPPORT)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SUPPORT, os.environ.get("PYTHONPATH")]))
# The testkit executor's gate directory (worker processes inherit the environment).
os.environ.setdefault("QRS_TEST_GATE_DIR", tempfile.mkdtemp(prefix="qrs-gate-"))
# The real client logs (not warns) about instance selection; keep test output about the server.
os.environ.setdefault("QISKIT_IBM_RUNTIME_LOG_LEVEL", "ERROR")
