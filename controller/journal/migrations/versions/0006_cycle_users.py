"""Which users a targeted cycle was limited to (issue 16).

A change check's targeted cycle reads, looks up and plans only the users it reported. Its row in
`cycles` (trigger `change`) names them in `users`, a JSON list of source user Ids, so the audit
shows what each such cycle looked at even when it changed nothing. Null for a full cycle.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("cycles") as batch:
        batch.add_column(sa.Column("users", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("cycles") as batch:
        batch.drop_column("users")
