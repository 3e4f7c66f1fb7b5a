"""The README's Python examples run as written against a real server (only the URL differs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from qiskit_runtime_server.testing import LiveServer

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_the_readme_python_examples_run(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2, "the README lost its Python examples"
    namespace: dict[str, object] = {}
    for block in blocks:
        code = block.replace('"http://127.0.0.1:8000"', repr(server.url))
        exec(compile(code, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    # The SamplerV2 example prints a job id and counts; the client-side Sampler prints counts.
    assert printed.count("'00'") >= 2, printed
