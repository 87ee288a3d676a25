"""events as oVirt's audit log: an increasing integer index, the user, links to every entity by id and name

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-12 09:00:00

The events keep their order: they are numbered 1, 2, ... by time. Their provider, data center and cluster
get the names those have now (older events kept ids only). The table is rebuilt rather than altered: its
primary key changes type (a UUID string becomes an integer that never repeats: AUTOINCREMENT on SQLite,
BIGSERIAL on PostgreSQL).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SEVERITY = sa.Enum("normal", "warning", "error", "alert", name="eventseverity", native_enum=False, length=32)
ENTITIES = ("user", "data_center", "cluster", "host", "vm", "template", "provider")


def _moment(value: Any) -> datetime:
    """A stored time as a datetime (a raw SQLite read gives its text)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def upgrade() -> None:
    conn = op.get_bind()
    old = conn.execute(
        sa.text(
            "SELECT e.description, e.severity, e.code, e.time, e.provider_id, p.name, e.data_center_id, d.name, "
            "e.cluster_id, c.name FROM events e "
            "LEFT JOIN providers p ON p.id = e.provider_id "
            "LEFT JOIN data_centers d ON d.id = e.data_center_id "
            "LEFT JOIN clusters c ON c.id = e.cluster_id "
            "ORDER BY e.time, e.id"
        )
    ).all()
    op.drop_index(op.f("ix_events_time"), table_name="events")
    op.drop_table("events")
    columns: list[Any] = [
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("severity", SEVERITY, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    ]
    for entity in ENTITIES:
        columns.append(sa.Column(f"{entity}_id", sa.String(length=36), nullable=True))
        columns.append(sa.Column(f"{entity}_name", sa.String(length=255), nullable=True))
    events = op.create_table(
        "events",
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_events_time"), "events", ["time"])
    op.create_index(op.f("ix_events_code"), "events", ["code"])
    if old:
        op.bulk_insert(
            events,
            [
                {
                    "description": description,
                    "severity": severity,
                    "code": code,
                    "time": _moment(time),
                    "provider_id": provider_id,
                    "provider_name": provider_name,
                    "data_center_id": dc_id,
                    "data_center_name": dc_name,
                    "cluster_id": cluster_id,
                    "cluster_name": cluster_name,
                }
                for (
                    description,
                    severity,
                    code,
                    time,
                    provider_id,
                    provider_name,
                    dc_id,
                    dc_name,
                    cluster_id,
                    cluster_name,
                ) in old
            ],
        )


def downgrade() -> None:
    conn = op.get_bind()
    old = conn.execute(
        sa.text(
            "SELECT description, severity, code, time, provider_id, data_center_id, cluster_id FROM events"
        )
    ).all()
    op.drop_index(op.f("ix_events_code"), table_name="events")
    op.drop_index(op.f("ix_events_time"), table_name="events")
    op.drop_table("events")
    events = op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", SEVERITY, nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=True),
        sa.Column("data_center_id", sa.String(length=36), nullable=True),
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_time"), "events", ["time"])
    if old:
        op.bulk_insert(
            events,
            [
                dict(
                    zip(
                        (
                            "description",
                            "severity",
                            "code",
                            "time",
                            "provider_id",
                            "data_center_id",
                            "cluster_id",
                        ),
                        (*row[:3], _moment(row[3]), *row[4:]),
                        strict=True,
                    ),
                    id=str(uuid.uuid4()),
                )
                for row in old
            ],
        )
