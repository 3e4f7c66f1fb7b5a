"""Whether another engine is gone: its process on this host, its heartbeat elsewhere."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from qiskit_runtime_server.jobs.liveness import Heartbeats, gone_here, process_started, this_engine


def test_an_engine_on_this_host_is_gone_when_its_process_is() -> None:
    me = this_engine(["aer"])
    assert not gone_here(me, me)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_started(child.pid)
        assert started is not None
        other = replace(me, id="child", pid=child.pid, pid_started=started)
        assert not gone_here(other, me)
        # The same process id with another start time is another process: the engine is gone.
        assert gone_here(replace(other, pid_started="0"), me)
    finally:
        child.kill()
        child.wait()
    assert gone_here(other, me)


def test_an_engine_on_another_host_or_boot_is_not_judged_by_process_ids() -> None:
    me = this_engine(["aer"])
    assert not gone_here(replace(me, host="elsewhere", pid_started="0"), me)
    assert not gone_here(replace(me, pid_space="another boot or container", pid_started="0"), me)


def test_a_gap_in_this_servers_own_looks_forgets_what_it_saw() -> None:
    """After this server's database outage (or a stall), nobody's count is judged stale."""
    engine = this_engine(["aer"])
    heartbeats = Heartbeats(gone_after=30, gap=15)
    assert heartbeats.stopped_among([engine], now=0) == set()
    for now in range(5, 35, 5):
        heartbeats.stopped_among([engine], now=now)
    assert heartbeats.stopped_among([engine], now=35) == {engine.id}
    fresh = Heartbeats(gone_after=30, gap=15)
    fresh.stopped_among([engine], now=0)
    fresh.stopped_among([engine], now=5)
    assert fresh.stopped_among([engine], now=45) == set()  # 40 s without a look
    assert fresh.stopped_among([engine], now=50) == set()


def test_a_heartbeat_that_stops_changing_means_gone() -> None:
    engine = replace(this_engine(["aer"]), beats=4)
    heartbeats = Heartbeats(gone_after=30)
    assert not heartbeats.stopped(engine, now=100)  # first sight
    assert not heartbeats.stopped(engine, now=129)
    assert not heartbeats.stopped(replace(engine, beats=5), now=131)  # it beat
    assert not heartbeats.stopped(replace(engine, beats=5), now=160)
    assert heartbeats.stopped(replace(engine, beats=5), now=161.5)
    heartbeats.forget(engine.id)
    assert not heartbeats.stopped(replace(engine, beats=5), now=500)
