"""The rule that keeps the open mode local: no keys means loopback only, unless told."""

from __future__ import annotations

import ipaddress

from ..settings import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(settings: Settings) -> str | None:
    """Why the server must not start with these settings, or None."""
    if settings.api_keys_file is not None:
        if not settings.api_keys_file.exists():
            return (
                f"the API keys file {settings.api_keys_file} does not exist; create a key with "
                f"`qiskit-runtime-server keys create --file {settings.api_keys_file} --user NAME "
                "--instance CRN`"
            )
        return None
    if is_loopback(settings.host) or settings.allow_anonymous:
        return None
    return (
        f"refusing to serve on {settings.host} without API keys: anyone who can reach it could "
        "run and read jobs. Create a key with `qiskit-runtime-server keys create --file "
        "keys.toml --user NAME --instance CRN` and start with QRS_API_KEYS_FILE=keys.toml, or "
        "bind to 127.0.0.1, or pass --allow-anonymous if the network is trusted."
    )
