"""When the source took access away, beside each deprovision: the leaver latency's start.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.add_column(sa.Column("source_changed_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("source_changed_at")
