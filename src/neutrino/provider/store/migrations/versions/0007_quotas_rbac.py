"""Neutron extensions: per-project quota limits (quotas) and RBAC policies on networks (rbac-policies)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:00:00

Networks already shared or external get the wildcard policies Neutron keeps for them
(``access_as_shared`` / ``access_as_external`` to ``*``), so visibility reads the policies alone.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_quotas")),
    )
    policies = op.create_table(
        "rbac_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["networks.id"],
            name=op.f("fk_rbac_policies_object_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rbac_policies")),
        sa.UniqueConstraint(
            "target_project", "object_id", "action", name="uq_rbac_policies_target_object_action"
        ),
    )
    op.create_index("ix_rbac_policies_object_id", "rbac_policies", ["object_id"], unique=False)
    op.create_index("ix_rbac_policies_target_project", "rbac_policies", ["target_project"], unique=False)
    networks = sa.table(
        "networks",
        sa.column("id", sa.String),
        sa.column("project_id", sa.String),
        sa.column("shared", sa.Boolean),
        sa.column("router_external", sa.Boolean),
    )
    rows = []
    for net in op.get_bind().execute(sa.select(networks)):
        for flag, action in ((net.shared, "access_as_shared"), (net.router_external, "access_as_external")):
            if flag:
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "project_id": net.project_id,
                        "object_type": "network",
                        "object_id": net.id,
                        "action": action,
                        "target_project": "*",
                    }
                )
    if rows:
        op.bulk_insert(policies, rows)


def downgrade() -> None:
    op.drop_index("ix_rbac_policies_target_project", table_name="rbac_policies")
    op.drop_index("ix_rbac_policies_object_id", table_name="rbac_policies")
    op.drop_table("rbac_policies")
    op.drop_table("quotas")
