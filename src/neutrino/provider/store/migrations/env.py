"""Alembic environment for the provider's tables (online mode only)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from neutrino.provider.store.migrate import VERSION_TABLE
from neutrino.provider.store.tables import metadata

config = context.config
engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=sa.pool.NullPool)
try:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
