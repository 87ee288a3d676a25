"""The provider's access log: each request a line in the data dir's provider.log, naming the token by a hash."""

from __future__ import annotations

from pathlib import Path

from neutrino.access_log import token_id
from tests.integration.provider.server import running_provider
from tests.support.databases import sqlite_url


def test_each_request_is_a_line_of_provider_log(tmp_path: Path) -> None:
    with running_provider(sqlite_url(tmp_path), tmp_path / "provider") as provider:
        token = provider.token()
        with provider.client(token) as c:
            assert c.get("/v2.0/networks", params={"name": "x"}).status_code == 200
        with provider.client("not-a-token") as c:
            assert c.get("/v2.0/networks").status_code == 401
    lines = (tmp_path / "provider" / "provider.log").read_text().splitlines()
    assert any(" provider POST /v3/auth/tokens 201 " in line for line in lines)
    ok = next(line for line in lines if " provider GET /v2.0/networks 200 " in line)
    assert ok.endswith(f"token={token_id(token)}") and "name=x" not in ok
    refused = next(line for line in lines if " provider GET /v2.0/networks 401 " in line)
    assert refused.endswith(f"token={token_id('not-a-token')}")
    assert token not in "\n".join(lines)
