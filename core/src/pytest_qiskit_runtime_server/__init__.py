"""A pytest plugin: a real qiskit-runtime-server for any project's test suite.

Installing ``qiskit-runtime-server`` registers it (entry point ``pytest11``). It adds two
fixtures, both started once per test session on first use:

* ``qiskit_runtime_server``: a real server on a free loopback port, with a temporary data
  directory and the installed executors (a :class:`~qiskit_runtime_server.testing.LiveServer`:
  ``.url``, ``.state``);
* ``qiskit_runtime_service``: a real ``QiskitRuntimeService`` connected to it.

Options (command line, or the ini file's ``qrs_*`` keys): ``--qrs-executors``,
``--qrs-default-executor``, ``--qrs-api-keys-file`` and ``--qrs-token``, ``--qrs-data-dir``.
Other settings come from ``QRS_*`` variables, as for ``qiskit-runtime-server serve``.

This module is a package of its own, apart from ``qiskit_runtime_server``, so that loading it
costs nothing: a test run that uses neither fixture imports no Qiskit and starts no server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_runtime_server.testing import LiveServer

#: The options, each with its ini key (the same name with ``_``) and help.
OPTIONS = {
    "qrs-executors": "executors to serve, comma-separated (default: every installed one that "
    "is not opt-in)",
    "qrs-default-executor": "the executor behind IBM's device names (default: aer where served)",
    "qrs-api-keys-file": "an API keys file (qiskit-runtime-server keys create): the server then "
    "requires a key (default: the open single-user mode)",
    "qrs-token": "the API key qiskit_runtime_service connects with (needed with keys)",
    "qrs-data-dir": "where the server keeps its database (default: a temporary directory)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qiskit-runtime-server", "a real Qiskit Runtime server (fixtures)")
    for name, text in OPTIONS.items():
        group.addoption(f"--{name}", dest=name.replace("-", "_"), default=None, help=text)
        parser.addini(name.replace("-", "_"), text, default=None)


def _option(config: pytest.Config, name: str) -> str | None:
    """The command line's value, else the ini file's, else None."""
    key = name.replace("-", "_")
    value = config.getoption(key) or config.getini(key)
    if not value:
        return None
    return str(value).strip() or None


def _path_option(config: pytest.Config, name: str) -> Path | None:
    """A path option: from the command line as given (relative to where pytest runs), from
    the ini file relative to that file, as pytest reads the paths of its own ini keys."""
    key = name.replace("-", "_")
    given = config.getoption(key)
    if given:
        return Path(str(given).strip())
    value = _option(config, name)
    if value is None:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / value  # an absolute value stays as it is


@pytest.fixture(scope="session")
def qiskit_runtime_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real server on a free loopback port for the whole test session."""
    from qiskit_runtime_server.app import create_app
    from qiskit_runtime_server.auth.keyfile import KeyFileError
    from qiskit_runtime_server.errors import ConfigurationError
    from qiskit_runtime_server.settings import Settings
    from qiskit_runtime_server.testing import LiveServer

    config = request.config
    executors = _option(config, "qrs-executors")
    data_dir = _path_option(config, "qrs-data-dir")
    settings = Settings(
        # Fixed whatever QRS_* variables or a .env file say: a developer's or CI's own server
        # settings (a PostgreSQL database, whose queued jobs this scheduler would otherwise
        # run; the Ray dispatcher; a public URL or TLS) must not reach the temporary server.
        database_url=None,
        dispatcher="local",
        ray_address=None,
        host="127.0.0.1",
        public_url=None,
        ssl_certfile=None,
        ssl_keyfile=None,
        data_dir=data_dir or tmp_path_factory.mktemp("qiskit-runtime-server"),
        executors=[name.strip() for name in executors.split(",")] if executors else [],
        default_executor=_option(config, "qrs-default-executor"),
        api_keys_file=_path_option(config, "qrs-api-keys-file"),
        # One worker per executor at start, more when jobs come: a quick start for tests.
        prestart_workers=False,
    )
    refusal: str | None = None
    try:
        app = create_app(settings)
    except (ConfigurationError, KeyFileError) as exc:
        refusal = str(exc)  # failed outside the handler: the message alone, no chained error
    if refusal is not None:
        pytest.fail(f"qiskit_runtime_server: {refusal}", pytrace=False)
    if not app.state.server.plugins.executors:
        pytest.fail(
            "qiskit_runtime_server: no executor is installed, so the server would have no "
            "backends; install one (plugins/aer of the qiskit-runtime-server repository)",
            pytrace=False,
        )
    with LiveServer(app) as server:
        server.wait_ready()
        yield server


@pytest.fixture(scope="session")
def qiskit_runtime_service(
    request: pytest.FixtureRequest, qiskit_runtime_server: LiveServer
) -> QiskitRuntimeService:
    """A real ``QiskitRuntimeService`` connected to ``qiskit_runtime_server`` (with
    ``--qrs-token`` where the server requires keys)."""
    from qiskit_runtime_server.client import LOCAL_TOKEN, connect

    token = _option(request.config, "qrs-token")
    if token is None and qiskit_runtime_server.state.settings.api_keys_file is not None:
        pytest.fail(
            "qiskit_runtime_service: the server requires an API key (--qrs-api-keys-file); "
            "give one of its keys with --qrs-token or the qrs_token ini key",
            pytrace=False,
        )
    return connect(qiskit_runtime_server.url, token=token or LOCAL_TOKEN)
