"""The NVIDIA cuStateVec executor for qiskit-runtime-server.

Registered under the entry-point group ``qiskit_runtime.executors`` as ``custatevec``; the server
imports :mod:`qiskit_runtime_server_custatevec.plugin`. Importing this package never imports
CUDA libraries: they are loaded when the executor first probes for a GPU.
"""

__version__ = "0.1.0"
