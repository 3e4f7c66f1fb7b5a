"""Whether another scheduler is gone: its process on this host, its heartbeat elsewhere."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from qiskit_runtime_server.jobs.liveness import (
    Heartbeats,
    gone_here,
    process_started,
    this_scheduler,
)


def test_an_engine_on_this_host_is_gone_when_its_process_is() -> None:
    me = this_scheduler(["aer"])
    assert not gone_here(me, me)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_started(child.pid)
        assert started is not None
        other = replace(me, id="child", pid=child.pid, pid_started=started)
        assert not gone_here(other, me)
        # The same process id with another start time is another process: the scheduler is gone.
        assert gone_here(replace(other, pid_started="0"), me)
    finally:
        child.kill()
        child.wait()
    assert gone_here(other, me)


def test_an_engine_on_another_host_or_boot_is_not_judged_by_process_ids() -> None:
    me = this_scheduler(["aer"])
    assert not gone_here(replace(me, host="elsewhere", pid_started="0"), me)
    assert not gone_here(replace(me, pid_space="another boot or container", pid_started="0"), me)


def test_a_gap_in_this_servers_own_looks_forgets_what_it_saw() -> None:
    """After this server's database outage (or a stall), nobody's count is judged stale."""
    scheduler = this_scheduler(["aer"])
    heartbeats = Heartbeats(gone_after=30, gap=15)
    assert heartbeats.stopped_among([scheduler], now=0) == set()
    for now in range(5, 35, 5):
        heartbeats.stopped_among([scheduler], now=now)
    assert heartbeats.stopped_among([scheduler], now=35) == {scheduler.id}
    fresh = Heartbeats(gone_after=30, gap=15)
    fresh.stopped_among([scheduler], now=0)
    fresh.stopped_among([scheduler], now=5)
    assert fresh.stopped_among([scheduler], now=45) == set()  # 40 s without a look
    assert fresh.stopped_among([scheduler], now=50) == set()


def test_a_heartbeat_that_stops_changing_means_gone() -> None:
    scheduler = replace(this_scheduler(["aer"]), beats=4)
    heartbeats = Heartbeats(gone_after=30)
    assert not heartbeats.stopped(scheduler, now=100)  # first sight
    assert not heartbeats.stopped(scheduler, now=129)
    assert not heartbeats.stopped(replace(scheduler, beats=5), now=131)  # it beat
    assert not heartbeats.stopped(replace(scheduler, beats=5), now=160)
    assert heartbeats.stopped(replace(scheduler, beats=5), now=161.5)
    heartbeats.forget(scheduler.id)
    assert not heartbeats.stopped(replace(scheduler, beats=5), now=500)
