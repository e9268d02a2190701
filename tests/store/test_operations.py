"""The store contract's operations, called directly, giving the same results on both stores.

Each test runs on SQLite and on PostgreSQL (`store` is parametrised): what the layers above
see must not depend on the database. SQLite's behaviour is the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from seqctl.store import Store, open_store
from seqctl.store.records import (
    ActionDay,
    ActionsDue,
    ContactRow,
    EmailMessageRef,
    EnrollmentFailure,
    EnrollmentPosition,
    FailingChannel,
    FailingSince,
    FolderState,
    LiveElsewhere,
    MessageFailure,
    NewAction,
    NewDue,
    NewEvent,
    NewHistory,
    NewMessage,
    Postponement,
    Resent,
    Sent,
    SentCount,
    SentMail,
    SlotCount,
    StepEvent,
    StepKind,
    StepStatus,
    SuppressionRow,
    Transition,
    VersionRecord,
)
from seqctl.timeutil import format_instant, from_db


def at(text: str) -> datetime:
    """A time as the store takes it and reads it back: an aware UTC datetime."""
    return from_db(text)


T0 = at("2026-11-23T08:00:00Z")
T1 = at("2026-11-23T09:00:00Z")
T2 = at("2026-11-23T10:00:00Z")
T3 = at("2026-11-23T11:00:00Z")


@pytest.fixture(params=("sqlite", "postgresql"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store of each kind."""
    if request.param == "postgresql":
        opened = open_store(str(request.getfixturevalue("postgres_url")))
    else:
        opened = open_store(tmp_path / "s.db")
    with opened:
        yield opened


def version(sequence: str = "s", number: int = 1, definition: str = "{}") -> VersionRecord:
    return VersionRecord(sequence, number, f"d{number}", definition, None, T0, "ann", None)


def contact(
    key: str, email: str | None = None, zone: str | None = None, **attrs: object
) -> ContactRow:
    return ContactRow(key, email, None, zone, dict(attrs))


def launch(store: Store, *keys: str, sequence: str = "s", status: str = "active") -> list[int]:
    """A sequence with version 1 and these contacts enrolled (ids in the order given)."""
    if store.sequence(sequence) is None:
        store.create_sequence(sequence, T0)
        store.add_version(version(sequence))
        store.set_sequence_status(sequence, status, T0, None)
    store.upsert_contacts([contact(k, f"{k}@example.com") for k in keys], T0)
    store.insert_enrollments(sequence, 1, keys, first_due=lambda zone: T1, at=T0)
    return [store.live_ids(sequence, keys)[k] for k in keys]


def message(key: str, enrollment: int, *, status: str = "queued", **fields: object) -> NewMessage:
    values: dict[str, object] = {
        "idempotency_key": key,
        "enrollment": enrollment,
        "sequence": "s",
        "version": 1,
        "step": "hello",
        "contact": "a",
        "channel": "email",
        "to_address": "a@example.com",
        "subject": "Hi",
        "body": "Hello",
        "status": status,
        "created_at": T0,
    }
    values.update(fields)
    return NewMessage(**values)  # type: ignore[arg-type]


# ---- Sequences and versions.


def test_sequence_starts_as_draft_and_takes_a_status(store: Store) -> None:
    store.create_sequence("s", T0)
    assert store.sequence("s") == store.sequences()[0]
    draft = store.sequence("s")
    assert draft is not None and (draft.status, draft.latest_version) == ("draft", None)
    store.set_sequence_status("s", "paused", T1, T1)
    paused = store.sequence("s")
    assert paused is not None
    assert (paused.status, paused.updated_at, paused.paused_at) == ("paused", T1, T1)
    assert store.sequence("nope") is None


def test_versions_oldest_first_and_the_newest_by_default(store: Store) -> None:
    store.create_sequence("s", T0)
    store.add_version(version(number=1))
    store.add_version(version(number=2, definition='{"steps": []}'))
    assert [v.number for v in store.versions("s")] == [1, 2]
    assert store.version("s") == version(number=2, definition='{"steps": []}')
    assert store.version("s", 1) == version(number=1)
    assert store.version("s", 3) is None
    latest = store.sequence("s")
    assert latest is not None and latest.latest_version == 2


def test_daily_caps_of_an_active_sequence(store: Store) -> None:
    store.create_sequence("s", T0)
    store.add_version(version(definition='{"auto_approve": [{"max_per_day": 5}]}'))
    assert not store.has_daily_caps()  # a draft sends nothing
    store.set_sequence_status("s", "active", T0, None)
    assert store.has_daily_caps()


def test_attachments_kept_once_per_content(store: Store) -> None:
    store.add_attachment("abc", "a.pdf", b"%PDF")
    store.add_attachment("abc", "b.pdf", b"%PDF")
    assert store.attachment("abc") == b"%PDF"
    assert store.attachment("def") is None


