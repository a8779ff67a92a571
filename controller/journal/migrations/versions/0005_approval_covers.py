"""How many deprovisions an approval covers: consent to the batch the operator reviewed.

An approval recorded when its app's last cycle held 42 deprovisions releases at most 42; a
later, larger batch is held again and needs a new review.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("covers", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("covers")
