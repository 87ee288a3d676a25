"""Neutron extensions: ports' extra DHCP options (extra_dhcp_opt), DNS names and domains of ports and
networks (dns-integration, dns-domain-ports)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "port_extra_dhcp_opts",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("opt_name", sa.String(length=64), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("opt_value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_port_extra_dhcp_opts_port_id_ports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("port_id", "opt_name", "ip_version", name=op.f("pk_port_extra_dhcp_opts")),
    )
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("dns_name", sa.String(length=255), nullable=False, server_default=""))
        batch.add_column(sa.Column("dns_domain", sa.String(length=255), nullable=False, server_default=""))
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("dns_domain", sa.String(length=255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("dns_domain")
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("dns_domain")
        batch.drop_column("dns_name")
    op.drop_table("port_extra_dhcp_opts")
