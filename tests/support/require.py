"""What a test needs from the machine: skipped with the reason when missing, except in CI (``CI=true``),
where nothing may skip and a missing service is a failure."""

from __future__ import annotations

import os

import pytest


def require(reason: str | None) -> None:
    """Skip with the reason, except in CI where a missing service is a failure."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)
