"""Fixtures for the system tests (agents and engine-driven scenarios): root, real namespaces, processes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _require
from tests.support.netlab import Lab, root_reason


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Namespaces and processes under a unique short prefix; all removed afterwards."""
    _require(root_reason())
    lab = Lab(prefix=f"na{secrets.token_hex(2)}", workdir=tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()
