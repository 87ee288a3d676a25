"""Keystone tokens: persisted revocation events, and the signing key out of the database into a key file

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:00:00

The signing key used to sit in ``provider_meta`` (key ``token_secret``), readable by anyone who could read
the database. It moves to a 0600 file: the path given by the caller in the Alembic config's attributes
(``token_key_file``, see ``neutrino.provider.store.migrate.upgrade``), else ``keystone-signing.key`` next
to a SQLite database. A database holding a key with nowhere to put it is refused rather than losing the key
(which would log every client out). Downgrading puts the key back into the database and leaves the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_KEY_FILE_NAME = "keystone-signing.key"
_meta = sa.table("provider_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def _key_file() -> Path | None:
    given = context.config.attributes.get("token_key_file")
    if given:
        return Path(given)
    url = op.get_bind().engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent / _KEY_FILE_NAME
    return None


def _write_key(path: Path, hex_key: str) -> None:
    """Write the key into a new 0600 file; an existing file must already hold this very key."""
    if path.exists():
        if path.read_text().strip() != hex_key:
            raise RuntimeError(
                f"token_secret: {path} exists and holds another key; move it away or remove it "
                "so the database's key can be written there"
            )
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(hex_key + "\n")


def upgrade() -> None:
    op.create_table(
        "revocation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("audit_id", sa.String(length=64), nullable=True),
        sa.Column("issued_before", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_events")),
    )
    for column in ("user_id", "project_id", "audit_id"):
        op.create_index(op.f(f"ix_revocation_events_{column}"), "revocation_events", [column])

    bind = op.get_bind()
    row = bind.execute(sa.select(_meta.c.value).where(_meta.c.key == "token_secret")).one_or_none()
    if row is None:
        return
    path = _key_file()
    if path is None:
        raise RuntimeError(
            "token_secret: the database holds the token signing key and no key file was given to move it "
            "to (run the migration through `neutrino provider`, which passes its data directory)"
        )
    _write_key(path, row.value)
    bind.execute(sa.delete(_meta).where(_meta.c.key == "token_secret"))


def downgrade() -> None:
    path = _key_file()
    if path is not None and path.exists():
        op.get_bind().execute(sa.insert(_meta).values(key="token_secret", value=path.read_text().strip()))
    for column in ("user_id", "project_id", "audit_id"):
        op.drop_index(op.f(f"ix_revocation_events_{column}"), table_name="revocation_events")
    op.drop_table("revocation_events")
