"""The route fuzz over the three running servers (tests/support/route_fuzz.py): every route of their routers,
a seeded sample of its hostile cases; no 5xx, no request slower than 2 s, no secret in any answer.
``bench/fuzz_routes.py`` sends every case."""

from __future__ import annotations

import httpx
import pytest

from tests.support.route_fuzz import World, run

SEED = 15  # the number: the same sample on every run
PER_ROUTE = 2


@pytest.mark.parametrize("name", ["provider", "engine", "agent"])
def test_no_route_answers_5xx_slowly_or_with_a_secret(world: World, name: str) -> None:
    [target] = [t for t in world.targets if t.name == name]
    tally = run([target], world.secrets, seed=SEED, per_route=PER_ROUTE)
    assert tally.sent >= len(target.routes), tally.sent
    assert not tally.findings, f"{len(tally.findings)} findings in {tally.sent} requests:\n" + "\n".join(
        str(f) for f in tally.findings[:20]
    )


@pytest.mark.parametrize(
    ("name", "path", "shape"),
    [
        ("provider", "/v2.0/networks", "NeutronError"),
        ("provider", "/v3/auth/tokens", "error"),
        ("engine", "/ovirt-engine/api/datacenters", "detail"),
        ("agent", "/api/v1/vms", "error"),
    ],
)
def test_a_body_over_the_limit_is_a_413_in_the_apis_own_shape(
    world: World, name: str, path: str, shape: str
) -> None:
    [target] = [t for t in world.targets if t.name == name]
    headers = {**target.auth, "Accept": "application/json", "Content-Type": "application/json"}
    response = httpx.post(target.url + path, content=b" " * ((1 << 20) + 1), headers=headers, timeout=30)
    assert response.status_code == 413, response.text
    assert shape in response.json() and "1048576 bytes" in response.text, response.text
    # one byte under the limit is read and judged on what it says
    response = httpx.post(target.url + path, content=b" " * (1 << 20), headers=headers, timeout=30)
    assert response.status_code < 413, response.text
