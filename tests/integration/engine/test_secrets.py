"""Stored secrets (provider passwords) are encrypted, round-trip with the engine's key, and fail with another."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from neutrino.engine.store.secrets import SecretBox


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    box = SecretBox(Fernet.generate_key())
    token = box.encrypt("provider-password")
    assert "provider-password" not in token
    assert box.decrypt(token) == "provider-password"
    assert box.encrypt("provider-password") != token  # a fresh IV each time


def test_a_wrong_key_fails() -> None:
    token = SecretBox(Fernet.generate_key()).encrypt("provider-password")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(Fernet.generate_key()).decrypt(token)
    with pytest.raises(ValueError):
        SecretBox(Fernet.generate_key()).decrypt("not-a-token")


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    first = SecretBox.from_data_dir(tmp_path / "data")
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.encrypt("s")
    assert SecretBox.from_data_dir(tmp_path / "data").decrypt(token) == "s"


def test_an_explicit_key_wins_over_the_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    token = SecretBox(key.encode()).encrypt("s")
    assert SecretBox.from_data_dir(tmp_path, key).decrypt(token) == "s"
    assert not (tmp_path / "secret.key").exists()


def test_provider_password_is_stored_encrypted(tmp_path: Path, database_url: str) -> None:
    """What the store keeps for an ExternalProvider is the ciphertext; the engine's key opens it."""
    import sqlalchemy as sa

    from neutrino.engine.bootstrap import build
    from neutrino.engine.domain import model
    from neutrino.engine.settings import EngineSettings
    from neutrino.engine.store.tables import providers

    engine = build(EngineSettings(data_dir=tmp_path / "engine", db=database_url, admin_password="pw"))
    try:
        box = engine.ctx.secrets
        with engine.ctx.uow() as uow:
            uow.providers.add(
                model.ExternalProvider(
                    name="neutron",
                    url="http://127.0.0.1:9696",
                    username="admin",
                    password_encrypted=box.encrypt("hunter2"),
                )
            )
            uow.commit()
        with engine.db.connect() as conn:
            stored = conn.execute(sa.select(providers.c.password_encrypted)).scalar_one()
        assert "hunter2" not in stored
        assert box.decrypt(stored) == "hunter2"
        with pytest.raises(ValueError):
            SecretBox(Fernet.generate_key()).decrypt(stored)
    finally:
        engine.dispose()
