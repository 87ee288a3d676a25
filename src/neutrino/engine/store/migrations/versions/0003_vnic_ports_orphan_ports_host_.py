"""vNIC ports, orphan ports, host capabilities

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:48:56.822362
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orphan_ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("nic_id", sa.String(length=36), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orphan_ports")),
        sa.UniqueConstraint("provider_id", "port_id", name=op.f("uq_orphan_ports_provider_id_port_id")),
    )
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capabilities", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("status_detail", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("vm_nics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("port_provider_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("port_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("port_network_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("port_created_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("provisioning", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("vms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operation_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("migrating_to_host_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_vms_migrating_to_host_id_hosts"), "hosts", ["migrating_to_host_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("vms", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_vms_migrating_to_host_id_hosts"), type_="foreignkey")
        batch_op.drop_column("migrating_to_host_id")
        batch_op.drop_column("operation_id")

    with op.batch_alter_table("vm_nics", schema=None) as batch_op:
        batch_op.drop_column("provisioning")
        batch_op.drop_column("port_created_by")
        batch_op.drop_column("port_network_id")
        batch_op.drop_column("port_id")
        batch_op.drop_column("port_provider_id")

    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("status_detail")
        batch_op.drop_column("last_seen")
        batch_op.drop_column("capabilities")

    op.drop_table("orphan_ports")
