"""The Qiskit Aer executor for qiskit-runtime-server.

Registered under the entry-point group ``qiskit_runtime.executors`` as ``aer``; the server
imports :mod:`qiskit_runtime_server_aer.plugin`.
"""

__version__ = "0.1.0"
