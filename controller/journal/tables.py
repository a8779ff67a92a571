"""The journal's tables, in SQLAlchemy Core: the one place its SQL shape is written down.

The audit: `cycles` (one row per reconcile: when, why, which policy revision, what the source
read), `cycle_apps` (each app's result in that cycle) and `operations` (one row per operation,
written as an intent before it is sent and completed with its outcome after). The facts later
runs need: `source_trust` (active users at each source's last trusted read) and `suspensions`
(when each managed account's grace period began). And `approvals`: an operator's one-time
approval of held deprovisions, waiting for the running controller to consume it.
Times are stored as naive UTC; the store converts at its edge. Alembic migrations in
`migrations/` create and evolve exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("trigger", String(32), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("source_users", Integer),
    Column("source_active", Integer),
    Column("source_error", Text),
    Column("users", Text),
    # A targeted cycle's users (issue 16): a JSON list of source user Ids; null for a full cycle.
)

cycle_apps = Table(
    "cycle_apps",
    metadata,
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="CASCADE"), primary_key=True),
    Column("app", String(64), primary_key=True),
    Column("result", String(16), nullable=False),
    Column("planned", Integer, nullable=False),
    Column("succeeded", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("blocked", Integer, nullable=False),
    # Of those, the deprovisions the per-run limit held (what `approve` can release).
    Column("held_by_limit", Integer),
)

operations = Table(
    "operations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="CASCADE"), nullable=False),
    Column("app", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source_id", String(32)),
    Column("account_id", String(128)),
    Column("user_name", String(256)),
    Column("group_name", String(256)),
    Column("reason", Text, nullable=False),
    Column("changes", Text, nullable=False),  # JSON list of {attribute, before, after}
    # intended, success, error or skipped; `intended` alone: sent or not, the app will tell
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("intended_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("duration_seconds", Float),
    # For a deprovision: when the source took the access away (deactivation, end date).
    Column("source_changed_at", DateTime),
    Index("operations_source_id", "source_id"),
    Index("operations_status", "status"),  # each apply looks up the intents left open
    Index("operations_user_name", "user_name"),
    Index("operations_app_time", "app", "intended_at"),
)

source_trust = Table(
    "source_trust",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("active", Integer, nullable=False),
    Column("read_at", DateTime, nullable=False),
)

suspensions = Table(
    "suspensions",
    metadata,
    Column("app", String(64), primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("since", DateTime, nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("app", String(64), nullable=False),
    Column("approved_by", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("approved_at", DateTime, nullable=False),
    Column("consumed_at", DateTime),
    Column("consumed_cycle_id", Integer),
    # The most deprovisions it lets through: the batch the operator reviewed. None: no bound.
    Column("covers", Integer),
    Index("approvals_open", "app", "consumed_at"),
)
