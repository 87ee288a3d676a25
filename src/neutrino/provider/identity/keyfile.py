"""The Keystone token signing key, in a 0600 file of its own rather than in the database.

Whoever holds the key can mint an admin token, so it lives where only the provider's user reads it
(``ProviderSettings.token_key_path()``), not in ``provider.db`` next to data that gets backed up and copied
around. Providers sharing one database must share this file too. Migration 0005 moved the key of older
databases here.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

from neutrino.private_files import private_dir, private_file, write_secret


def load_signing_key(path: Path) -> bytes:
    """The key in ``path``, created (32 random bytes, hex, mode 0600) when the file does not exist."""
    if not path.exists():
        private_dir(path.parent)
        # FileExistsError: another process of this provider wrote it first; use theirs
        with contextlib.suppress(FileExistsError):
            write_secret(path, secrets.token_bytes(32).hex().encode() + b"\n")
    private_file(path)  # an older or hand-made file loses its group and other bits
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"token_key_file: {path} does not hold a hex key") from exc
    if len(key) < 16:
        raise ValueError(f"token_key_file: {path} holds {len(key)} bytes; at least 16 are needed")
    return key
