"""The job store on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from qiskit_runtime_server.database.connection import database_url, open_database
from qiskit_runtime_server.database.migrate import alembic_config, upgrade
from qiskit_runtime_server.database.schema import jobs
from qiskit_runtime_server.jobs.blobs import compress
from qiskit_runtime_server.jobs.models import (
    JobRecord,
    JobStatus,
    SchedulerRecord,
    SessionRecord,
    utcnow,
)
from qiskit_runtime_server.jobs.sql_store import SqlJobStore
from qiskit_runtime_server.jobs.store import JobOutcome, JobQuery, JobState

INSTANCE = "crn:v1:test:a"


def job(job_id: str, *, seconds_ago: float = 0, **fields: object) -> JobRecord:
    values: dict[str, object] = {
        "id": job_id,
        "instance": INSTANCE,
        "program_id": "sampler",
        "backend": "fake_manila@aer",
        "executor": "aer",
        "created": utcnow() - timedelta(seconds=seconds_ago),
    }
    values.update(fields)
    return JobRecord(**values)  # type: ignore[arg-type]


def test_round_trip_with_blobs_and_logs(store: SqlJobStore) -> None:
    record = job("a", tags=["x", "y"], num_qubits=[5], circuit_depths=[3], max_execution_time=9)
    store.add_job(record, '{"pubs": []}', ["first line"])
    loaded = store.get_job("a")
    assert loaded == record
    assert loaded.created.tzinfo is not None
    assert store.job_params("a") == '{"pubs": []}'
    assert store.job_outcome("a", INSTANCE) == JobOutcome(JobStatus.QUEUED, None, None)
    assert store.job_outcome("a", "crn:v1:another:instance") is None
    store.append_logs("a", ["second line"])
    assert store.job_logs("a") == ["first line", "second line"]
    assert store.get_job("missing") is None


def test_transition_is_compare_and_set(store: SqlJobStore) -> None:
    store.add_job(job("a"), "{}")
    running = store.transition("a", {JobStatus.QUEUED}, status=JobStatus.RUNNING, attempts=1)
    assert running is not None
    assert running.status == JobStatus.RUNNING
    assert store.transition("a", {JobStatus.QUEUED}, status=JobStatus.RUNNING) is None
    done = store.transition(
        "a", {JobStatus.RUNNING}, status=JobStatus.COMPLETED, result=compress("{}"),
        logs=["done"], usage_seconds=1.5, finished_at=utcnow(),
    )  # fmt: skip
    assert done is not None
    assert done.usage_seconds == 1.5
    assert store.job_outcome("a", INSTANCE) == JobOutcome(JobStatus.COMPLETED, None, b"{}")
    assert store.job_logs("a") == ["done"]
    # A cancel arriving after completion changes nothing.
    assert (
        store.transition("a", {JobStatus.QUEUED, JobStatus.RUNNING}, status=JobStatus.CANCELLED)
        is None
    )
    assert store.get_job("a").status == JobStatus.COMPLETED  # type: ignore[union-attr]


def test_concurrent_claims_give_one_winner(store: SqlJobStore) -> None:
    store.add_job(job("a"), "{}")
    winners: list[str] = []

    def claim(name: str) -> None:
        if store.transition("a", {JobStatus.QUEUED}, status=JobStatus.RUNNING):
            winners.append(name)

    threads = [threading.Thread(target=claim, args=(str(i),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_list_filters_count_and_paging(store: SqlJobStore) -> None:
    for index in range(6):
        store.add_job(
            job(
                f"j{index}",
                seconds_ago=60 - index,
                tags=["even"] if index % 2 == 0 else ["odd"],
                backend="fake_manila@aer" if index < 4 else "fake_lima@aer",
                session_id="s1" if index == 5 else None,
                program_id="estimator" if index == 3 else "sampler",
            ),
            "{}",
        )
    store.add_job(job("other", instance="crn:v1:other"), "{}")
    store.transition("j0", {JobStatus.QUEUED}, status=JobStatus.COMPLETED)

    def ids(**filters: object) -> tuple[list[str], int]:
        page, count = store.list_jobs(JobQuery(instance=INSTANCE, **filters))  # type: ignore[arg-type]
        return [record.id for record in page], count

    assert ids() == (["j5", "j4", "j3", "j2", "j1", "j0"], 6)
    assert ids(limit=2, offset=1) == (["j4", "j3"], 6)
    assert ids(ascending=True, limit=2) == (["j0", "j1"], 6)
    assert ids(tags=["even"]) == (["j4", "j2", "j0"], 3)
    assert ids(tags=["even", "odd"]) == ([], 0)
    assert ids(backend="fake_lima@aer") == (["j5", "j4"], 2)
    assert ids(pending=False) == (["j0"], 1)
    assert ids(pending=True)[1] == 5
    assert ids(program="estimator") == (["j3"], 1)
    assert ids(session_id="s1") == (["j5"], 1)
    middle = store.get_job("j2").created  # type: ignore[union-attr]
    assert ids(created_after=middle) == (["j5", "j4", "j3", "j2"], 4)
    assert ids(created_before=middle) == (["j2", "j1", "j0"], 3)
    assert ids(hidden_backends=["fake_manila@aer"]) == (["j5", "j4"], 2)


def test_a_job_stored_completed_with_its_result(store: SqlJobStore) -> None:
    """A dry run is stored final, with its result; a private one without its params."""
    now = utcnow()
    for job_id, private in (("open", False), ("private", True)):
        record = job(
            job_id, status=JobStatus.COMPLETED, running_at=now, finished_at=now, private=private
        )
        store.add_job(record, '{"pubs": []}', ["dry run"], result=compress("{}"))
        assert store.get_job(job_id) == record
        outcome = store.job_outcome(job_id, INSTANCE)
        assert outcome == JobOutcome(JobStatus.COMPLETED, None, b"{}", private=private)
        assert store.job_logs(job_id) == ["dry run"]
    assert store.job_params("open") == '{"pubs": []}'
    assert store.job_params("private") is None
    assert store.next_queued("aer") is None


def test_tags_replace(store: SqlJobStore) -> None:
    store.add_job(job("a", tags=["old"]), "{}")
    store.set_tags("a", ["new", "new", "more"])
    assert store.get_job("a").tags == ["more", "new"]  # type: ignore[union-attr]
    assert store.list_jobs(JobQuery(instance=INSTANCE, tags=["old"]))[1] == 0
    assert store.list_jobs(JobQuery(instance=INSTANCE, tags=["new"]))[1] == 1


def test_delete_and_retention(store: SqlJobStore) -> None:
    old, recent, running = job("old"), job("recent"), job("running")
    for record in (old, recent, running):
        store.add_job(record, "{}", ["line"])
    store.set_tags("old", ["t"])
    store.transition(
        "old",
        {JobStatus.QUEUED},
        status=JobStatus.COMPLETED,
        finished_at=utcnow() - timedelta(days=40),
    )
    store.transition("recent", {JobStatus.QUEUED}, status=JobStatus.FAILED, finished_at=utcnow())
    store.transition("running", {JobStatus.QUEUED}, status=JobStatus.RUNNING)
    assert store.delete_finished_before(utcnow() - timedelta(days=30)) == 1
    assert store.get_job("old") is None
    assert store.job_logs("old") == []
    assert store.get_job("recent") is not None
    assert store.get_job("running") is not None
    assert store.delete_job("recent")
    assert not store.delete_job("recent")


def test_scheduling_order_prefers_active_dedicated_sessions(store: SqlJobStore) -> None:
    now = utcnow()
    store.add_session(
        SessionRecord(
            "active",
            INSTANCE,
            "dedicated",
            "b",
            100,
            60,
            state="active",
            timestamps=[("active", now)],
        )
    )
    store.add_session(SessionRecord("batch", INSTANCE, "batch", "b", 100, 60, state="active"))
    store.add_job(job("plain", seconds_ago=30), "{}")
    store.add_job(job("in-batch", seconds_ago=20, session_id="batch"), "{}")
    store.add_job(job("in-session", seconds_ago=10, session_id="active"), "{}")
    store.add_job(job("other-executor", seconds_ago=40, executor="reference"), "{}")
    assert store.next_queued("aer").id == "in-session"  # type: ignore[union-attr]
    store.transition("in-session", {JobStatus.QUEUED}, status=JobStatus.RUNNING)
    assert store.next_queued("aer").id == "plain"  # type: ignore[union-attr]
    assert store.queue_position(store.get_job("in-batch")) == 1  # type: ignore[arg-type]
    assert store.queue_lengths() == {"fake_manila@aer": 4}
    assert [j.id for j in store.jobs_in_status(JobStatus.RUNNING)] == ["in-session"]


def test_outcome_leaves_out_results_above_the_limit(store: SqlJobStore) -> None:
    store.add_job(job("a"), "{}")
    queued = JobOutcome(JobStatus.QUEUED, None, None, complete=True)
    assert store.job_outcome("a", INSTANCE, 10) == queued
    text = "".join(f"{index:x}" for index in range(20_000))  # 76 kB, 36 kB compressed
    store.transition("a", {JobStatus.QUEUED}, status=JobStatus.COMPLETED, result=compress(text))
    complete = JobOutcome(JobStatus.COMPLETED, None, text.encode())
    assert store.job_outcome("a", INSTANCE, len(text)) == complete
    left_out = JobOutcome(JobStatus.COMPLETED, None, None, complete=False)
    assert store.job_outcome("a", INSTANCE, len(compress(text)) - 1) == left_out
    # Small when stored, large when inflated: not inflated beyond the limit either.
    assert store.job_outcome("a", INSTANCE, len(text) - 1) == left_out
    assert store.job_outcome("missing", INSTANCE, 10) is None


def test_a_private_job_loses_its_params_when_it_ends(store: SqlJobStore) -> None:
    for job_id, private in (("private", True), ("public", False)):
        store.add_job(job(job_id, private=private), '{"pubs": [1]}')
        store.transition(job_id, {JobStatus.QUEUED}, status=JobStatus.RUNNING, scheduler_id="e1")
        assert store.job_params(job_id) == '{"pubs": [1]}'  # a re-queued job needs them
        done = store.transition(
            job_id, {JobStatus.RUNNING}, status=JobStatus.COMPLETED, result=compress("r")
        )
        assert done is not None
        assert done.private is private
    assert store.job_params("private") is None
    assert store.job_params("public") == '{"pubs": [1]}'
    # A change that is not to a final status keeps them (a cancelled job's usage, written late).
    store.add_job(job("cancelled", private=True), "{}")
    store.transition("cancelled", {JobStatus.QUEUED}, status=JobStatus.CANCELLED)
    store.transition("cancelled", {JobStatus.CANCELLED}, usage_seconds=1.5)
    assert store.job_params("cancelled") is None
    assert store.get_job("cancelled").usage_seconds == 1.5  # type: ignore[union-attr]


def test_a_completed_private_result_is_deleted_once_read(store: SqlJobStore) -> None:
    store.add_job(job("private", private=True), "{}")
    store.add_job(job("public"), "{}")
    store.add_job(job("failed", private=True), "{}")
    for job_id in ("private", "public"):
        store.transition(
            job_id, {JobStatus.QUEUED}, status=JobStatus.COMPLETED, result=compress("r")
        )
    store.transition("failed", {JobStatus.QUEUED}, status=JobStatus.FAILED, result=compress("why"))
    outcome = store.job_outcome("private", INSTANCE)
    assert outcome == JobOutcome(JobStatus.COMPLETED, None, b"r", private=True)
    assert store.delete_read_result("private")
    assert not store.delete_read_result("private")  # a second reader does not get it
    assert store.job_outcome("private", INSTANCE) == JobOutcome(
        JobStatus.COMPLETED, None, None, private=True
    )
    assert not store.delete_read_result("public")
    assert not store.delete_read_result("failed")  # a failure text stays
    assert store.job_outcome("public", INSTANCE) == JobOutcome(JobStatus.COMPLETED, None, b"r")
    assert store.job_outcome("failed", INSTANCE).body == b"why"  # type: ignore[union-attr]


def test_claim_takes_the_next_job_and_says_whether_one_is_left(store: SqlJobStore) -> None:
    store.add_job(job("older", seconds_ago=20), '{"n": 1}')
    store.add_job(job("newer", seconds_ago=10), '{"n": 2}')
    store.add_job(job("elsewhere", seconds_ago=30, executor="reference"), "{}")
    now = utcnow()
    first = store.claim_next("aer", running_at=now, log="started", scheduler_id="e1")
    assert first is not None
    assert (first.job.id, first.params, first.more_queued) == ("older", '{"n": 1}', True)
    assert first.job.status == JobStatus.RUNNING
    assert first.job.attempts == 1
    assert first.job.running_at == now
    assert first.job.scheduler_id == "e1"
    assert store.job_logs("older") == ["started"]
    last = store.claim_next("aer", running_at=now, log="started", scheduler_id="e1")
    assert last is not None
    assert (last.job.id, last.more_queued) == ("newer", False)
    assert store.claim_next("aer", running_at=now, log="started", scheduler_id="e1") is None
    assert store.get_job("elsewhere").status == JobStatus.QUEUED  # type: ignore[union-attr]


def test_an_owned_transition_needs_the_jobs_scheduler(store: SqlJobStore) -> None:
    store.add_job(job("a"), "{}")
    assert store.claim_next("aer", running_at=utcnow(), log="started", scheduler_id="e1")
    done = {"status": JobStatus.COMPLETED, "finished_at": utcnow()}
    assert store.transition("a", {JobStatus.RUNNING}, owner="e2", **done) is None
    assert store.transition("a", {JobStatus.RUNNING}, owner=None, **done) is None
    assert store.job_states(["a", "missing"]) == {"a": JobState(JobStatus.RUNNING, "e1", 1)}
    assert store.transition("a", {JobStatus.RUNNING}, owner="e1", **done) is not None
    assert store.job_states(["a"]) == {"a": JobState(JobStatus.COMPLETED, "e1", 1)}
    assert store.job_states([]) == {}
    store.add_job(job("unowned", status=JobStatus.RUNNING), "{}")
    assert store.transition("unowned", {JobStatus.RUNNING}, owner="e1", **done) is None
    assert store.transition("unowned", {JobStatus.RUNNING}, owner=None, **done) is not None


def test_schedulers_register_beat_change_executors_and_are_forgotten(
    store: SqlJobStore,
) -> None:
    first = SchedulerRecord("e1", "host", "boot", 10, "100", ["aer"], started_at=utcnow())
    second = SchedulerRecord(
        "e2", "other", "boot2", 11, "200", ["aer"], dispatcher="ray 10.0.0.1:6379"
    )
    store.register_scheduler(first)
    store.register_scheduler(second)
    assert store.beat("e1")
    assert store.beat("e1")
    store.set_scheduler_executors("e2", ["custatevec", "aer"], {"aer": 29, "custatevec": 33})
    second = replace(second, executors=["aer", "custatevec"])  # a GPU node joined
    second = replace(second, max_qubits={"aer": 29, "custatevec": 33})
    assert store.schedulers() == [replace(first, beats=2), second]
    store.forget_scheduler("e1")
    assert not store.beat("e1")
    assert store.schedulers() == [second]


def test_sessions_and_usage(store: SqlJobStore) -> None:
    now = utcnow()
    session = SessionRecord(
        "s", INSTANCE, "batch", "b", 100, 60, created=now, timestamps=[("open", now)]
    )
    store.add_session(session)
    assert store.get_session("s") == session
    updated = store.update_session("s", state="closed", timestamps=[("open", now), ("closed", now)])
    assert updated is not None
    assert updated.state == "closed"
    assert store.open_sessions() == []
    store.add_job(job("a", usage_seconds=1.25, finished_at=now - timedelta(days=2)), "{}")
    store.add_job(job("b", usage_seconds=2.0, finished_at=now), "{}")
    assert store.usage_seconds(INSTANCE) == 3.25
    assert store.usage_seconds(INSTANCE, since=now - timedelta(days=1)) == 2.0
    assert store.usage_seconds("nobody") == 0.0


def test_migrations_are_idempotent(store: SqlJobStore) -> None:
    upgrade(store.engine)
    store.ping()


def test_a_database_of_the_first_schema_upgrades_with_its_jobs(tmp_path: Path) -> None:
    """What a user upgrading the server has: jobs stored under revision 0001."""
    engine = open_database(database_url(tmp_path, None))
    command.upgrade(alembic_config(engine), "0001")
    kept = job("kept", status=JobStatus.RUNNING, attempts=1)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    row = {name: value for name, value in vars(kept).items() if name in columns}
    with engine.begin() as conn:  # the server of revision 0001 knew only these columns
        conn.execute(jobs.insert().values({**row, "status": "Running", "params": compress("{}")}))
    upgrade(engine)
    assert SqlJobStore(engine).get_job("kept") == kept  # running, on no recorded scheduler
    indexes = {index["name"] for index in sa.inspect(engine).get_indexes("jobs")}
    assert "ix_jobs_instance_status" in indexes
    engine.dispose()


def test_a_database_of_revision_0003_keeps_its_engines_as_schedulers(tmp_path: Path) -> None:
    """Revision 0004 renames the ``engines`` table and the jobs' ``engine_id``."""
    engine = open_database(database_url(tmp_path, None))
    command.upgrade(alembic_config(engine), "0003")
    owned = job("owned", status=JobStatus.RUNNING, attempts=1)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    row = {name: value for name, value in vars(owned).items() if name in columns}
    row.update(status="Running", params=compress("{}"), engine_id="e1")
    row.update(tags="[]", num_qubits="[]", circuit_depths="[]")  # JSON, as text here
    old_jobs = sa.table("jobs", *map(sa.column, row))  # the table as 0003 knew it
    now = utcnow().replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(old_jobs.insert().values(row))
        conn.execute(
            sa.text(
                "INSERT INTO engines (id, host, pid_space, pid, pid_started, executors, "
                "started_at, beats) VALUES ('e1', 'h', 'b', 1, '2', '[\"aer\"]', :now, 7)"
            ),
            {"now": now},
        )
    upgrade(engine)
    store = SqlJobStore(engine)
    assert store.get_job("owned") == replace(owned, scheduler_id="e1")
    [scheduler] = store.schedulers()
    assert (scheduler.id, scheduler.executors, scheduler.beats) == ("e1", ["aer"], 7)
    assert (scheduler.dispatcher, scheduler.max_qubits) == ("local", {})
    engine.dispose()


