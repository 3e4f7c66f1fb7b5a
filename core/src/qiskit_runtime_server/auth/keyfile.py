"""The API keys file (``QRS_API_KEYS_FILE``): who may use the server, and which instances.

The file is TOML (or JSON, by its ``.json`` suffix) and holds two tables::

    [[keys]]
    id = "k-3f9a1c2b7d4e"              # public: shown by `keys list`, used by `keys revoke`
    user = "alice"
    sha256 = "9b1d..."                 # the key itself is never stored, only its hash
    instances = ["crn:v1:bluemix:public:quantum-computing:us-east:a/team:alice::"]
    created = "2026-12-01T10:00:00Z"

    [instances."crn:v1:bluemix:public:quantum-computing:us-east:a/team:alice::"]
    name = "alice"                     # what instance discovery shows
    max_queued_jobs = 100              # optional, else the server-wide limit
    max_executions = 1000000           # optional, else the server-wide limit

A hand-written key may give ``key = "..."`` in place of ``sha256``; the server hashes it on
load. Storing hashes means a copy of the file does not let anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

KEY_PREFIX = "qrs_"


class KeyFileError(ValueError):
    """The keys file cannot be read or is not valid; the message says where."""


@dataclass(frozen=True)
class InstanceConfig:
    crn: str
    name: str
    max_queued_jobs: int | None = None
    max_executions: int | None = None


@dataclass(frozen=True)
class ApiKey:
    id: str
    user: str
    sha256: str
    instances: tuple[str, ...]
    created: str = ""

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.sha256, hash_key(key))


@dataclass
class KeyFile:
    """The parsed file. Lookups by key hash are constant time in the number of keys."""

    keys: list[ApiKey] = field(default_factory=list)
    instances: dict[str, InstanceConfig] = field(default_factory=dict)

    def find(self, key: str) -> ApiKey | None:
        digest = hash_key(key)
        for candidate in self.keys:
            if hmac.compare_digest(candidate.sha256, digest):
                return candidate
        return None

    def by_id(self, key_id: str) -> ApiKey | None:
        return next((key for key in self.keys if key.id == key_id), None)

    def instance(self, crn: str) -> InstanceConfig:
        return self.instances.get(crn) or InstanceConfig(crn=crn, name=_default_name(crn))

    def add(
        self,
        user: str,
        instances: list[str],
        *,
        instance_name: str | None = None,
        max_queued_jobs: int | None = None,
        max_executions: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key for ``user``; returns the record and the key, which is shown only once."""
        if not user:
            raise KeyFileError("a key needs a user name")
        if not instances:
            raise KeyFileError("a key needs at least one instance CRN")
        for crn in instances:
            _check_crn(crn)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            id="k-" + secrets.token_hex(6),
            user=user,
            sha256=hash_key(secret),
            instances=tuple(instances),
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self.keys.append(record)
        for crn in instances:
            current = self.instances.get(crn)
            self.instances[crn] = InstanceConfig(
                crn=crn,
                name=instance_name or (current.name if current else _default_name(crn)),
                max_queued_jobs=max_queued_jobs
                if max_queued_jobs is not None
                else (current.max_queued_jobs if current else None),
                max_executions=max_executions
                if max_executions is not None
                else (current.max_executions if current else None),
            )
        return record, secret

    def revoke(self, key_id: str) -> ApiKey:
        record = self.by_id(key_id)
        if record is None:
            raise KeyFileError(f"no key with id {key_id!r}")
        self.keys.remove(record)
        return record

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "id": key.id,
                    "user": key.user,
                    "sha256": key.sha256,
                    "instances": list(key.instances),
                    "created": key.created,
                }
                for key in self.keys
            ],
            "instances": {
                crn: {
                    name: value
                    for name, value in {
                        "name": config.name,
                        "max_queued_jobs": config.max_queued_jobs,
                        "max_executions": config.max_executions,
                    }.items()
                    if value is not None
                }
                for crn, config in self.instances.items()
            },
        }


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _default_name(crn: str) -> str:
    parts = crn.split(":")
    return parts[7] if len(parts) > 7 and parts[7] else crn


def _check_crn(crn: Any) -> str:
    if not isinstance(crn, str) or not crn.startswith("crn:") or len(crn) > 512:
        raise KeyFileError(f"{crn!r} is not an instance CRN (crn:v1:...)")
    return crn


def _optional_positive(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise KeyFileError(f"{where} must be a positive integer, got {value!r}")
    return value


def parse(data: Any, source: str = "keys file") -> KeyFile:
    if not isinstance(data, dict):
        raise KeyFileError(f"{source}: the top level must be a table")
    instances: dict[str, InstanceConfig] = {}
    raw_instances = data.get("instances", {})
    if not isinstance(raw_instances, dict):
        raise KeyFileError(f"{source}: 'instances' must be a table keyed by CRN")
    for crn, entry in raw_instances.items():
        _check_crn(crn)
        if not isinstance(entry, dict):
            raise KeyFileError(f"{source}: instances.{crn!r} must be a table")
        instances[crn] = InstanceConfig(
            crn=crn,
            name=str(entry.get("name") or _default_name(crn)),
            max_queued_jobs=_optional_positive(
                entry.get("max_queued_jobs"), f"instances.{crn!r}.max_queued_jobs"
            ),
            max_executions=_optional_positive(
                entry.get("max_executions"), f"instances.{crn!r}.max_executions"
            ),
        )
    keys: list[ApiKey] = []
    raw_keys = data.get("keys", [])
    if not isinstance(raw_keys, list):
        raise KeyFileError(f"{source}: 'keys' must be an array of tables")
    for index, entry in enumerate(raw_keys):
        where = f"{source}: keys[{index}]"
        if not isinstance(entry, dict):
            raise KeyFileError(f"{where} must be a table")
        user = entry.get("user")
        if not isinstance(user, str) or not user:
            raise KeyFileError(f"{where}: 'user' is required")
        if isinstance(entry.get("key"), str) and entry["key"]:
            digest = hash_key(entry["key"])
        elif isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64:
            digest = entry["sha256"].lower()
        else:
            raise KeyFileError(f"{where}: give 'sha256' (hex) or 'key'")
        crns = entry.get("instances")
        if not isinstance(crns, list) or not crns:
            raise KeyFileError(f"{where}: 'instances' must be a non-empty list of CRNs")
        keys.append(
            ApiKey(
                id=str(entry.get("id") or "k-" + digest[:12]),
                user=user,
                sha256=digest,
                instances=tuple(_check_crn(crn) for crn in crns),
                created=str(entry.get("created", "")),
            )
        )
    if len({key.id for key in keys}) != len(keys):
        raise KeyFileError(f"{source}: two keys share an id")
    return KeyFile(keys=keys, instances=instances)


def load(path: Path) -> KeyFile:
    """The file's keys; a missing file is an empty key set (``keys create`` makes it)."""
    if not path.exists():
        return KeyFile()
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read {path}: {exc}") from None
    return parse(data, str(path))


def save(path: Path, keys: KeyFile) -> None:
    """Write atomically, readable by the owner only: it grants access to the server."""
    data = keys.to_dict()
    text = json.dumps(data, indent=2) + "\n" if path.suffix == ".json" else tomli_w.dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)
