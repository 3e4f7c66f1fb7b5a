"""API keys, bearer tokens and instances: who may call the server, and for what."""

from .access import AccessControl, Limits, Principal
from .keyfile import ApiKey, InstanceConfig, KeyFile, KeyFileError

__all__ = [
    "AccessControl",
    "ApiKey",
    "InstanceConfig",
    "KeyFile",
    "KeyFileError",
    "Limits",
    "Principal",
]
