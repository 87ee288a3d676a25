"""Fixtures for the system tests (agents and engine-driven scenarios): root, real namespaces, processes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _require
from tests.support.netlab import Lab, root_reason
from tests.support.ovn_lab import OvnLab, missing_tools


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Namespaces and processes under a unique short prefix; all removed afterwards."""
    _require(root_reason())
    lab = Lab(prefix=f"na{secrets.token_hex(2)}", workdir=tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()


@pytest.fixture(scope="session")
def ovn_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnLab]:
    """OVN central and two chassis in namespaces (``tests/support/ovn_lab.py``), one per session."""
    _require(root_reason() or missing_tools())
    lab = OvnLab(Lab(prefix=f"no{secrets.token_hex(2)}", workdir=tmp_path_factory.mktemp("ovn")))
    try:
        yield lab.build(chassis=2)
    finally:
        lab.cleanup()
