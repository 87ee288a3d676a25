"""L3 agents' routers: which agent hosts each router (builtin backend)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_l3_agent_bindings",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("l3_agent_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["l3_agent_id"],
            ["agents.id"],
            name=op.f("fk_router_l3_agent_bindings_l3_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["routers.id"],
            name=op.f("fk_router_l3_agent_bindings_router_id_routers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("router_id", name=op.f("pk_router_l3_agent_bindings")),
    )
    op.create_index(
        op.f("ix_router_l3_agent_bindings_l3_agent_id"),
        "router_l3_agent_bindings",
        ["l3_agent_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("router_l3_agent_bindings")
