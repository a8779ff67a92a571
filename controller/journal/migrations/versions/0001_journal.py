"""The journal's first schema: cycles, their apps' results, and operations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("source_users", sa.Integer),
        sa.Column("source_active", sa.Integer),
        sa.Column("source_error", sa.Text),
    )
    op.create_table(
        "cycle_apps",
        sa.Column(
            "cycle_id",
            sa.Integer,
            sa.ForeignKey("cycles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("app", sa.String(64), primary_key=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("planned", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("blocked", sa.Integer, nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "cycle_id", sa.Integer, sa.ForeignKey("cycles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(32)),
        sa.Column("account_id", sa.String(128)),
        sa.Column("user_name", sa.String(256)),
        sa.Column("group_name", sa.String(256)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("intended_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("duration_seconds", sa.Float),
    )
    op.create_index("operations_source_id", "operations", ["source_id"])
    op.create_index("operations_user_name", "operations", ["user_name"])
    op.create_index("operations_app_time", "operations", ["app", "intended_at"])


def downgrade() -> None:
    op.drop_table("operations")
    op.drop_table("cycle_apps")
    op.drop_table("cycles")