# ---- Contacts.


def test_upsert_counts_new_and_changed_contacts(store: Store) -> None:
    new: list[str] = []
    assert store.upsert_contacts([contact("b"), contact("a")], T0, new_keys=new) == (2, 0)
    assert new == ["b", "a"]
    rows = [contact("a", "a@example.com"), contact("b"), contact("c")]
    assert store.upsert_contacts(rows, T1, new_keys=new) == (1, 1)
    assert new == ["b", "a", "c"]
    assert store.count_contacts() == 3
    assert [c.key for c in store.contacts(limit=2, offset=1)] == ["b", "c"]


def test_an_unchanged_contact_is_not_rewritten(store: Store) -> None:
    store.upsert_contacts([contact("a", "a@example.com", "Europe/Paris", plan="pro")], T0)
    again = [contact("a", None, None, plan="pro"), contact("a", "a@example.com")]
    assert store.upsert_contacts(again, T1) == (0, 0)
    kept = store.contact("a")
    assert kept is not None
    assert (kept.email, kept.timezone, kept.updated_at) == ("a@example.com", "Europe/Paris", T0)


def test_attributes_merge_as_json_merge_patch(store: Store) -> None:
    """RFC 7396: nested objects merge, a null removes the key, anything else replaces."""
    first = contact("a", plan="pro", seats=3, company={"name": "Acme", "size": 10}, tags=["x"])
    store.upsert_contacts([first], T0)
    patch = contact("a", seats=None, company={"size": 12, "city": "Lyon"}, tags=["y"], new=1)
    assert store.upsert_contacts([patch], T1) == (0, 1)
    merged = store.contact("a")
    assert merged is not None
    assert merged.attributes == {
        "plan": "pro",
        "company": {"name": "Acme", "size": 12, "city": "Lyon"},
        "tags": ["y"],
        "new": 1,
    }
    assert merged.updated_at == T1
    # Keys keep their places, new ones after: `contacts show` lists them in this order.
    assert list(merged.attributes) == ["plan", "company", "tags", "new"]
    assert list(merged.attributes["company"]) == ["name", "size", "city"]


def test_a_null_inside_a_nested_object_removes_that_key(store: Store) -> None:
    store.upsert_contacts([contact("a", company={"name": "Acme", "size": 10})], T0)
    store.upsert_contacts([contact("a", company={"size": None}, extra={"gone": None})], T1)
    merged = store.contact("a")
    assert merged is not None and merged.attributes == {"company": {"name": "Acme"}, "extra": {}}


def test_removing_a_key_that_is_not_there_changes_nothing(store: Store) -> None:
    store.upsert_contacts([contact("a", plan="pro")], T0)
    assert store.upsert_contacts([contact("a", seats=None)], T1) == (0, 0)
    kept = store.contact("a")
    assert kept is not None and kept.updated_at == T0


def test_contacts_by_key_email_and_existing_keys(store: Store) -> None:
    store.upsert_contacts([contact("a", "Ann@Example.com"), contact("b", "ann@example.COM")], T0)
    assert [c.key for c in store.contacts_by_email("ANN@example.com")] == ["a", "b"]
    assert set(store.contacts_by_key(["a", "z"])) == {"a"}
    assert store.existing_contact_keys(["b", "z", "a"]) == {"a", "b"}
    assert store.contacts_by_email("nobody@example.com") == []


# ---- Enrollments.


def test_enrollment_ids_follow_the_given_order(store: Store) -> None:
    launch(store)
    store.upsert_contacts([contact(k) for k in ("a", "b", "c")], T0)
    enrolled = store.insert_enrollments("s", 1, ["c", "a", "b"], first_due=lambda z: T1, at=T0)
    assert enrolled == {"a", "b", "c"}
    assert [e.contact for e in store.enrollments(sequence="s")] == ["c", "a", "b"]
    assert [h.detail for h in store.history(contact="c")] == ["version 1"]


def test_first_due_per_zone_unknown_and_skipped_contacts_left_out(store: Store) -> None:
    launch(store)
    rows = [contact("a", zone="Europe/Paris"), contact("b"), contact("c", zone="Asia/Tokyo")]
    store.upsert_contacts(rows, T0)
    asked: list[str | None] = []

    def first_due(zone: str | None) -> str | None:
        asked.append(zone)
        return {"Europe/Paris": T1, "Asia/Tokyo": T2}.get(zone or "")

    enrolled = store.insert_enrollments(
        "s", 1, ["a", "b", "c", "ghost"], first_due=first_due, skip={"c"}, at=T0
    )
    assert enrolled == {"a", "b"}
    assert {e.contact: e.next_due_at for e in store.enrollments(sequence="s")} == {
        "a": T1,
        "b": None,
    }
    assert set(asked) == {"Europe/Paris", None}  # never for a contact left out


