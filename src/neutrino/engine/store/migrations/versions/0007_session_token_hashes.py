"""sessions: keep the SHA-256 of each SSO token (``token_hash``), never the token itself

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:10:00

Anyone who could read ``engine.db`` could replay the live bearer tokens it held. Now the table holds their
hashes (a token is looked up by its hash), so what it shows cannot be replayed. Live sessions survive the
upgrade: their tokens are hashed in place. A downgrade cannot recover tokens from hashes, so it ends every
session (their users log in again).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _sessions(column: str) -> sa.TableClause:
    return sa.table("sessions", sa.column(column, sa.String))


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column(
            "token", new_column_name="token_hash", existing_type=sa.String(128), nullable=False
        )
    bind = op.get_bind()
    table = _sessions("token_hash")
    for (token,) in bind.execute(sa.select(table.c.token_hash)).all():
        digest = hashlib.sha256(token.encode()).hexdigest()
        bind.execute(sa.update(table).where(table.c.token_hash == token).values(token_hash=digest))


def downgrade() -> None:
    op.execute(sa.delete(_sessions("token_hash")))
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column(
            "token_hash", new_column_name="token", existing_type=sa.String(128), nullable=False
        )
