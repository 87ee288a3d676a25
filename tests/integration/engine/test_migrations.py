"""The schema: Alembic builds it on an empty database, and the tables the code maps match it exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.engine.store import migrate
from neutrino.engine.store.database import create_engine
from neutrino.engine.store.tables import metadata


def test_upgrade_head_on_an_empty_database_then_again(database_url: str) -> None:
    db = create_engine(database_url)
    try:
        assert sa.inspect(db).get_table_names() == []
        migrate.upgrade(db)
        tables = set(sa.inspect(db).get_table_names())
        assert set(metadata.tables) <= tables
        assert migrate.VERSION_TABLE in tables
        migrate.upgrade(db)  # a second start changes nothing
        with db.connect() as conn:
            versions = (
                conn.execute(sa.text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).scalars().all()
            )
        assert len(versions) == 1
    finally:
        db.dispose()


def test_the_model_matches_the_migrations(database_url: str) -> None:
    db = create_engine(database_url)
    try:
        migrate.upgrade(db)
        with db.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": False}
            )
            diff = [d for d in compare_metadata(context, metadata) if not _is_version_table(d)]
        assert diff == []
    finally:
        db.dispose()


def _is_version_table(diff: object) -> bool:
    """The version table is Alembic's, not the model's."""
    return isinstance(diff, tuple) and any(
        isinstance(part, sa.Table) and part.name == migrate.VERSION_TABLE for part in diff
    )
