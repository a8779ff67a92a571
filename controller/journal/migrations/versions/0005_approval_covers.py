"""How many deprovisions an approval covers: consent to the batch the operator reviewed.

An approval recorded when its app's last cycle held 42 deprovisions by its per-run limit
releases at most 42; a later, larger batch is held again and needs a new review.
`cycle_apps.held_by_limit` is that count (a hold of an untrusted source read, which approve
cannot lift, is not in it).

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
    with op.batch_alter_table("cycle_apps") as batch:
        batch.add_column(sa.Column("held_by_limit", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("cycle_apps") as batch:
        batch.drop_column("held_by_limit")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("covers")
