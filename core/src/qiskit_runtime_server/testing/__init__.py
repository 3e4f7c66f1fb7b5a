"""Helpers for testing the server and executor plugins (install the ``testing`` extra).

* :class:`LiveServer` runs a real uvicorn server on loopback in a background thread.
* :func:`run_job` runs one primitive job through the server's own validation and plugin
  dispatch, without HTTP, exactly as the server would.
* :class:`~qiskit_runtime_server.testing.contract.ExecutorContract` is the test suite every
  executor must pass; plugin test suites subclass it.
"""

from .jobs import encode_job_body, run_job
from .live_server import LiveServer

__all__ = ["LiveServer", "encode_job_body", "run_job"]
