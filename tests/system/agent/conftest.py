"""Fixtures for the agent's system tests: root, real namespaces, agent processes."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _require

from .netlab import Lab

TOOLS = ("ip", "bridge", "nsenter", "ping")


def root_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridges, VXLAN)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (Debian iproute2, util-linux, iputils-ping)"
    return None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Namespaces and processes under a unique short prefix; all removed afterwards."""
    _require(root_reason())
    lab = Lab(prefix=f"na{secrets.token_hex(2)}", workdir=tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()
