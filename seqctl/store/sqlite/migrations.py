"""The database schema, as an ordered list of migrations (sqlite-utils Migrations)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("seqctl")


def _run(db: Database, script: str) -> None:
    """Run each statement on its own: executescript would commit the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_sequences(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE sequences (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'draft',   -- draft | active | paused
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            paused_at TEXT                          -- when the whole sequence was paused
        );
        CREATE TABLE versions (
            sequence TEXT NOT NULL REFERENCES sequences(id),
            number INTEGER NOT NULL,
            digest TEXT NOT NULL,
            definition TEXT NOT NULL,               -- normalised JSON, templates inlined
            source TEXT,                            -- the file it was published from
            published_at TEXT NOT NULL,
            published_by TEXT,
            git_commit TEXT,
            PRIMARY KEY (sequence, number)
        );
        """,
    )


@migrations()
def m002_engine(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE contacts (
            key TEXT PRIMARY KEY,
            email TEXT,
            phone TEXT,
            timezone TEXT,
            attributes TEXT NOT NULL DEFAULT '{}',  -- JSON object of every other field
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE enrollments (
            id INTEGER PRIMARY KEY,
            sequence TEXT NOT NULL REFERENCES sequences(id),
            version INTEGER NOT NULL,
            contact TEXT NOT NULL REFERENCES contacts(key),
            state TEXT NOT NULL,          -- active | waiting | paused | completed | exited | failed
            step INTEGER NOT NULL,        -- index of the current step in the version's steps
            anchor_at TEXT NOT NULL,      -- when the previous step was done (or the enrollment)
            next_due_at TEXT,             -- when the current step is due (active only)
            vars TEXT,                    -- JSON enrollment variables
            reason TEXT,
            enrolled_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            paused_at TEXT
        );
        -- One live enrollment per contact and sequence, enforced by the database.
        CREATE UNIQUE INDEX enrollments_live ON enrollments(sequence, contact)
            WHERE state IN ('active', 'waiting', 'paused', 'failed');
        -- "What is due" is a range scan over active enrollments only.
        CREATE INDEX enrollments_due ON enrollments(next_due_at) WHERE state = 'active';
        CREATE INDEX enrollments_contact ON enrollments(contact);
        CREATE INDEX enrollments_sequence_state ON enrollments(sequence, state);
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            enrollment INTEGER NOT NULL REFERENCES enrollments(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,           -- enrolled, sent, action, done, skipped, failed, ...
            step TEXT,
            detail TEXT
        );
        CREATE INDEX history_enrollment ON history(enrollment);
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            enrollment INTEGER NOT NULL REFERENCES enrollments(id),
            step TEXT NOT NULL,
            type TEXT NOT NULL,
            due_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',   -- open | done | skipped | cancelled
            title TEXT,
            instructions TEXT,
            closed_at TEXT,
            closed_by TEXT
        );
        CREATE INDEX actions_open ON actions(status, due_at);
        CREATE UNIQUE INDEX actions_once ON actions(enrollment, step) WHERE status = 'open';
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,  -- enrollment, version, step
            enrollment INTEGER NOT NULL REFERENCES enrollments(id),
            sequence TEXT NOT NULL,
            version INTEGER NOT NULL,
            step TEXT NOT NULL,
            contact TEXT NOT NULL,
            channel TEXT NOT NULL,
            to_address TEXT,
            subject TEXT,
            body TEXT,
            extra TEXT,             -- JSON: html body, WhatsApp template, ...
            status TEXT NOT NULL,   -- pending_approval | queued | sent | failed | rejected
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            provider_id TEXT
        );
        CREATE INDEX messages_status ON messages(status);
        CREATE INDEX messages_enrollment ON messages(enrollment);
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,        -- 'tick': one runner at a time
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """,
    )


@migrations()
def m003_delivery(db: Database) -> None:
    _run(
        db,
        """
        ALTER TABLE messages ADD COLUMN next_attempt_at TEXT;  -- retry backoff, limit deferral
        ALTER TABLE messages ADD COLUMN sender TEXT;            -- the mailbox, for its daily cap
        CREATE INDEX messages_sent ON messages(sequence, sent_at) WHERE status = 'sent';
        CREATE INDEX messages_sender ON messages(sender, sent_at) WHERE status = 'sent'
        """,
    )


