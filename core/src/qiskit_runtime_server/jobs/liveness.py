"""Whether another server's job engine is gone, so that its running jobs may run again.

Several servers may share one PostgreSQL database (the API is stateless behind it). Each engine
registers an :class:`EngineRecord` and stamps the jobs it claims; a starting server must not
re-run the jobs of an engine that is alive elsewhere (they would run twice), but must re-run
those of one that died. Two tests, the first exact, the second for other hosts:

- an engine that shares this process's PID space (same host name, boot and PID namespace) is
  gone when its process is: the process id with the kernel's start time, so a reused id does
  not pass for the old engine; a process this one cannot see counts as alive;
- any engine is gone once its heartbeat count has not changed for ``ENGINE_GONE_SECONDS`` of
  this server's own clock (no clocks are compared across hosts), while this server was
  reading the database all along: after its own outage or stall it watches afresh.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from .models import EngineRecord

#: How often an engine counts a heartbeat.
HEARTBEAT_SECONDS = 2.0
#: Heartbeats unchanged this long (as this server measures) mean the engine is gone.
ENGINE_GONE_SECONDS = 30.0
#: A longer gap between two of this server's reads of the engines (its database was
#: unreachable, or it stalled) says nothing of the others: it forgets what it saw.
OBSERVATION_GAP_SECONDS = 15.0


def this_engine(executors: list[str]) -> EngineRecord:
    pid = os.getpid()
    return EngineRecord(
        id=uuid.uuid4().hex,
        host=socket.gethostname()[:256],
        pid_space=_pid_space(),
        pid=pid,
        pid_started=process_started(pid) or "",
        executors=sorted(executors),
    )


def _pid_space() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot} {os.readlink('/proc/self/ns/pid')}"
    except OSError:  # not Linux: the host name and process ids alone
        return ""


def process_started(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (clock ticks since boot), None if there is
    no such process (or no /proc to ask)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain anything.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19]  # field 22 of proc(5), counted from the state (field 3)


def gone_here(engine: EngineRecord, me: EngineRecord) -> bool:
    """Whether ``engine`` shares this process's PID space and its process has ended."""
    if (engine.host, engine.pid_space) != (me.host, me.pid_space):
        return False
    started = process_started(engine.pid)
    if started is None:  # no /proc, or hidden from this user: whether the id is in use
        return not _exists(engine.pid)
    return started != engine.pid_started


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class Heartbeats:
    """What this server saw of each engine's heartbeat count, and since when (monotonic)."""

    def __init__(
        self, gone_after: float = ENGINE_GONE_SECONDS, gap: float = OBSERVATION_GAP_SECONDS
    ) -> None:
        self.gone_after = gone_after
        self.gap = gap
        self._seen: dict[str, tuple[int, float]] = {}
        self._last_look: float | None = None

    def stopped_among(self, engines: list[EngineRecord], now: float | None = None) -> set[str]:
        """The ids of ``engines`` (just read) whose count stopped; call it at every read."""
        now = time.monotonic() if now is None else now
        if self._last_look is not None and now - self._last_look > self.gap:
            self._seen.clear()
        self._last_look = now
        return {engine.id for engine in engines if self.stopped(engine, now)}

    def stopped(self, engine: EngineRecord, now: float | None = None) -> bool:
        """Whether ``engine``'s count has not changed for ``gone_after`` seconds."""
        now = time.monotonic() if now is None else now
        seen = self._seen.get(engine.id)
        if seen is None or seen[0] != engine.beats:
            self._seen[engine.id] = (engine.beats, now)
            return False
        return now - seen[1] > self.gone_after

    def forget(self, engine_id: str) -> None:
        self._seen.pop(engine_id, None)
