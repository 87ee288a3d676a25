"""providers: trusted certificates, missing networks, events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:46:06.033363
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "normal", "warning", "error", "alert", name="eventseverity", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=True),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_time"), ["time"], unique=False)

    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("external_missing", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ca_certificates", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("ca_certificates")

    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("external_missing")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_time"))

    op.drop_table("events")
