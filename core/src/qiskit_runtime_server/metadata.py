"""What the server writes into every result's metadata."""

from __future__ import annotations

from typing import Any

from . import __version__
from .tasks import ExecutionTask


def add_server_metadata(result: Any, task: ExecutionTask, ignored_options: list[str]) -> None:
    """State, in every result, what ran it and which options it did not apply."""
    result.metadata.setdefault("version", 2)
    result.metadata["qiskit_runtime_server"] = {
        "version": __version__,
        "backend": task.backend_name,
        "executor": task.executor,
        "ignored_options": list(ignored_options),
    }
