"""The states an enrollment, a message and an action can be in, defined once.

StrEnums: a member is equal to the text the store keeps (`EnrollmentState.ACTIVE == "active"`),
so records read back as plain strings compare with them and print the same.
"""

from __future__ import annotations

from enum import StrEnum


class EnrollmentState(StrEnum):
    """Where an enrollment stands (DESIGN.md, "Enrollment states")."""

    ACTIVE = "active"  # its next step is scheduled
    WAITING = "waiting"  # for a person: a message's approval, or a manual action
    PAUSED = "paused"  # by a person, a reply rule, or its sequence being paused
    COMPLETED = "completed"  # went through every step
    EXITED = "exited"  # left early: reply, bounce, unsubscribe, removed (with the reason)
    FAILED = "failed"  # a step could not be rendered or sent (with the reason); retryable


# Live: not over yet. A contact has at most one live enrollment per sequence (the store's
# `enrollments_live` index lists these, in this order).
LIVE_STATES = (
    EnrollmentState.ACTIVE,
    EnrollmentState.WAITING,
    EnrollmentState.PAUSED,
    EnrollmentState.FAILED,
)
ENDED_STATES = tuple(state for state in EnrollmentState if state not in LIVE_STATES)
# Running: moving through the steps, neither held (paused, failed) nor over.
RUNNING_STATES = (EnrollmentState.ACTIVE, EnrollmentState.WAITING)


class MessageStatus(StrEnum):
    """Where a message stands on its way out."""

    PENDING_APPROVAL = "pending_approval"  # held until a person approves it
    QUEUED = "queued"  # to be sent (at next_attempt_at, when set)
    SENDING = "sending"  # handed to a channel, outcome not yet known
    SENT = "sent"
    FAILED = "failed"
    REJECTED = "rejected"  # by the person asked to approve it
    CANCELLED = "cancelled"  # its enrollment ended before it went out


class ActionStatus(StrEnum):
    """A manual action (a call, a task) assigned to a person."""

    OPEN = "open"
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # its enrollment ended first
