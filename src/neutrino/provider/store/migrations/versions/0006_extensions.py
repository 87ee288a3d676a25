"""Neutron extensions: tags on networks, subnets, ports, security groups, routers and floating IPs
(standard-attr-tag), and ports' allowed address pairs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TAG_TABLES = (
    ("network_tags", "networks"),
    ("subnet_tags", "subnets"),
    ("port_tags", "ports"),
    ("security_group_tags", "security_groups"),
    ("router_tags", "routers"),
    ("floating_ip_tags", "floating_ips"),
)


def upgrade() -> None:
    for name, parent in TAG_TABLES:
        op.create_table(
            name,
            sa.Column("resource_id", sa.String(length=36), nullable=False),
            sa.Column("tag", sa.String(length=255), nullable=False),
            sa.ForeignKeyConstraint(
                ["resource_id"],
                [f"{parent}.id"],
                name=op.f(f"fk_{name}_resource_id_{parent}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("resource_id", "tag", name=op.f(f"pk_{name}")),
        )
        op.create_index(f"ix_{name}_tag", name, ["tag"], unique=False)
    op.create_table(
        "port_allowed_address_pairs",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["ports.id"],
            name=op.f("fk_port_allowed_address_pairs_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "mac_address", "ip_address", name=op.f("pk_port_allowed_address_pairs")
        ),
    )


def downgrade() -> None:
    op.drop_table("port_allowed_address_pairs")
    for name, _parent in reversed(TAG_TABLES):
        op.drop_index(f"ix_{name}_tag", table_name=name)
        op.drop_table(name)