def test_a_live_enrollment_is_not_made_twice(store: Store) -> None:
    launch(store, "a", "b")
    again = store.insert_enrollments("s", 1, ["a", "b"], first_due=lambda z: T1, at=T1)
    assert again == set()
    assert store.enrolled_count("s") == 2
    assert store.live_contacts("s", ["a", "b", "c"]) == {"a", "b"}


def test_live_and_ended_enrollments(store: Store) -> None:
    ids = launch(store, "a", "b")
    launch(store, "a", sequence="t")
    store.apply([Transition(ids[1], "completed", 1, T1, None, None, T1, "completed", None)])
    assert store.live_elsewhere("s", ["a", "b"]) == [LiveElsewhere("a", "t", 1)]
    assert store.last_ended("s", ["a", "b"]) == {"b": "completed"}
    assert store.live_ids("s", ["a", "b"]) == {"a": ids[0]}
    assert store.state_counts("s") == {"active": 1, "completed": 1}
    live = store.live_enrollment("s", "a")
    assert live is not None and live.id == ids[0]
    assert store.live_enrollment("s", "b") is None
    assert [e.id for e in store.enrollments(live=True, sequence="s")] == [ids[0]]
    assert store.enrolled_count("s", since=T0, until=T1) == 2
    assert store.enrolled_count("s", since=T1) == 0


def test_enrollments_with_contacts_streams_in_id_order(store: Store) -> None:
    launch(store, "b", "a")
    found = store.enrollments_with_contacts(states=["active"], sequence="s", due_before=T2)
    assert [(e.contact, c.email) for e, c in found] == [
        ("b", "b@example.com"),
        ("a", "a@example.com"),
    ]


def test_paused_until_lists_pauses_that_end_by_now(store: Store) -> None:
    a, b, c = launch(store, "a", "b", "c")
    store.set_paused(b, at=T0, reason="ooo", resume_at=T2)
    store.set_paused(a, at=T0, reason="ooo", resume_at=T1)
    store.set_paused(c, at=T0, reason="by hand")
    assert [e.id for e in store.paused_until(T2)] == [a, b]
    assert store.paused_until(T0) == []
    paused = store.enrollment(c)
    assert paused is not None and (paused.state, paused.reason, paused.paused_at) == (
        "paused",
        "by hand",
        T0,
    )


# ---- Transitions.


def test_due_oldest_first_of_active_sequences_only(store: Store) -> None:
    a, b = launch(store, "a", "b")
    launch(store, "c", sequence="t", status="paused")
    store.set_due([NewDue(next_due_at=T2, enrollment=a)], at=T0)
    assert [(row.id, row.next_due_at) for row in store.due(T3, 10)] == [(b, T1), (a, T2)]
    assert [row.id for row in store.due(T1, 10)] == [b]
    assert store.count_due(T3) == 2
    assert store.has_work(T3) and not store.has_work(T0)


def test_due_leaves_out_the_skipped(store: Store) -> None:
    a, b = launch(store, "a", "b")
    assert [row.id for row in store.due(T3, 10, skip={a})] == [b]


def test_a_due_row_carries_its_times_and_its_contact(store: Store) -> None:
    (a,) = launch(store, "a")
    (row,) = store.due(T3, 10)
    assert (row.id, row.sequence, row.version, row.contact, row.step) == (a, "s", 1, "a", 0)
    assert (row.anchor_at, row.next_due_at, row.enrolled_at) == (T0, T1, T0)
    assert (row.email, row.vars_json) == ("a@example.com", None)


def test_positions_read_paused_while_the_sequence_is_not_active(store: Store) -> None:
    (a,) = launch(store, "a")
    assert store.enrollment_positions([a]) == {a: EnrollmentPosition("active", 0, T1)}
    store.set_sequence_status("s", "paused", T1, T1)
    assert store.enrollment_positions([a, 999]) == {a: EnrollmentPosition("paused", 0, T1)}
    assert store.enrollment_states([a]) == {a: "active"}


def test_advance_leaves_an_enrollment_no_longer_active_alone(store: Store) -> None:
    a, b = launch(store, "a", "b")
    store.set_paused(b, at=T1, reason="reply")
    store.advance(
        [
            Transition(a, "active", 1, T1, T2, None, T1, "sent", "hello"),
            Transition(b, "active", 1, T1, T2, None, T1, "sent", "hello"),
        ]
    )
    assert store.enrollment_positions([a, b]) == {
        a: EnrollmentPosition("active", 1, T2),
        b: EnrollmentPosition("paused", 0, T1),
    }
    store.apply([Transition(b, "exited", 0, T1, None, "reply", T2, "exited", None)])
    ended = store.enrollment(b)
    assert ended is not None and (ended.state, ended.reason, ended.paused_at) == (
        "exited",
        "reply",
        None,
    )


