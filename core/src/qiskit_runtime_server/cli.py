"""The ``qiskit-runtime-server`` command."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from . import __version__, logs
from .auth.keyfile import KeyFileError
from .client import LOCAL_TOKEN, client_environment, saved_account_url
from .errors import ConfigurationError
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
    "--log-format",
    default=None,
    type=click.Choice(["text", "json"]),
    help="Readable text, or one JSON object per line [QRS_LOG_FORMAT, text].",
)
@click.option(
    "--dispatcher",
    default=None,
    type=click.Choice(["local", "ray"]),
    help="Run jobs in local worker processes or on a Ray cluster [QRS_DISPATCHER, local].",
)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster to join ('auto', 'ray://host:10001'); unset starts one [QRS_RAY_ADDRESS].",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Directory of the SQLite database [QRS_DATA_DIR].",
)
@click.option(
    "--database-url", default=None, help="postgresql://... instead of SQLite [QRS_DATABASE_URL]."
)
@click.option(
    "--api-keys-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="API keys (TOML/JSON) that callers must present [QRS_API_KEYS_FILE].",
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    default=None,
    help="Serve without keys on a non-loopback address [QRS_ALLOW_ANONYMOUS].",
)
@click.option(
    "--ssl-certfile", default=None, type=click.Path(dir_okay=False), help="TLS certificate (PEM)."
)
@click.option(
    "--ssl-keyfile", default=None, type=click.Path(dir_okay=False), help="TLS private key (PEM)."
)
def serve(**options: Any) -> None:
    """Start the server."""
    import uvicorn

    from .app import create_app
    from .auth.exposure import refusal

    settings = _settings(**{key: value for key, value in options.items() if value is not None})
    logs.configure(settings.log_level, settings.log_format, "api")
    problem = refusal(settings)
    if problem:
        raise click.ClickException(problem)
    if (settings.ssl_certfile is None) != (settings.ssl_keyfile is None):
        raise click.ClickException("TLS needs both --ssl-certfile and --ssl-keyfile")
    # The API's event loop and its worker threads share the GIL: a short switch interval
    # keeps a poll from waiting behind a submission for the default 5 ms.
    sys.setswitchinterval(0.0005)
    try:
        app = create_app(settings)
    except (KeyFileError, ConfigurationError) as exc:
        raise click.ClickException(str(exc)) from None
    scheme = "https" if settings.ssl_certfile else "http"
    url = settings.public_url or f"{scheme}://{settings.host}:{settings.port}"
    # JSON: the banner is log lines too, so that every line a collector reads parses.
    json_lines = settings.log_format == "json"
    say = logging.getLogger("qiskit_runtime_server.cli").info if json_lines else _to_stderr
    say(f"qiskit-runtime-server {__version__} on {url}")
    if settings.api_keys_file is None:
        say(
            "Open single-user mode: no API keys are configured, every caller is the local user "
            f"(default instance {settings.instance_name}). Set QRS_API_KEYS_FILE to require keys."
        )
        say(f'Connect a client: eval "$(qiskit-runtime-server env --url {url})"')
    else:
        say(f"API keys required (from {settings.api_keys_file}).")
        say(f'Connect a client: eval "$(qiskit-runtime-server env --url {url} --token KEY)"')
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # JSON: uvicorn's loggers write through the root's JSON handler, not its own text.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    )


def _settings(**options: Any) -> Settings:
    """The settings from ``options`` and ``QRS_*``; a bad value stops the command with the
    setting and what is wrong, never the value (it may be a secret)."""
    try:
        return Settings(**options)
    except ValidationError as exc:
        problems = [
            f"QRS_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise click.ClickException("invalid settings: " + "; ".join(problems)) from None


def _to_stderr(line: str) -> None:
    click.echo(line, err=True)


def _served_plugins(settings: Settings) -> PluginHost:
    try:
        return PluginHost.from_settings(settings)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List plugins and their executors, with status and errors."""
    settings = _settings()
    host = _served_plugins(settings)
    if as_json:
        click.echo(json.dumps(host.summary(), indent=2))
        return
    for record in host.records:
        origin = "built-in" if record.builtin else f"{record.distribution} {record.version}"
        click.echo(f"{record.name:<28} {record.status:<9} {origin}")
        if record.error:
            click.echo(f"    error: {record.error}")
        for name in record.executors:
            if name in host.unserved:
                click.echo(f"    executor {name}: not served ({host.unserved[name]})")
                continue
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

    settings = _settings()
    host = _served_plugins(settings)
    try:
        default_executor = host.default_executor(settings.default_executor)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    catalogue = Catalogue(host, default_executor=default_executor)
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


@main.group()
def keys() -> None:
    """Manage the API keys file (QRS_API_KEYS_FILE)."""


def _keys_path(path: str | None) -> Path:
    chosen = Path(path) if path else Settings().api_keys_file
    if chosen is None:
        raise click.ClickException("give --file or set QRS_API_KEYS_FILE")
    return chosen


_file_option = click.option(
    "--file",
    "path",
    default=None,
    type=click.Path(dir_okay=False),
    help="The keys file [QRS_API_KEYS_FILE]; .json for JSON, else TOML.",
)


@keys.command("create")
@_file_option
@click.option("--user", required=True, help="Who the key belongs to.")
@click.option(
    "--instance", "instances", multiple=True, required=True, help="Instance CRN (repeatable)."
)
@click.option("--instance-name", default=None, help="Name shown by instance discovery.")
@click.option("--max-queued-jobs", type=click.IntRange(min=1), default=None)
@click.option("--max-executions", type=click.IntRange(min=1), default=None)
def keys_create(
    path: str | None,
    user: str,
    instances: tuple[str, ...],
    instance_name: str | None,
    max_queued_jobs: int | None,
    max_executions: int | None,
) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    from .auth import keyfile

    target = _keys_path(path)
    try:
        current = keyfile.load(target)
        record, secret = current.add(
            user,
            list(instances),
            instance_name=instance_name,
            max_queued_jobs=max_queued_jobs,
            max_executions=max_executions,
        )
        keyfile.save(target, current)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created key {record.id} for {user} in {target}", err=True)
    click.echo("store it now: it cannot be shown again", err=True)
    click.echo(secret)


@keys.command("list")
@_file_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keys_list(path: str | None, as_json: bool) -> None:
    """List keys (ids, users, instances; never the keys)."""
    from .auth import keyfile

    try:
        current = keyfile.load(_keys_path(path))
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    rows = [
        {"id": k.id, "user": k.user, "instances": list(k.instances), "created": k.created}
        for k in current.keys
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']:<16} {row['user']:<20} {row['created']:<22} {' '.join(row['instances'])}"
        )


@keys.command("revoke")
@_file_option
@click.argument("key_id")
def keys_revoke(path: str | None, key_id: str) -> None:
    """Revoke a key by id; a running server stops accepting it and its tokens within a second."""
    from .auth import keyfile

    target = _keys_path(path)
    try:
        current = keyfile.load(target)
        record = current.revoke(key_id)
        keyfile.save(target, current)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked key {record.id} of {record.user}")
