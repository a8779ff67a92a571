"""What state.json held, and the operators' approvals, move into the journal (issue 15).

`source_trust` keeps the active users of each source's last trusted read (the drop guard's
baseline); `suspensions` keeps when each managed account was first seen or made suspended (the
grace period's start, where the app keeps no time); `approvals` carries an operator's one-time
approval of held deprovisions to the running controller, which consumes and journals it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "source_trust",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("read_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "suspensions",
        sa.Column("app", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("since", sa.DateTime, nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("approved_by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approved_at", sa.DateTime, nullable=False),
        sa.Column("consumed_at", sa.DateTime),
        sa.Column("consumed_cycle_id", sa.Integer),
    )
    op.create_index("approvals_open", "approvals", ["app", "consumed_at"])


def downgrade() -> None:
    op.drop_index("approvals_open", "approvals")
    op.drop_table("approvals")
    op.drop_table("suspensions")
    op.drop_table("source_trust")