def test_activity_and_sessions_of_some_instances_only(store: SqlJobStore) -> None:
    """What the dashboard's overview and the metrics read: queued and running jobs per
    executor and sessions per state, of the caller's instances (None: every instance)."""
    other = "crn:v1:test:other"
    now = utcnow()
    store.add_job(job("mine-queued"), "{}")
    store.add_job(job("mine-running", status=JobStatus.RUNNING, running_at=now), "{}")
    store.add_job(job("mine-done", status=JobStatus.COMPLETED, finished_at=now), "{}")
    store.add_job(job("theirs", instance=other), "{}")
    store.add_job(job("theirs-gpu", instance=other, executor="custatevec"), "{}")
    store.add_session(SessionRecord("s-mine", INSTANCE, "batch", "b", 100, 60, created=now))
    store.add_session(SessionRecord("s-theirs", other, "batch", "b", 100, 60, created=now))
    everyone = store.activity()
    assert everyone.jobs == {
        ("aer", "Queued"): 2,
        ("aer", "Running"): 1,
        ("custatevec", "Queued"): 1,
    }
    assert sum(everyone.sessions.values()) == 2
    mine = store.activity([INSTANCE])
    assert mine.jobs == {("aer", "Queued"): 1, ("aer", "Running"): 1}
    assert sum(mine.sessions.values()) == 1
    assert store.activity([]).jobs == {}
    page, total = store.list_sessions(INSTANCE)
    assert total == 1
    assert [session.id for session in page] == ["s-mine"]
