"""The API contract in ``neutrino.agent_api``'s docstring names exactly the routes served."""

from __future__ import annotations

import re

import neutrino.agent_api as api
from neutrino.agent.api.routes import ROUTES


def test_every_documented_verb_is_served_and_every_served_verb_is_documented() -> None:
    documented = set(re.findall(r"``(GET|POST|PUT|DELETE) (/api/v1/[^`]*)``", api.__doc__ or ""))
    served = {
        (method, route.path) for route in ROUTES for method in (route.methods or set()) if method != "HEAD"
    }
    assert documented == served