def test_set_version_moves_an_enrollment(store: Store) -> None:
    (a,) = launch(store, "a")
    store.add_version(version(number=2))
    store.set_version(a, 2, 3, T1)
    moved = store.enrollment(a)
    assert moved is not None and (moved.version, moved.step, moved.updated_at) == (2, 3, T1)


# ---- History.


def test_history_oldest_first_and_counted_per_step(store: Store) -> None:
    a, b = launch(store, "a", "b")
    store.add_history(
        [NewHistory(a, T2, "sent", "two", None), NewHistory(a, T1, "sent", "one", "x")]
    )
    store.add_history(
        [NewHistory(b, T1, "sent", "one", None), NewHistory(b, T1, "failed", "one", "bounce")]
    )
    assert [(h.kind, h.step) for h in store.history(enrollment=a)] == [
        ("enrolled", None),
        ("sent", "one"),
        ("sent", "two"),
    ]
    assert len(store.history(sequence="s")) == 6
    counts = store.step_counts("s")
    assert counts == {("one", "sent"): 2, ("two", "sent"): 1, ("one", "failed"): 1}
    assert {(key.step, key.kind) for key in counts} == set(counts)
    assert counts[StepKind(step="one", kind="failed")] == 1
    assert store.step_counts("s", since=T2) == {("two", "sent"): 1}
    assert store.step_reached("s", ["sent", "failed"]) == {"one": 2, "two": 1}
    assert store.last_history_at(["failed"]) == T1
    assert store.last_history_at(["opened"]) is None


def test_news_since_a_history_id(store: Store) -> None:
    a, b = launch(store, "a", "b")
    start = store.last_history_id()
    store.add_history(
        [NewHistory(a, T1, "replied", "one", None), NewHistory(b, T1, "sent", "one", None)]
    )
    store.apply([Transition(b, "exited", 1, T1, None, "bounced", T2, "bounced", "one")])
    until = store.last_history_id()
    store.add_history(
        [NewHistory(a, T2, "replied", "two", None)]
    )  # after the digest took its bound
    news = store.news_since(start, until, kinds=["replied"], exits={"bounced": "bounced"})
    assert [(n.contact, n.kind) for n in news] == [("a", "replied"), ("b", "bounced")]
    assert until == news[-1].id
    later = store.news_since(until, store.last_history_id(), kinds=["replied"], exits={})
    assert [(n.contact, n.kind, n.step) for n in later] == [("a", "replied", "two")]


