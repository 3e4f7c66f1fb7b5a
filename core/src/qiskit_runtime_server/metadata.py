"""What the server writes into every result's metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import __version__
from .tasks import ExecutionTask


def add_server_metadata(
    result: Any,
    task: ExecutionTask,
    ignored_options: list[str],
    reasons: Mapping[str, str] | None = None,
) -> None:
    """State, in every result, what ran it and which options it did not apply.

    ``ignored_options`` stays a plain list of option paths (what clients and tests read);
    ``reasons`` gives, for those of them whose reason the caller knows, why each was not
    applied, under ``ignored_option_reasons`` (empty where no path has one), so that a user
    reads the reason in the result and not only in the job's log."""
    ignored = list(ignored_options)
    result.metadata.setdefault("version", 2)
    result.metadata["qiskit_runtime_server"] = {
        "version": __version__,
        "backend": task.backend_name,
        "executor": task.executor,
        "ignored_options": ignored,
        "ignored_option_reasons": {
            path: reason for path, reason in (reasons or {}).items() if path in ignored
        },
    }
