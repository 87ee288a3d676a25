"""options: the oVirt settings clusters, hosts and VMs keep (domain.options), one JSON document each

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00

Rows from before the upgrade get ``{}``, which reads back as oVirt's defaults.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("clusters", "hosts", "vms")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("options")
