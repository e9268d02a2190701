"""Replies, out-of-office replies, bounces and unsubscribes read from the senders' mailboxes.

`imap` reads the mail, `mail` parses it, `classify` says what it is (with `dates` for the
return date of an out-of-office reply), `match` finds the contact and sequence it is about,
`sync` ties them together and records the events through `engine.incoming.events`, so the playbooks'
`on:` rules and the suppression list apply as they do to `seqctl event`.
"""

from seqctl.engine.inbox.imap import ImapError
from seqctl.engine.inbox.report import SyncReport
from seqctl.engine.inbox.settings import InboxSettings, inbox_settings
from seqctl.engine.inbox.sync import sync, sync_configured

__all__ = ["ImapError", "InboxSettings", "SyncReport", "inbox_settings", "sync", "sync_configured"]
