"""Whether another server's scheduler is gone, so that its running jobs may run again.

Several servers may share one PostgreSQL database (the API is stateless behind it). Each scheduler
registers an :class:`SchedulerRecord` and stamps the jobs it claims; a starting server must not
re-run the jobs of a scheduler that is alive elsewhere (they would run twice), but must re-run
those of one that died. Two tests, the first exact, the second for other hosts:

- a scheduler that shares this process's PID space (same host name, boot and PID namespace) is
  gone when its process is: the process id with the kernel's start time, so a reused id does
  not pass for the old scheduler; a process this one cannot see counts as alive;
- any scheduler is gone once its heartbeat count has not changed for ``SCHEDULER_GONE_SECONDS`` of
  this server's own clock (no clocks are compared across hosts), while this server was
  reading the database all along: after its own outage or stall it watches afresh.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from .models import SchedulerRecord

#: How often a scheduler counts a heartbeat.
HEARTBEAT_SECONDS = 2.0
#: Heartbeats unchanged this long (as this server measures) mean the scheduler is gone.
SCHEDULER_GONE_SECONDS = 30.0
#: A longer gap between two of this server's reads of the schedulers (its database was
#: unreachable, or it stalled) says nothing of the others: it forgets what it saw.
OBSERVATION_GAP_SECONDS = 15.0


def this_scheduler(executors: list[str], dispatcher: str = "local") -> SchedulerRecord:
    pid = os.getpid()
    return SchedulerRecord(
        id=uuid.uuid4().hex,
        host=socket.gethostname()[:256],
        pid_space=_pid_space(),
        pid=pid,
        pid_started=process_started(pid) or "",
        executors=sorted(executors),
        dispatcher=dispatcher,
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


def gone_here(scheduler: SchedulerRecord, me: SchedulerRecord) -> bool:
    """Whether ``scheduler`` shares this process's PID space and its process has ended."""
    if (scheduler.host, scheduler.pid_space) != (me.host, me.pid_space):
        return False
    started = process_started(scheduler.pid)
    if started is None:  # no /proc, or hidden from this user: whether the id is in use
        return not _exists(scheduler.pid)
    return started != scheduler.pid_started


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class Heartbeats:
    """What this server saw of each scheduler's heartbeat count, and since when (monotonic)."""

    def __init__(
        self, gone_after: float = SCHEDULER_GONE_SECONDS, gap: float = OBSERVATION_GAP_SECONDS
    ) -> None:
        self.gone_after = gone_after
        self.gap = gap
        self._seen: dict[str, tuple[int, float]] = {}
        self._last_look: float | None = None

    def stopped_among(
        self, schedulers: list[SchedulerRecord], now: float | None = None
    ) -> set[str]:
        """The ids of ``schedulers`` (just read) whose count stopped; call it at every read."""
        now = time.monotonic() if now is None else now
        if self._last_look is not None and now - self._last_look > self.gap:
            self._seen.clear()
        self._last_look = now
        return {scheduler.id for scheduler in schedulers if self.stopped(scheduler, now)}

    def stopped(self, scheduler: SchedulerRecord, now: float | None = None) -> bool:
        """Whether ``scheduler``'s count has not changed for ``gone_after`` seconds."""
        now = time.monotonic() if now is None else now
        seen = self._seen.get(scheduler.id)
        if seen is None or seen[0] != scheduler.beats:
            self._seen[scheduler.id] = (scheduler.beats, now)
            return False
        return now - seen[1] > self.gone_after

    def forget(self, scheduler_id: str) -> None:
        self._seen.pop(scheduler_id, None)
