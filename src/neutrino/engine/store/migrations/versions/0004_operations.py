"""operations: the engine's long-running VM operations as records

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:00:00

A VM caught in flight by the upgrade (``operation_id`` set) gets a record at its first step, its kind read
from what the old schema held (a migration destination, PoweringDown, an Up VM: a vNIC operation, else a run),
so the first start after the upgrade converges it like any other interrupted operation.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _kind(status: str, migrating_to: str | None) -> str:
    if migrating_to:
        return "migrate"
    if status == "powering_down":
        return "stop"
    if status == "up":
        return "hotplug"
    return "run"


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("vm_id", sa.String(length=36), nullable=False),
        sa.Column("nic_id", sa.String(length=36), nullable=True),
        sa.Column("source_host_id", sa.String(length=36), nullable=True),
        sa.Column("target_host_id", sa.String(length=36), nullable=True),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    op.create_index(op.f("ix_operations_vm_id"), "operations", ["vm_id"])
    op.create_index(op.f("ix_operations_state"), "operations", ["state"])

    conn = op.get_bind()
    now = datetime.now(UTC)
    in_flight = conn.execute(
        sa.text(
            "SELECT id, status, host_id, operation_id, migrating_to_host_id FROM vms "
            "WHERE operation_id IS NOT NULL"
        )
    ).all()
    operations = sa.table(
        "operations",
        *(
            sa.column(c)
            for c in ("id", "kind", "vm_id", "source_host_id", "target_host_id", "step", "state", "started")
        ),
        sa.column("error"),
        sa.column("steps", sa.JSON),
    )
    for vm_id, status, host_id, operation_id, migrating_to in in_flight:
        kind = _kind(status, migrating_to)
        # the old schema did not say how far it got: the furthest step, so converge asks the hosts
        step = {"step": "on_host", "started": now.isoformat(timespec="milliseconds"), "outcome": "started"}
        conn.execute(
            operations.insert().values(
                id=operation_id,
                kind=kind,
                vm_id=vm_id,
                source_host_id=host_id if kind != "run" else None,
                target_host_id=migrating_to if kind == "migrate" else (host_id if kind == "run" else None),
                step="on_host",
                state="running",
                started=now,
                error="",
                steps=[step],
            )
        )
    with op.batch_alter_table("vms", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_vms_migrating_to_host_id_hosts"), type_="foreignkey")
        batch_op.drop_column("migrating_to_host_id")


def downgrade() -> None:
    with op.batch_alter_table("vms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("migrating_to_host_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_vms_migrating_to_host_id_hosts"), "hosts", ["migrating_to_host_id"], ["id"]
        )
    op.drop_index(op.f("ix_operations_state"), table_name="operations")
    op.drop_index(op.f("ix_operations_vm_id"), table_name="operations")
    op.drop_table("operations")