def test_the_history_bound_waits_for_a_row_another_worker_has_not_committed(
    store: Store, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL takes a row's id as it is written: another worker's row with a smaller id
    may commit after a larger one. The digest's bound must not pass it by."""
    if request.node.callspec.params["store"] != "postgresql":
        pytest.skip("SQLite has one writer at a time: its ids commit in order")
    import threading

    import psycopg

    a, b = launch(store, "a", "b")
    seen = store.last_history_id()
    url = str(request.getfixturevalue("postgres_url"))
    with psycopg.connect(url, autocommit=False) as other:
        (slow,) = other.execute(
            "INSERT INTO history (enrollment, at, kind, step) VALUES (%s, %s, 'replied', 'one')"
            " RETURNING id",
            [a, format_instant(T1)],
        ).fetchone()
        store.add_history(
            [NewHistory(b, T1, "replied", "one", None)]
        )  # a larger id, committed first
        bound: list[int] = []
        taking = threading.Thread(target=lambda: bound.append(store.last_history_id()))
        taking.start()
        with psycopg.connect(url, autocommit=True) as watch:
            while not watch.execute(  # the bound is waiting for the open transaction
                "SELECT count(*) FROM pg_locks WHERE relation = 'history'::regclass AND NOT granted"
            ).fetchone()[0]:
                taking.join(0.01)
                assert taking.is_alive(), f"the bound {bound} did not wait for row {slow}"
        other.commit()
    taking.join()
    news = store.news_since(seen, bound[0], kinds=["replied"], exits={})
    assert sorted(n.contact for n in news) == ["a", "b"]


# ---- Actions.


def test_actions_soonest_first_and_closed(store: Store) -> None:
    a, b = launch(store, "a", "b")
    store.add_actions(
        [
            NewAction(a, "call", "call", T2, "Call Ann", None),
            NewAction(b, "call", "call", T1, None, "Ask"),
        ]
    )
    first, second = store.actions()
    assert (first.contact, second.contact) == ("b", "a")
    assert [x.contact for x in store.actions(due_before=T1)] == ["b"]
    assert store.open_actions_due("s", T1, T0) == ActionsDue(due=1, overdue=0)
    assert store.open_action_days(now=T1, until=T3) == [
        ActionDay("s", 1, "call", date(2026, 11, 23), 2)
    ]
    store.close_action(first.id, "done", T2, "ann")
    closed = store.action(first.id)
    assert closed is not None and (closed.status, closed.closed_at, closed.closed_by) == (
        "done",
        T2,
        "ann",
    )
    store.cancel_actions(a, T3)
    assert store.actions() == []
    assert [x.status for x in store.actions(status=None)] == ["done", "cancelled"]


# ---- Messages.


def test_add_messages_is_idempotent_by_key(store: Store) -> None:
    (a,) = launch(store, "a")
    ids = store.add_messages([message("k1", a), message("k2", a, extra_json='{"html": "<p>"}')])
    assert sorted(ids) == ["k1", "k2"]
    assert store.add_messages([message("k1", a, body="other")]) == {}
    assert [m.body for m in store.messages(enrollment=a)] == ["Hello", "Hello"]
    assert store.message_extra(ids["k2"]) == {"html": "<p>"}
    assert store.message_extra(ids["k1"]) == {}
    by_key = store.message_by_key("k2")
    assert by_key is not None and by_key.id == ids["k2"]


def test_deliverable_in_order_held_by_pauses_and_retry_times(store: Store) -> None:
    a, b, c = launch(store, "a", "b", "c")
    ids = store.add_messages(
        [
            message("m1", a),
            message("m2", b, next_attempt_at=T2),
            message("m3", c, contact="c"),
            message("m4", a, status="pending_approval"),
        ]
    )
    store.set_paused(c, at=T0, reason="ooo")
    ready = store.deliverable(None, now=T1)
    assert [d.message.idempotency_key for d in ready] == ["m1"]
    assert [d.message.id for d in store.deliverable(None, now=T2)] == [ids["m1"], ids["m2"]]
    assert [d.message.id for d in store.deliverable(1, now=T2, after=ids["m1"])] == [ids["m2"]]
    pending = store.deliverable(None, status="pending_approval")
    assert [(d.message.id, d.enrollment_state, d.step_index) for d in pending] == [
        (ids["m4"], "active", 0)
    ]


def test_postpone_requeue_and_sent(store: Store) -> None:
    (a,) = launch(store, "a")
    ids = store.add_messages([message("m1", a), message("m2", a)])
    m1, m2 = ids["m1"], ids["m2"]
    store.postpone([Postponement(error="timeout", next_attempt_at=T2, attempt=True, message=m1)])
    store.mark_failing([FailingSince(at=T1, message=m1), FailingSince(at=T2, message=m1)])
    waiting = store.message(m1)
    assert waiting is not None
    assert (waiting.error, waiting.next_attempt_at, waiting.attempts) == ("timeout", T2, 1)
    assert waiting.failing_since == T1
    assert store.failing_channels() == [FailingChannel("email", 1, T2, "timeout")]
    store.set_message_status([m1], "failed", error="gave up", attempt=True)
    store.requeue([m1])
    again = store.message(m1)
    assert again is not None
    assert (again.status, again.attempts, again.next_attempt_at, again.failing_since) == (
        "queued",
        0,
        None,
        None,
    )
    # Held again (a daily cap, say) and then sent: no next attempt is left on a sent message.
    store.postpone([Postponement(error=None, next_attempt_at=T3, attempt=False, message=m1)])
    store.mark_sent([Sent(at=T2, provider_id="p-1", message=m1)])
    store.set_message_status([m2], "sent", sent_at=T3)
    assert store.sent_since(T1, sequence="s") == SentCount(2, T2)
    assert store.sent_since(T2, sequence="s") == SentCount(1, T3)
    assert store.sent_since(T3, sequence="s") == SentCount(0, None)
    assert store.failing_channels() == []
    last = store.last_sent_message("a")
    assert last is not None and last.id == m2
    sent = store.message(m1)
    assert sent is not None
    assert (sent.status, sent.provider_id, sent.error, sent.next_attempt_at) == (
        "sent",
        "p-1",
        None,
        None,
    )


def test_failing_channels_report_the_first_to_fail(store: Store) -> None:
    (a,) = launch(store, "a")
    ids = store.add_messages([message(f"m{i}", a, channel="sms") for i in range(3)])
    store.postpone(
        [
            Postponement(error="down", next_attempt_at=T3, attempt=True, message=ids["m0"]),
            Postponement(error="breaker", next_attempt_at=T2, attempt=False, message=ids["m1"]),
        ]
    )
    store.mark_failing([FailingSince(at=T1, message=ids["m1"]), FailingSince(T1, ids["m0"])])
    assert store.failing_channels() == [FailingChannel("sms", 2, T2, "down")]


def test_requeue_in_flight_and_resent(store: Store) -> None:
    (a,) = launch(store, "a")
    ids = store.add_messages([message("m1", a), message("m2", a)])
    store.set_message_status([ids["m1"]], "sending")
    store.requeue_in_flight([ids["m1"], ids["m2"]], "unknown outcome")
    store.add_resent([Resent(times=2, message=ids["m2"])])
    assert [(m.status, m.resent, m.error) for m in store.messages()] == [
        ("queued", 1, "unknown outcome"),
        ("queued", 2, None),
    ]


def test_finished_keys_and_counts(store: Store) -> None:
    (a,) = launch(store, "a")
    ids = store.add_messages([message("m1", a), message("m2", a), message("m3", a, step="bye")])
    store.set_message_status([ids["m1"]], "failed", error="bounced")
    store.mark_sent([Sent(at=T1, provider_id=None, message=ids["m3"])])
    assert store.finished_keys(["m1", "m2", "m3", "zz"]) == {"m1", "m3"}
    counts = store.message_counts("s")
    assert counts == {
        ("hello", "failed"): 1,
        ("hello", "queued"): 1,
        ("bye", "sent"): 1,
    }
    assert StepStatus(step="bye", status="sent") in counts
    assert sorted(key.status for key in counts) == ["failed", "queued", "sent"]
    assert store.count_released("s", "hello", at("2000-01-01T00:00:00Z")) == 1
    store.cancel_messages(a)
    assert [m.idempotency_key for m in store.messages(status="cancelled")] == ["m2"]


def test_edit_and_rewrite_a_message(store: Store) -> None:
    (a,) = launch(store, "a")
    mid = store.add_messages([message("m1", a)])["m1"]
    store.edit_message(mid, None, "Edited")
    store.rewrite_message(mid, "Template", '{"template": "hi"}')
    edited = store.message(mid)
    assert edited is not None and (edited.subject, edited.body) == ("Hi", "Template")
    assert store.message_extra(mid) == {"template": "hi"}


def test_deferred_messages(store: Store) -> None:
    (a,) = launch(store, "a")
    store.add_messages([message("m1", a, next_attempt_at=T2), message("m2", a)])
    assert [(m.idempotency_key, m.next_attempt_at) for m in store.deferred_messages(a)] == [
        ("m1", T2)
    ]


def test_approve_pending_releases_all_but_paused_ones(store: Store) -> None:
    a, b = launch(store, "a", "b")
    store.apply([Transition(a, "waiting", 0, T0, None, "approval", T0, "approval", "hello")])
    store.add_messages(
        [
            message("m1", a, status="pending_approval"),
            message("m2", b, contact="b", status="pending_approval"),
        ]
    )
    store.set_paused(b, at=T0, reason="ooo")
    assert store.waiting_approval("s") == 2
    assert store.approve_pending(T1, "ann") == 1
    assert [(m.idempotency_key, m.status) for m in store.messages()] == [
        ("m1", "queued"),
        ("m2", "pending_approval"),
    ]
    approved = store.enrollment(a)
    assert approved is not None and (approved.state, approved.reason) == ("active", None)
    assert store.history(enrollment=a)[-1].kind == "approved"
    assert store.approve_pending(T1, "ann", sequence="other") == 0


# ---- Outcomes.


def test_failures_per_error_a_missing_one_first_among_equals(store: Store) -> None:
    """NULL sorts first, as on SQLite (PostgreSQL's own default puts it last)."""
    a, b, c = launch(store, "a", "b", "c")
    ids = store.add_messages([message("m1", a), message("m2", b, contact="b")])
    store.set_message_status([ids["m1"]], "failed", error="bounced")
    store.set_message_status([ids["m2"]], "failed")
    assert store.message_failures("s", None, None) == [
        MessageFailure("hello", "", 1, "b"),
        MessageFailure("hello", "bounced", 1, "a"),
    ]
    store.apply(
        [
            Transition(a, "failed", 0, T0, None, "render", T1, "failed", "hello"),
            Transition(c, "failed", 0, T0, None, None, T1, "failed", "hello"),
        ]
    )
    assert store.enrollment_failures("s") == [
        EnrollmentFailure("", 1, "c"),
        EnrollmentFailure("render", 1, "a"),
    ]


def test_sent_and_contacted_per_period(store: Store) -> None:
    a, b = launch(store, "a", "b")
    ids = store.add_messages([message("m1", a), message("m2", b, contact="b"), message("m3", a)])
    store.mark_sent([Sent(T1, None, ids["m1"]), Sent(at("2026-11-23T09:30:00Z"), None, ids["m3"])])
    store.mark_sent([Sent(T2, None, ids["m2"])])
    store.add_history(
        [
            NewHistory(a, T1, "sent", "hello", None),
            NewHistory(a, at("2026-11-23T09:30:00Z"), "sent", "hello", None),
            NewHistory(b, T2, "sent", "hello", None),
        ]
    )
    assert store.sent_per_hour(["s"], None, None) == [SlotCount(T1, 2), SlotCount(T2, 1)]
    assert store.sent_per_hour(["s"], None, None, width=16) == [
        SlotCount(T1, 1),
        SlotCount(at("2026-11-23T09:30:00Z"), 1),
        SlotCount(T2, 1),
    ]
    assert store.contacted("s", T0, T2) == 1
    assert store.contacted("s", None, None) == 2


def test_within_a_run_the_same_work_is_handed_out(store: Store) -> None:
    """PostgreSQL claims what it hands to a run; what it hands is SQLite's choice."""
    a, b = launch(store, "a", "b")
    ids = store.add_messages([message("m1", a), message("m2", b, contact="b")])
    assert store.start_run("tick", T1, T2) is None
    assert [row.id for row in store.due(T1, 1)] == [a]
    assert [d.message.id for d in store.deliverable(10, now=T1)] == [ids["m1"], ids["m2"]]
    store.end_run("tick")


# ---- Events.


def test_an_event_is_stored_once_per_event_id(store: Store) -> None:
    launch(store, "a")
    first = store.add_event(NewEvent("a", "opened", T1, T1, event_id="e1", sequence="s"))
    assert isinstance(first, int)
    assert store.add_event(NewEvent("a", "clicked", T2, T2, event_id="e1")) is None
    assert store.add_event(NewEvent("a", "note", T1, T1)) is not None
    assert store.add_event(NewEvent("a", "note", T1, T1)) is not None  # no event id: no dedup
    assert [e.type for e in store.events(contact="a")] == ["opened", "note", "note"]


def test_events_filters(store: Store) -> None:
    launch(store, "a", "b")
    store.add_event(NewEvent("a", "opened", T2, T2, sequence="s", step="one"))
    store.add_event(NewEvent("a", "replied", T1, T1, data_json='{"channel": "sms"}'))
    store.add_event(NewEvent("b", "opened", T1, T1, sequence="t"))
    assert [(e.type, e.at) for e in store.events(contact="a")] == [
        ("replied", T1),
        ("opened", T2),
    ]
    assert [e.contact for e in store.events(types=["opened"])] == ["b", "a"]
    assert [e.type for e in store.events(sequence="s")] == ["replied", "opened"]
    assert [e.type for e in store.events(since=T2)] == ["opened"]
    assert store.events(contact="a", types=["replied"])[0].data == {"channel": "sms"}
    assert store.event_contacts("s", ["opened"]) == {StepEvent(step="one", type="opened"): 1}


def test_last_inbound_on_a_channel(store: Store) -> None:
    launch(store, "a", "b")
    store.add_event(NewEvent("a", "inbound", T1, T1, data_json='{"channel": " WhatsApp "}'))
    store.add_event(NewEvent("a", "inbound", T2, T2, data_json='{"channel": "sms"}'))
    store.add_event(NewEvent("b", "inbound", T3, T3, data_json='{"channel": "whatsapp"}'))
    assert store.last_inbound_on(["a", "b"], "whatsapp", T2) == {"a": T1}


# ---- Suppressions.


def test_suppress_counts_what_it_added_and_keeps_the_first_reason(store: Store) -> None:
    assert not store.has_suppressions()
    assert store.suppress([SuppressionRow("a@example.com", "email", "bounced", T0)]) == 1
    rows = [
        SuppressionRow("a@example.com", "email", "complained", T1, "ann"),
        SuppressionRow("example.org", "domain", "competitor", T1, "ann"),
    ]
    assert store.suppress(rows) == 1
    assert store.has_suppressions()
    assert store.suppressed(["a@example.com", "example.org", "x"]) == {
        "a@example.com": "bounced",
        "example.org": "competitor",
    }
    assert store.suppressions() == [
        SuppressionRow("a@example.com", "email", "bounced", T0, None),
        SuppressionRow("example.org", "domain", "competitor", T1, "ann"),
    ]
    assert [(c.value, c.change, c.reason) for c in store.suppression_history()] == [
        ("a@example.com", "added", "bounced"),
        ("example.org", "added", "competitor"),
    ]
    assert store.suppress([]) == 0


def test_unsuppress_lifts_an_entry_and_logs_who_and_why(store: Store) -> None:
    store.suppress([SuppressionRow("a@example.com", "email", "bounced", T0)])
    lifted = store.unsuppress("a@example.com", at=T1, by="ann", reason="fixed")
    assert lifted == SuppressionRow("a@example.com", "email", "bounced", T0, None)
    assert store.unsuppress("a@example.com", at=T1, by="ann", reason=None) is None
    assert store.suppressed(["a@example.com"]) == {}
    history = store.suppression_history("a@example.com")
    assert [(c.change, c.reason, c.by) for c in history] == [
        ("added", "bounced", None),
        ("lifted", "fixed", "ann"),
    ]


# ---- Conditions.


def test_conditions_remember_who_held(store: Store) -> None:
    store.record_conditions("s", "c1", held=["a", "b"], unheld=[])
    assert store.conditions_held("s", "c1", ["a", "b", "c"]) == {"a", "b"}
    store.record_conditions("s", "c1", held=["c"], unheld=["a"])
    assert store.conditions_held("s", "c1", ["a", "b", "c"]) == {"b", "c"}
    assert store.conditions_held("s", "c2", ["a", "b", "c"]) == set()
    assert store.conditions_held("t", "c1", ["b"]) == set()


# ---- Marks and runs.


def test_marks(store: Store) -> None:
    assert store.mark("digest") is None
    store.set_mark("digest", "1")
    store.set_mark("digest", "2")
    assert store.mark("digest") == "2"


def test_runs_exclusive_on_sqlite_shared_on_postgresql(store: Store) -> None:
    assert store.start_run("tick-1", T0, T1) is None
    second = store.start_run("tick-2", T0, T1)
    assert second == ("tick-1" if store.exclusive_runs else None)
    assert store.renew_run("tick-1", T2)
    with store.only_one("digest") as mine:
        assert mine
    store.end_run("tick-1")
    store.end_run("tick-2")
    assert store.start_run("tick-3", T0, T1) is None
    store.end_run("tick-3")


# ---- Mailboxes.


def test_inbox_folders_never_go_back(store: Store) -> None:
    store.save_inbox_folder(FolderState("support", "INBOX", 7, 40, T0, messages=3))
    store.save_inbox_folder(FolderState("support", "INBOX", 7, 30, T1))
    assert store.inbox_folder("support", "INBOX") == FolderState("support", "INBOX", 7, 40, T1)
    store.save_inbox_folder(FolderState("support", "INBOX", 8, 5, T2))
    reset = store.inbox_folder("support", "INBOX")
    assert reset is not None and (reset.uidvalidity, reset.last_uid) == (8, 5)
    store.inbox_failed("support", ["INBOX", "Archive"], "login failed", T3)
    assert [(f.folder, f.last_uid, f.error) for f in store.inbox_folders()] == [
        ("Archive", 0, "login failed"),
        ("INBOX", 5, "login failed"),
    ]
    assert store.inbox_folder("support", "Spam") is None


def test_sent_mail_and_email_messages(store: Store) -> None:
    (a,) = launch(store, "a")
    ids = store.add_messages([message("m1", a), message("m2", a, channel="sms"), message("m3", a)])
    store.add_sent_mail([SentMail(local="x1", message=ids["m1"]), SentMail("x3", ids["m3"])])
    store.add_sent_mail([SentMail("x1", ids["m3"])])  # a local part is kept for its first message
    assert store.sent_mail(["x1", "x3", "x9"]) == {"x1": ids["m1"], "x3": ids["m3"]}
    assert [row.idempotency_key for row in store.email_messages_after(0, 10)] == ["m1", "m3"]
    assert store.email_messages_after(ids["m1"], 10) == [EmailMessageRef(ids["m3"], "m3", "s", "a")]
    assert store.earliest_live_enrollment() == T0


def test_mailbox_event_counts(store: Store) -> None:
    launch(store, "a")
    store.add_event(NewEvent("a", "replied", T1, T1, event_id="mail:1", sequence="s"))
    store.add_event(NewEvent("a", "replied", T1, T1, event_id="mail:2"))
    store.add_event(NewEvent("a", "replied", T1, T1, event_id="hook:3", sequence="s"))
    assert store.mailbox_event_counts() == {"replied": 2}
    assert store.mailbox_event_counts("s") == {"replied": 1}


# ---- The database.


def test_info_counts_the_rows(store: Store) -> None:
    a, b = launch(store, "a", "b")
    store.apply([Transition(b, "completed", 1, T1, None, None, T1, "completed", None)])
    store.suppress([SuppressionRow("x@example.com", "email", "bounced", T0)])
    info = store.info()
    assert info.store == ("sqlite" if store.exclusive_runs else "postgresql")
    assert info.migrations >= 1 and info.schema
    assert info.counts["contacts"] == 2 and info.counts["history"] == 3
    assert info.breakdown["enrollments"] == {"active": 1, "completed": 1}
    assert info.breakdown["suppressions"] == {"email": 1}


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.create_sequence("s", T0)
        raise RuntimeError
    assert store.sequences() == []


def test_a_digest_waits_for_the_next_tick_when_history_is_held_too_long(
    store: Store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long transaction or a vacuum holding history: the bound is not taken (None) after a
    short wait, rather than holding every worker's writes back behind the digest's lock."""
    if request.node.callspec.params["store"] != "postgresql":
        pytest.skip("SQLite's bound needs no lock")
    import psycopg

    from seqctl.store.postgres import store as postgres_store

    monkeypatch.setattr(postgres_store, "HISTORY_LOCK_SECONDS", 0.2)
    url = str(request.getfixturevalue("postgres_url"))
    with psycopg.connect(url, autocommit=False) as other:
        other.execute("LOCK TABLE history IN SHARE UPDATE EXCLUSIVE MODE")  # as VACUUM does
        assert store.last_history_id() is None
    assert store.last_history_id() == 0  # free again: the next tick takes it
