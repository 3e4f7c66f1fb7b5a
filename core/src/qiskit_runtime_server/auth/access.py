"""Who is calling, and for which instance.

Two modes. With an API keys file, every runtime request needs a bearer token this server
issued for a key that still exists (or, as the client's fallback, ``Authorization: apikey
<key>``), and a ``Service-CRN`` the key may use. Without one, the server is in the open
single-user mode: anyone on the (loopback) address is the local user, and each CRN is its own
namespace of jobs.

The keys file is re-read when it changes, so ``keys revoke`` takes effect within a second,
for tokens already issued too (a token names its key, and the key must still exist).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import Forbidden, InvalidRequest, Unauthorized
from ..tokens import TokenIssuer
from .keyfile import InstanceConfig, KeyFile, KeyFileError, load

logger = logging.getLogger(__name__)

#: How often the keys file's modification time is checked.
RELOAD_SECONDS = 1.0
LOCAL_USER = "local-user"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``instances`` is None in the open mode: any CRN."""

    user: str
    key_id: str | None
    instances: tuple[str, ...] | None

    def may_use(self, crn: str) -> bool:
        return self.instances is None or crn in self.instances


@dataclass(frozen=True)
class Limits:
    max_queued_jobs: int
    max_executions: int


class AccessControl:
    def __init__(
        self,
        tokens: TokenIssuer,
        keys_file: Path | None,
        default_instance: InstanceConfig,
        default_limits: Limits,
    ) -> None:
        self.tokens = tokens
        self.keys_file = keys_file
        self.default_instance = default_instance
        self.default_limits = default_limits
        self._lock = threading.Lock()
        self._keys = load(keys_file) if keys_file else KeyFile()
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()

    @property
    def open_mode(self) -> bool:
        return self.keys_file is None

    # -- the keys file ----------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.keys_file is None:
            return None
        try:
            stat = os.stat(self.keys_file)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def keys(self) -> KeyFile:
        """The current keys, re-read if the file changed (a broken edit keeps the old keys)."""
        if self.keys_file is None:
            return self._keys
        now = time.monotonic()
        if now - self._checked < RELOAD_SECONDS:
            return self._keys
        with self._lock:
            self._checked = now
            stamp = self._file_stamp()
            if stamp != self._stamp:
                try:
                    self._keys = load(self.keys_file)
                    logger.info(
                        "reloaded %d API keys from %s", len(self._keys.keys), self.keys_file
                    )
                except KeyFileError as exc:
                    logger.error("keeping the previous API keys: %s", exc)
                self._stamp = stamp
        return self._keys

    # -- requests ---------------------------------------------------------------------------

    def exchange(self, apikey: str) -> Principal:
        """The principal an API key stands for (``POST /identity/token``)."""
        if self.open_mode:
            return Principal(LOCAL_USER, None, None)
        record = self.keys().find(apikey)
        if record is None:
            raise InvalidRequest("Provided API key could not be found.")
        return Principal(record.user, record.id, record.instances)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a runtime request, from its ``Authorization`` header."""
        if self.open_mode:
            return Principal(LOCAL_USER, None, None)
        if not authorization:
            raise Unauthorized(
                "authentication required: send 'Authorization: Bearer <token>' with a token "
                "from POST /identity/token"
            )
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        keys = self.keys()
        if scheme.lower() == "bearer" and credential:
            claims = self.tokens.verify(credential)
            if claims is None:
                raise Unauthorized("the bearer token is invalid or has expired; get a new one")
            record = keys.by_id(str(claims.get("kid", "")))
            if record is None:
                raise Unauthorized("the API key of this token has been revoked")
            return Principal(record.user, record.id, record.instances)
        if scheme.lower() == "apikey" and credential:
            found = keys.find(credential)
            if found is None:
                raise Unauthorized("the API key is not valid")
            return Principal(found.user, found.id, found.instances)
        raise Unauthorized("the Authorization header must be 'Bearer <token>' or 'apikey <key>'")

    def instance_for(self, principal: Principal, service_crn: str | None) -> str:
        """The instance a request acts for: its ``Service-CRN``, if the caller may use it."""
        if not service_crn:
            if principal.instances is None:
                return self.default_instance.crn
            if len(principal.instances) == 1:
                return principal.instances[0]
            raise InvalidRequest("the Service-CRN header is required: the CRN of your instance")
        if not service_crn.startswith("crn:") or len(service_crn) > 512:
            raise InvalidRequest("the Service-CRN header must be an instance CRN (crn:v1:...)")
        if not principal.may_use(service_crn):
            raise Forbidden(f"this API key may not use the instance {service_crn}")
        return service_crn

    def instances_of(self, principal: Principal) -> list[InstanceConfig]:
        """What instance discovery lists for this caller."""
        if principal.instances is None:
            return [self.default_instance]
        keys = self.keys()
        return [keys.instance(crn) for crn in principal.instances]

    def limits(self, crn: str) -> Limits:
        config = self.keys().instances.get(crn)
        if config is None:
            return self.default_limits
        return Limits(
            max_queued_jobs=config.max_queued_jobs or self.default_limits.max_queued_jobs,
            max_executions=config.max_executions or self.default_limits.max_executions,
        )
