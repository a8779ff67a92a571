"""An index on operations.status: every apply asks for the intents a crash left open.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_index("operations_status", "operations", ["status"])


def downgrade() -> None:
    op.drop_index("operations_status", "operations")
