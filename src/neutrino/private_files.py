"""Data directories, databases and key files only their owner reads, shared by the three programs.

A data directory holds what makes its program's owner an admin elsewhere (signing keys, the agent token,
provider passwords, session hashes), so it is created 0700 and its SQLite database and key files 0600,
whatever the umask. Existing ones are tightened at start, so an installation made before this is fixed too.
The standard library only (see tests/unit/test_layering.py).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 0700; an existing one loses its group and other bits."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Make ``path`` exist, empty when new, mode 0600 (a SQLite database before SQLite opens it: SQLite
    then gives its ``-wal`` and ``-shm`` files the database's mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path)
    for companion in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if companion.exists():
            _tighten(companion)
    return path


def private_sqlite(url: str) -> None:
    """For a ``sqlite:///PATH`` URL: PATH's directory 0700 (when missing) and PATH 0600; other URLs: nothing."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///relative`` or ``sqlite:////absolute``), None for other URLs
    and in-memory databases."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``, mode 0600 from the first byte; an existing file is not replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _tighten(path: Path) -> None:
    """Take group and other bits away (the owner's stay as they are)."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        log.warning("%s was mode %o; now %o (it holds secrets)", path, current, current & ~0o077)
        os.chmod(path, current & ~0o077)
