"""Server settings, read from ``QRS_``-prefixed environment variables (or a ``.env`` file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The instance every job belongs to when the server runs in open single-user mode.
DEFAULT_INSTANCE_CRN = (
    "crn:v1:bluemix:public:quantum-computing:us-east:a/qiskit-runtime-server:local-instance::"
)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/qiskit-runtime-server``, else ``~/.local/share/qiskit-runtime-server``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "qiskit-runtime-server"


class Settings(BaseSettings):
    """Everything an operator can configure. Each field maps to ``QRS_<FIELD NAME>``."""

    # A rejected value is not repeated in the error: some settings are secrets (the token
    # secret, the metrics token), and the error goes to the server's log.
    model_config = SettingsConfigDict(
        env_prefix="QRS_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=0, le=65535, description="Port to bind.")
    public_url: str | None = Field(
        None, description="URL clients use to reach the server, if not http://host:port."
    )
    instance_crn: str = Field(
        DEFAULT_INSTANCE_CRN, description="Instance CRN of the open single-user mode."
    )
    instance_name: str = Field("local", description="Instance name shown by instance discovery.")
    token_secret: str = Field(
        default_factory=lambda: os.urandom(32).hex(),
        min_length=32,
        description="Secret that signs bearer tokens (random per start unless set).",
    )
    token_lifetime_seconds: int = Field(3600, gt=0, description="Bearer token lifetime.")
    data_dir: Path = Field(
        default_factory=default_data_dir, description="Where the SQLite database lives."
    )
    database_url: str | None = Field(
        None, description="postgresql://user@host/db to keep jobs in PostgreSQL instead."
    )
    retention_days: float = Field(30, gt=0, description="Finished jobs are deleted after this.")
    workers: int | None = Field(
        None,
        gt=0,
        description="Worker processes per CPU executor (default: the usable CPUs; GPU: 1).",
    )
    executor_workers: dict[str, int] = Field(
        default_factory=dict, description='Worker processes per executor: {"aer": 4}.'
    )
    job_threads: int | None = Field(
        None,
        gt=0,
        description="CPU threads each job of a CPU executor owns (default: the CPUs divided "
        "among the executor's workers; the cores idle when a job starts are offered to it too).",
    )
    dispatcher: Literal["local", "ray"] = Field(
        "local",
        description="What runs jobs: worker processes on this host (local), or executor actors "
        "on the nodes of a Ray cluster (ray; pip install 'qiskit-runtime-server[ray]').",
    )
    ray_address: str | None = Field(
        None,
        description="The Ray cluster to join ('auto': the one running on this machine, or "
        "'ray://host:10001'); unset starts a Ray of its own on this machine.",
    )
    prestart_workers: bool = Field(
        True,
        description="Start every worker process at start-up (else one per executor, the rest "
        "when jobs arrive).",
    )
    plugins: list[str] = Field(
        default_factory=list,
        description="Extra plugins to load by import path (module or module:object).",
    )
    disabled_plugins: list[str] = Field(
        default_factory=list, description="Entry-point names of plugins not to load."
    )
    executors: list[str] = Field(
        default_factory=list,
        description='Executors to serve, by name (["aer", "reference"]); empty: every '
        "installed executor except the opt-in ones (the example executor 'reference').",
    )
    default_executor: str | None = Field(
        None,
        description="The executor behind IBM's device names (ibm_kyiv, ibmq_manila, ...), "
        "favoured by the listing and least_busy: default aer where it is served, else none "
        "(the devices then have only their <device>@<executor> names).",
    )
    load_entry_points: bool = Field(
        True, description="Discover executor plugins through the qiskit_runtime.executors group."
    )
    default_shots: int = Field(4096, gt=0, description="Shots when neither PUB nor options say.")
    session_interactive_ttl: int = Field(
        60, gt=0, description="Seconds a session waits for its next job before it goes inactive."
    )
    log_level: str = Field("info", description="Server log level.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as readable text, or one JSON object per line (with the request "
        "id, instance and job id where known) for a log collector.",
    )
    api_keys_file: Path | None = Field(
        None, description="TOML/JSON file of API keys; unset means the open single-user mode."
    )
    allow_anonymous: bool = Field(
        False, description="Allow the open mode on an address other than loopback."
    )
    metrics_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="Bearer token that GET /metrics requires (Prometheus' scrape credential). "
        "Unset: /metrics is open in the open mode and refused in keys mode.",
    )
    ssl_certfile: Path | None = Field(None, description="TLS certificate (PEM) to serve HTTPS.")
    ssl_keyfile: Path | None = Field(None, description="TLS private key (PEM).")
    max_body_bytes: int = Field(
        64 * 2**20, gt=0, description="Largest request body accepted (413 above)."
    )
    max_executions: int = Field(
        5_000_000,
        gt=0,
        description="Largest job: shots x parameter sets summed over PUBs (estimator: "
        "1/precision^2 per parameter set).",
    )
    max_queued_jobs: int = Field(
        1000, gt=0, description="Jobs an instance may have queued or running at once."
    )
