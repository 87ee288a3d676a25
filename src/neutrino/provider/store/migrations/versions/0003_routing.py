"""routing: external networks, routers with their ports and routes, floating IPs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch_op:
        batch_op.add_column(
            sa.Column("router_external", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "routers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enable_snat", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("gw_port_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["gw_port_id"], ["ports.id"], name=op.f("fk_routers_gw_port_id_ports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
        sa.UniqueConstraint("gw_port_id", name=op.f("uq_routers_gw_port_id")),
    )
    op.create_index(op.f("ix_routers_project_id"), "routers", ["project_id"], unique=False)
    op.create_table(
        "router_ports",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("port_type", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_router_ports_port_id_ports"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"], name=op.f("fk_router_ports_router_id_routers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("port_id", name=op.f("pk_router_ports")),
    )
    op.create_index(op.f("ix_router_ports_router_id"), "router_ports", ["router_id"], unique=False)
    op.create_table(
        "router_routes",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("nexthop", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"], name=op.f("fk_router_routes_router_id_routers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("router_id", "destination", "nexthop", name=op.f("pk_router_routes")),
    )
    op.create_table(
        "floating_ips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("fixed_port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["fixed_port_id"], ["ports.id"], name=op.f("fk_floating_ips_fixed_port_id_ports")
        ),
        sa.ForeignKeyConstraint(
            ["floating_network_id"],
            ["networks.id"],
            name=op.f("fk_floating_ips_floating_network_id_networks"),
        ),
        sa.ForeignKeyConstraint(
            ["floating_port_id"], ["ports.id"], name=op.f("fk_floating_ips_floating_port_id_ports")
        ),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"], name=op.f("fk_floating_ips_router_id_routers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floating_ips")),
        sa.UniqueConstraint(
            "floating_network_id", "fixed_port_id", "fixed_ip_address", name="uq_floating_ips_fixed"
        ),
        sa.UniqueConstraint("floating_port_id", name=op.f("uq_floating_ips_floating_port_id")),
    )
    op.create_index(op.f("ix_floating_ips_project_id"), "floating_ips", ["project_id"], unique=False)
    op.create_index(
        op.f("ix_floating_ips_floating_network_id"), "floating_ips", ["floating_network_id"], unique=False
    )
    op.create_index(op.f("ix_floating_ips_fixed_port_id"), "floating_ips", ["fixed_port_id"], unique=False)
    op.create_index(op.f("ix_floating_ips_router_id"), "floating_ips", ["router_id"], unique=False)


def downgrade() -> None:
    op.drop_table("floating_ips")
    op.drop_table("router_routes")
    op.drop_table("router_ports")
    op.drop_table("routers")
    with op.batch_alter_table("networks") as batch_op:
        batch_op.drop_column("router_external")
