"""Subnet pools (subnet_allocation, default-subnetpools): pools, their prefixes and tags, and the pool a
subnet was allocated from

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subnetpools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnetpools")),
    )
    op.create_index(op.f("ix_subnetpools_project_id"), "subnetpools", ["project_id"], unique=False)
    op.create_table(
        "subnetpool_prefixes",
        sa.Column("subnetpool_id", sa.String(length=36), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnetpool_id"],
            ["subnetpools.id"],
            name=op.f("fk_subnetpool_prefixes_subnetpool_id_subnetpools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subnetpool_id", "cidr", name=op.f("pk_subnetpool_prefixes")),
    )
    op.create_table(
        "subnetpool_tags",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["subnetpools.id"],
            name=op.f("fk_subnetpool_tags_resource_id_subnetpools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "tag", name=op.f("pk_subnetpool_tags")),
    )
    op.create_index("ix_subnetpool_tags_tag", "subnetpool_tags", ["tag"], unique=False)
    # NOTE: batch mode on SQLite copies the table to add the foreign key; the copy keeps every row, and
    # the tables referring to subnets (ip_allocations, subnet_tags) refer to it by name afterwards too
    with op.batch_alter_table("subnets") as batch:
        batch.add_column(sa.Column("subnetpool_id", sa.String(length=36), nullable=True))
        batch.create_index(batch.f("ix_subnets_subnetpool_id"), ["subnetpool_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_subnets_subnetpool_id_subnetpools"), "subnetpools", ["subnetpool_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("subnets") as batch:
        batch.drop_constraint(batch.f("fk_subnets_subnetpool_id_subnetpools"), type_="foreignkey")
        batch.drop_index(batch.f("ix_subnets_subnetpool_id"))
        batch.drop_column("subnetpool_id")
    op.drop_index("ix_subnetpool_tags_tag", table_name="subnetpool_tags")
    op.drop_table("subnetpool_tags")
    op.drop_table("subnetpool_prefixes")
    op.drop_index(op.f("ix_subnetpools_project_id"), table_name="subnetpools")
    op.drop_table("subnetpools")
