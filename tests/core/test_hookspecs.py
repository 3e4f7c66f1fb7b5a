"""The plugin contract stays documented and tested: every hook has a versioned docstring, a
section in docs/plugins.md with its exact signature, and a test_hook_<name> test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from qiskit_runtime_server import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("qiskit_runtime_"))


def signature(name: str) -> str:
    parameters = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(parameters)})"


def test_there_are_hooks() -> None:
    assert HOOKS == [
        "qiskit_runtime_backend_descriptions",
        "qiskit_runtime_device_memory",
        "qiskit_runtime_device_noise",
        "qiskit_runtime_execute",
        "qiskit_runtime_executors",
        "qiskit_runtime_validate",
    ]


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_versioned_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc) > 100
    assert ".. versionadded::" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_with_its_signature(name: str) -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    assert signature(name) in text


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    text = (Path(__file__).parent / "test_hooks.py").read_text()
    assert f"def test_hook_{name}(" in text
