"""The schema: Alembic builds it on an empty database, and the tables the code maps match it exactly."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.engine.store import migrate
from neutrino.engine.store.database import create_engine
from neutrino.engine.store.repository import token_hash
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


def test_0005_numbers_the_events_by_time_and_names_what_they_link(database_url: str) -> None:
    db = create_engine(database_url)
    try:
        migrate.upgrade(db, "0004")
        with db.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO data_centers (id, name, description, comment, local, version_major, "
                    "version_minor, status) VALUES ('dc-1', 'dc one', '', '', false, 4, 7, 'up')"
                )
            )
            for uid, text, when, dc in [
                ("b-uuid", "second", "2026-01-02 00:00:00", None),
                ("a-uuid", "first", "2026-01-01 00:00:00", "dc-1"),
                ("c-uuid", "third", "2026-01-03 00:00:00", "gone-dc"),
            ]:
                conn.execute(
                    sa.text(
                        "INSERT INTO events (id, description, severity, code, time, data_center_id) "
                        "VALUES (:id, :d, 'normal', 1100, :t, :dc)"
                    ),
                    {"id": uid, "d": text, "t": datetime.fromisoformat(when), "dc": dc},
                )
        migrate.upgrade(db)
        with db.begin() as conn:
            rows = conn.execute(
                sa.text("SELECT id, description, data_center_id, data_center_name FROM events ORDER BY id")
            ).all()
            assert [tuple(r) for r in rows] == [
                (1, "first", "dc-1", "dc one"),
                (2, "second", None, None),
                (3, "third", "gone-dc", None),
            ]
            conn.execute(
                sa.text(
                    "INSERT INTO events (time, code, severity, description) VALUES (:t, 30, 'normal', 'x')"
                ),
                {"t": datetime.now()},
            )
            assert conn.execute(sa.text("SELECT max(id) FROM events")).scalar_one() == 4
    finally:
        db.dispose()


def test_0007_keeps_live_sessions_as_hashes_of_their_tokens(database_url: str) -> None:
    db = create_engine(database_url)
    try:
        migrate.upgrade(db, "0006")
        with db.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, name, domain, password_hash) VALUES ('u-1', 'u', 'internal', 'x')"
                )
            )
            conn.execute(
                sa.text("INSERT INTO sessions (token, user_id, created_at) VALUES ('live-token', 'u-1', :t)"),
                {"t": datetime.now()},
            )
        migrate.upgrade(db, "0007")
        with db.connect() as conn:
            stored = conn.execute(sa.text("SELECT token_hash FROM sessions")).scalars().all()
        assert stored == [token_hash("live-token")]  # the same session, found by the same token, not readable
        command.downgrade(migrate.alembic_config(db), "0006")
        with db.connect() as conn:
            assert (
                conn.execute(sa.text("SELECT count(*) FROM sessions")).scalar_one() == 0
            )  # hashes are no tokens
    finally:
        db.dispose()
