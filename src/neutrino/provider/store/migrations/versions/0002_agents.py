"""agents reporting to the provider; index to find a port by address

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:50:00
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
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_type", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), server_default="", nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("configurations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_timestamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("agent_type", "host", name="uq_agents_agent_type_host"),
    )
    op.create_index("ix_ip_allocations_ip_address", "ip_allocations", ["ip_address"])


def downgrade() -> None:
    op.drop_index("ix_ip_allocations_ip_address", table_name="ip_allocations")
    op.drop_table("agents")
