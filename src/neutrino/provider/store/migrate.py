"""Programmatic Alembic: the provider's migrations live in this package, versioned in their own table."""

from __future__ import annotations

from pathlib import Path

VERSION_TABLE = "alembic_version_provider"


def _config(url: str):  # -> alembic.config.Config, imported lazily to keep CLI start cheap
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", *, token_key_file: Path | None = None) -> None:
    """Migrate to ``revision``; ``token_key_file`` is where migration 0005 moves the token signing key
    that older databases hold (next to a SQLite database when not given)."""
    from alembic import command

    cfg = _config(url)
    if token_key_file is not None:
        cfg.attributes["token_key_file"] = str(token_key_file)
    command.upgrade(cfg, revision)


def downgrade(url: str, revision: str = "base", *, token_key_file: Path | None = None) -> None:
    from alembic import command

    cfg = _config(url)
    if token_key_file is not None:
        cfg.attributes["token_key_file"] = str(token_key_file)
    command.downgrade(cfg, revision)


def current_revision(url: str) -> str | None:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return ctx.get_current_revision()
    finally:
        engine.dispose()
