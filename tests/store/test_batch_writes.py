"""A batch's writes come out the same in both stores (PostgreSQL writes each batch as one
statement over arrays): guards, history order, NULLs and odd text, a row named twice."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from seqctl.store import open_store
from seqctl.store.contract import Store
from seqctl.store.records import NewAction, NewHistory, NewMessage, Postponement, Sent, Transition
from seqctl.timeutil import format_instant, from_db
from tests.conftest import BOTH_STORES, Launch

pytestmark = BOTH_STORES

PLAYBOOK = "sequence: s\nsteps:\n  - id: one\n    type: task\n  - id: two\n    type: task\n"
ODD = 'it\'s "quoted", {braced}, back\\slash, NULL'


def at(text: str) -> datetime:
    """A time as the store takes it and reads it back: an aware UTC datetime."""
    return from_db(text)


AT = at("2026-11-23T09:00:00Z")
LATER = at("2026-11-24T09:00:00Z")


@pytest.fixture
def store(launch: Launch, project: Path) -> Iterator[Store]:
    run = launch({"s": PLAYBOOK}, "key,email\nann,a@x.test\nbob,b@x.test\ncat,c@x.test\n")
    assert (
        run(
            f"--now={format_instant(AT)}", "enroll", "s", "-c", "ann", "-c", "bob", "-c", "cat"
        ).exit_code
        == 0
    )
    opened = open_store(os.environ.get("SEQCTL_DB") or str(project / "seqctl.db"))
    yield opened
    opened.close()


def ids(store: Store) -> list[int]:
    return sorted(e.id for e in store.enrollments(sequence="s"))


def move(
    enrollment: int, state: str, step: int, due: datetime | None, **extra: str | None
) -> Transition:
    return Transition(
        enrollment,
        state,
        step,
        AT,
        due,
        extra.get("reason"),
        LATER,
        "action",
        "one",
        extra.get("detail"),
    )


def test_advance_moves_only_active_enrollments_and_writes_every_history_row(store: Store) -> None:
    ann, bob, cat = ids(store)
    store.set_paused(cat, at=AT, reason="asked to wait")
    store.advance(
        [
            move(ann, "active", 1, LATER),
            move(bob, "completed", 2, None, reason=ODD, detail=None),
            move(cat, "active", 1, LATER, detail=ODD),
        ]
    )
    got = {i: store.enrollment(i) for i in (ann, bob, cat)}
    assert [(e.state, e.step, e.next_due_at, e.reason) for e in got.values() if e] == [
        ("active", 1, LATER, None),
        ("completed", 2, None, ODD),
        ("paused", 0, AT, "asked to wait"),
    ]
    rows = [(h.enrollment, h.kind, h.step, h.detail) for h in store.history() if h.kind == "action"]
    assert rows == [
        (ann, "action", "one", None),
        (bob, "action", "one", None),
        (cat, "action", "one", ODD),
    ]


def test_apply_clears_a_pause_and_a_twice_named_enrollment_ends_as_row_by_row(store: Store) -> None:
    ann, bob, _ = ids(store)
    store.set_paused(ann, at=AT, reason="ooo", resume_at=LATER)
    store.apply([move(ann, "active", 1, LATER)])
    assert store.paused_until(at("9999-12-31T23:59:59Z")) == []
    record = store.enrollment(ann)
    assert record is not None and (record.state, record.paused_at) == ("active", None)
    # Named twice: the later non-active move wins, as the per-row statements leave it.
    store.advance([move(bob, "failed", 0, None, reason="x"), move(bob, "active", 1, LATER)])
    record = store.enrollment(bob)
    assert record is not None and (record.state, record.reason) == ("failed", "x")
    assert len([h for h in store.history(enrollment=bob) if h.kind == "action"]) == 2


def test_messages_keep_the_first_of_a_key_their_nulls_and_count_each_attempt(store: Store) -> None:
    ann, bob, _ = ids(store)

    def message(key: str, enrollment: int, body: str | None) -> NewMessage:
        return NewMessage(
            key, enrollment, "s", 1, "one", "ann", "email", None, None, body, "queued", AT
        )

    first = store.add_messages(
        [message("k1", ann, ODD), message("k1", ann, "second"), message("k2", bob, None)]
    )
    assert sorted(first) == ["k1", "k2"]
    assert store.add_messages([message("k2", bob, "again")]) == {}
    one, two = (store.message(first[k]) for k in ("k1", "k2"))
    assert one is not None and two is not None
    assert (one.body, one.subject, one.to_address, two.body) == (ODD, None, None, None)

    store.set_message_status([one.id, one.id], "sending", attempt=True)
    store.postpone(
        [
            Postponement(error="busy", next_attempt_at=LATER, attempt=True, message=two.id),
            Postponement(error=None, next_attempt_at=LATER, attempt=False, message=one.id),
        ]
    )
    store.mark_sent([Sent(at=LATER, provider_id=None, message=two.id)])
    one, two = store.message(one.id), store.message(two.id)
    assert one is not None and two is not None
    assert (one.status, one.attempts, one.error, one.next_attempt_at) == (
        "queued",
        2,
        None,
        LATER,
    )
    assert (two.status, two.attempts, two.error, two.sent_at) == ("sent", 2, None, LATER)
    assert store.finished_keys(["k1", "k2", "k3"]) == {"k2"}
    assert store.finished_keys([]) == set()


def test_actions_and_history_keep_the_batch_order(store: Store) -> None:
    ann, bob, cat = ids(store)
    store.add_actions(
        [
            NewAction(e, "one", "task", AT, title, None)
            for e, title in ((cat, ODD), (ann, None), (bob, "b"))
        ]
    )
    assert [(a.enrollment, a.title, a.instructions) for a in store.actions()] == [
        (cat, ODD, None),
        (ann, None, None),
        (bob, "b", None),
    ]
    store.add_history(
        [NewHistory(bob, LATER, "note", None, None), NewHistory(ann, LATER, "note", "one", ODD)]
    )
    assert [(h.enrollment, h.step, h.detail) for h in store.history() if h.kind == "note"] == [
        (bob, None, None),
        (ann, "one", ODD),
    ]
    store.add_history([])
    store.add_actions([])
    store.advance([])


def test_a_worker_lets_go_of_its_claims_as_it_writes_them_not_of_another_workers(
    store: Store, store_kind: str
) -> None:
    """On PostgreSQL a tick's worker claims what it works on; the write that is done with a
    row lets it go (so ending the run has little left to release), another worker's stays."""
    if store_kind != "postgresql":
        pytest.skip("claims are PostgreSQL's (SQLite's tick holds one lease for the database)")
    pg = store.pg  # type: ignore[attr-defined]

    def claims(table: str) -> dict[int, str | None]:
        return dict(pg.run(f"SELECT id, claimed_by FROM {table} ORDER BY id").fetchall())

    ann, bob, cat = ids(store)
    assert store.start_run("one", AT, LATER) is None
    assert [row.id for row in store.due(at("9999-01-01T00:00:00Z"), 2)] == [ann, bob]
    pg.run("UPDATE enrollments SET claimed_by = 'two' WHERE id = %s", [cat])
    keys = store.add_messages(
        [
            NewMessage(f"k{i}", i, "s", 1, "one", "ann", "email", None, None, "b", "queued", AT)
            for i in (ann, bob)
        ]
    )
    assert set(claims("messages").values()) == {"one"}

    week = at("2026-11-30T09:00:00Z")  # after the moves' own time: nothing due at once
    store.advance([move(ann, "active", 1, week), move(cat, "active", 1, week)])
    assert claims("enrollments") == {ann: None, bob: "one", cat: "two"}
    # A step due again at once (no wait) stays with the worker taking it: its count of steps
    # in one tick, the branch-loop guard, is that worker's.
    store.advance([move(bob, "active", 1, AT)])
    assert claims("enrollments") == {ann: None, bob: "one", cat: "two"}

    store.set_message_status([keys[f"k{ann}"]], "sending")
    store.mark_sent([Sent(at=LATER, provider_id=None, message=keys[f"k{ann}"])])
    store.postpone(
        [Postponement(error="busy", next_attempt_at=LATER, attempt=True, message=keys[f"k{bob}"])]
    )
    assert set(claims("messages").values()) == {None}

    store.end_run("one")
    assert claims("enrollments") == {ann: None, bob: None, cat: "two"}