@migrations()
def m004_attachments(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE attachments (
            sha256 TEXT PRIMARY KEY,   -- versions name attachments by content
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            content BLOB NOT NULL
        )
        """,
    )


@migrations()
def m005_events(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            event_id TEXT UNIQUE,          -- the sender's id: the same event twice counts once
            contact TEXT NOT NULL REFERENCES contacts(key),
            type TEXT NOT NULL,            -- reply, open, click, bounce, unsubscribe, ...
            sequence TEXT,
            step TEXT,
            message INTEGER,
            at TEXT NOT NULL,
            data TEXT,                     -- JSON
            created_at TEXT NOT NULL
        );
        CREATE INDEX events_contact ON events(contact, type, at);
        CREATE TABLE suppressions (
            value TEXT PRIMARY KEY,        -- an address, a phone, a domain (@acme.test) or a key
            kind TEXT NOT NULL,            -- email | phone | domain | contact
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        );
        ALTER TABLE enrollments ADD COLUMN resume_at TEXT;  -- out of office: back on this date
        CREATE INDEX enrollments_resume ON enrollments(resume_at) WHERE state = 'paused'
        """,
    )


@migrations()
def m006_marks(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE marks (
            name TEXT PRIMARY KEY,   -- e.g. 'notified': up to when owners were told
            value TEXT NOT NULL
        )
        """,
    )


@migrations()
def m007_outbox_index(db: Database) -> None:
    # Only messages still on their way are looked up by status in the tick; sent ones (nearly
    # all of them) need not be kept in that index, which every send would otherwise update.
    _run(
        db,
        """
        DROP INDEX messages_status;
        CREATE INDEX messages_pending ON messages(status, next_attempt_at)
            WHERE status IN ('pending_approval', 'queued', 'sending')
        """,
    )


@migrations()
def m008_sending_index(db: Database) -> None:
    # Messages on their way (`sending`) get an index of their own. In the one with the messages
    # that wait (for an approval, a retry, a daily cap) they made every send pay to enter and
    # leave it, by far the dearest write of a tick; here they are found by id, cheaply.
    _run(
        db,
        """
        DROP INDEX messages_pending;
        CREATE INDEX messages_pending ON messages(status, next_attempt_at)
            WHERE status IN ('pending_approval', 'queued');
        CREATE INDEX messages_sending ON messages(id) WHERE status = 'sending'
        """,
    )


@migrations()
def m009_message_variants(db: Database) -> None:
    # The A/B variant of its step a message was rendered from (NULL for a step without): what
    # status and the report compare. Reports count them per sequence, step and variant.
    _run(
        db,
        """
        ALTER TABLE messages ADD COLUMN variant TEXT;
        CREATE INDEX messages_variants ON messages(sequence, step, variant)
            WHERE variant IS NOT NULL
        """,
    )


@migrations()
def m010_delivery_outcomes(db: Database) -> None:
    # resent: sends whose outcome was unknown (a tick killed mid-send, a reply that never came),
    # after which the message went out again with the same key. failing_since: when a message
    # first failed for a while (or was held by a channel that is down): retries stop after the
    # channel's retry_for. The index finds the waiting ones, which a tick reports on stderr.
    _run(
        db,
        """
        ALTER TABLE messages ADD COLUMN resent INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN failing_since TEXT;
        CREATE INDEX messages_failing ON messages(channel)
            WHERE status = 'queued' AND failing_since IS NOT NULL
        """,
    )


@migrations()
def m011_inbox_sync(db: Database) -> None:
    # `seqctl inbox sync`: how far each folder of each inbox has been read; the Message-IDs seqctl
    # sent (their local part, domain-free), filled by the sync itself so sending pays nothing; and
    # contacts found by address, for mail that answers none of those ids.
    _run(
        db,
        """
        CREATE TABLE inbox_folders (
            inbox TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,   -- a change means the UIDs were renumbered: read again
            last_uid INTEGER NOT NULL,      -- everything up to it has been read
            synced_at TEXT NOT NULL,
            error TEXT,                     -- why the last sync failed, until one works
            messages INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0,
            unmatched INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (inbox, folder)
        );
        CREATE TABLE sent_mail (
            local TEXT PRIMARY KEY,         -- the Message-ID's part before the @
            message INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX contacts_email ON contacts(email COLLATE NOCASE)
        """,
    )


@migrations()
def m012_address_suppressions(db: Database) -> None:
    """Opt-outs follow the address: entries by contact key become the contact's addresses.

    Also: who added an entry, and a history of entries added and lifted. Emails are stored
    trimmed and lowercased, phone numbers as `+` and digits (or digits alone, without a country
    code); the engine normalises the same way (seqctl.engine.incoming.suppression).
    """
    _run(
        db,
        """
        ALTER TABLE suppressions ADD COLUMN added_by TEXT;
        CREATE TABLE suppression_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            value TEXT NOT NULL,
            kind TEXT NOT NULL,
            change TEXT NOT NULL,          -- added | lifted
            reason TEXT,
            changed_by TEXT
        );
        CREATE INDEX suppression_log_value ON suppression_log(value)
        """,
    )
    rows = db.execute("SELECT value, kind, reason, at FROM suppressions").fetchall()
    for value, kind, reason, at in rows:
        found: list[tuple[str, str, str]] = []
        if kind == "email":
            found = [(value.strip().lower(), "email", reason)]
        elif kind == "phone":
            found = [(_phone(value), "phone", reason)]
        elif kind == "contact":
            contact = db.execute(
                "SELECT email, phone FROM contacts WHERE key = ?", [value]
            ).fetchone()
            email, phone = contact if contact else (None, None)
            note = f"{reason} (contact {value})"
            found = [(email.strip().lower(), "email", note)] if email and email.strip() else []
            found += [(_phone(phone), "phone", note)] if phone and _phone(phone) else []
        if not found or found == [(value, kind, reason)]:
            continue
        for new_value, new_kind, new_reason in found:
            db.execute(
                "INSERT OR IGNORE INTO suppressions (value, kind, reason, at) VALUES (?, ?, ?, ?)",
                [new_value, new_kind, new_reason, at],
            )
        if value not in [v for v, _, _ in found]:
            db.execute("DELETE FROM suppressions WHERE value = ?", [value])
    db.execute(
        "INSERT INTO suppression_log (at, value, kind, change, reason)"
        " SELECT at, value, kind, 'added', reason FROM suppressions ORDER BY at, value"
    )


def _phone(value: str) -> str:
    """A phone number as `+` and its digits, or its digits alone when it has no country code."""
    text = value.strip()
    digits = "".join(c for c in text if c.isdigit())
    if text.startswith("+"):
        return "+" + digits
    if text.startswith("00") and len(digits) > 2:
        return "+" + digits[2:]
    return digits


@migrations()
def m013_enroll_conditions(db: Database) -> None:
    # enroll_when fires when the condition becomes true: remember, per sequence and contact,
    # that it held when last checked. Contacts enrolled in a sequence with an enroll_when before
    # this record existed count as held (condition '*'), so upgrading does not enroll them again.
    _run(
        db,
        """
        CREATE TABLE enroll_conditions (
            sequence TEXT NOT NULL,
            contact TEXT NOT NULL,
            condition TEXT NOT NULL,      -- digest of the enroll_when it held for, or '*': any
            PRIMARY KEY (sequence, contact)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO enroll_conditions (sequence, contact, condition)
            SELECT DISTINCT e.sequence, e.contact, '*'
            FROM enrollments AS e
            JOIN sequences AS s ON s.id = e.sequence
            JOIN versions AS v ON v.sequence = s.id AND v.number = (
                SELECT MAX(number) FROM versions WHERE sequence = s.id)
            WHERE json_extract(v.definition, '$.enroll_when') IS NOT NULL
        """,
    )
