"""The ``qiskit-runtime-server`` command."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from typing import Any

import click

from . import __version__
from .client import LOCAL_TOKEN, client_environment, saved_account_url
from .plugins import PluginHost
from .settings import Settings


@click.group()
@click.version_option(__version__, prog_name="qiskit-runtime-server")
def main() -> None:
    """A self-hosted server for IBM Quantum's Qiskit Runtime REST API."""


@main.command()
@click.option("--host", default=None, help="Address to bind [QRS_HOST, 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port to bind [QRS_PORT, 8000].")
@click.option("--workers", default=None, type=int, help="Jobs run at once [QRS_WORKERS, CPUs].")
@click.option("--log-level", default=None, help="debug, info, warning, error [QRS_LOG_LEVEL].")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Directory of the SQLite database [QRS_DATA_DIR].",
)
@click.option(
    "--database-url", default=None, help="postgresql://... instead of SQLite [QRS_DATABASE_URL]."
)
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    log_level: str | None,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Start the server."""
    import uvicorn

    from .app import create_app

    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "host": host,
            "port": port,
            "workers": workers,
            "log_level": log_level,
            "data_dir": data_dir,
            "database_url": database_url,
        }.items()
        if value is not None
    }
    settings = Settings(**overrides)
    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The API's event loop and the job engine's thread share the GIL: a short switch interval
    # keeps either from waiting behind the other for the default 5 ms.
    sys.setswitchinterval(0.0005)
    app = create_app(settings)
    url = settings.public_url or f"http://{settings.host}:{settings.port}"
    click.echo(f"qiskit-runtime-server {__version__} on {url}", err=True)
    click.echo(f'Connect a client: eval "$(qiskit-runtime-server env --url {url})"', err=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List plugins and their executors, with status and errors."""
    settings = Settings()
    host = PluginHost.from_settings(settings)
    if as_json:
        click.echo(json.dumps(host.summary(), indent=2))
        return
    for record in host.records:
        origin = "built-in" if record.builtin else f"{record.distribution} {record.version}"
        click.echo(f"{record.name:<28} {record.status:<9} {origin}")
        if record.error:
            click.echo(f"    error: {record.error}")
        for name in record.executors:
            info = host.executors[name].info
            availability = (
                "available"
                if info.availability.available
                else f"unavailable: {info.availability.reason}"
            )
            click.echo(
                f"    executor {name}: {info.device}, programs {','.join(sorted(info.programs))}, "
                f"noise {'yes' if info.simulates_noise else 'no'}, "
                f"max {info.max_qubits} qubits, {availability}"
            )
    if not host.executors:
        click.echo(
            "No executor is installed: the catalogue is empty. "
            "Install one, for example `pip install qiskit-runtime-server-aer`."
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backends(as_json: bool) -> None:
    """List the virtual backends the server publishes."""
    from .catalogue import Catalogue

    settings = Settings()
    host = PluginHost.from_settings(settings)
    catalogue = Catalogue(host)
    rows = [
        {
            "name": backend.name,
            "qubits": backend.num_qubits,
            "simulator": backend.description.simulator,
            "noise": backend.simulates_noise,
            "available": backend.available,
            "reason": backend.unavailable_reason,
        }
        for backend in catalogue
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "online" if row["available"] else f"offline: {row['reason']}"
        noise = "noisy" if row["noise"] else "noiseless"
        click.echo(f"{row['name']:<40} {row['qubits']:>4} qubits  {noise:<9} {state}")
    click.echo(f"{len(rows)} backends", err=True)


@main.command()
@click.option("--url", required=True, help="The server's URL, e.g. http://127.0.0.1:8000.")
@click.option("--token", default=LOCAL_TOKEN, show_default=True, help="API key to use.")
@click.option("--instance", default=None, help="Instance CRN or name (default: discovered).")
def env(url: str, token: str, instance: str | None) -> None:
    """Print the shell exports that point an unmodified client at the server.

    With them, ``QiskitRuntimeService()`` (no arguments) connects to the server.
    """
    try:
        variables = client_environment(url)
        variables["QISKIT_IBM_URL"] = saved_account_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from None
    variables["QISKIT_IBM_TOKEN"] = token
    variables["QISKIT_IBM_CHANNEL"] = "ibm_quantum_platform"
    if instance:
        variables["QISKIT_IBM_INSTANCE"] = instance
    for name, value in variables.items():
        click.echo(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
