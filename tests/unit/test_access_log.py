"""The servers' access log (neutrino.access_log): one line per request with method, path, status, duration and
who — never a secret — to stderr and to the program's file; and each server (agent, provider) writes it."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from neutrino.access_log import AccessLog, token_id

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\w+) (\S+) (\S+) (\d{3}) (\d+\.\d)ms (\S+)$")


def app(tmp_path: Path) -> Starlette:
    async def hello(request: Request) -> Response:
        if request.query_params.get("who"):
            request.state.user = request.query_params["who"]
        return PlainTextResponse("hi", status_code=int(request.query_params.get("status", "200")))

    async def boom(request: Request) -> Response:
        raise RuntimeError("broken")

    built = Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"]), Route("/boom", boom)])
    built.add_middleware(AccessLog, program="test", path=tmp_path / "test.log")
    return built


def lines(tmp_path: Path) -> list[tuple[str, ...]]:
    found = []
    for line in (tmp_path / "test.log").read_text().splitlines():
        m = LINE.match(line)
        assert m, line
        found.append(m.groups())
    return found


def test_one_line_per_request_with_who_asked_and_never_a_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-token-value"
    basic = base64.b64encode(b"alice@internal:hunter2").decode()
    access = logging.getLogger("neutrino.access")  # it does not propagate: its own stderr handler
    access.addHandler(caplog.handler)
    try:
        with TestClient(app(tmp_path)) as c:
            requests(c, secret, basic)
    finally:
        access.removeHandler(caplog.handler)
    got = lines(tmp_path)
    assert [(g[0], g[1], g[2], g[3], g[5]) for g in got] == [
        ("test", "GET", "/hello", "200", "-"),  # no query string: it may hold a password
        ("test", "GET", "/hello", "200", f"token={token_id(secret)}"),
        ("test", "GET", "/hello", "200", "user=alice@internal"),
        ("test", "GET", "/hello", "404", f"token={token_id(secret)}"),
        ("test", "POST", "/hello", "200", "user=bob@internal"),  # what the server recognised
        ("test", "GET", "/nowhere", "404", "-"),
    ]
    text = (tmp_path / "test.log").read_text()
    assert secret not in text and "hunter2" not in text
    # the same lines on stderr (through logging, so a deployment may route them)
    assert [r.getMessage() for r in caplog.records if r.name == "neutrino.access"] == text.splitlines()


def requests(c: TestClient, secret: str, basic: str) -> None:
    c.get("/hello", params={"password": "hunter2"})
    c.get("/hello", headers={"Authorization": f"Bearer {secret}"})
    c.get("/hello", headers={"Authorization": f"Basic {basic}"})
    c.get("/hello", headers={"X-Auth-Token": secret}, params={"status": "404"})
    c.post("/hello", params={"who": "bob@internal"}, content=b"password=hunter2")
    c.get("/nowhere")


def test_what_a_client_sends_cannot_forge_a_line(tmp_path: Path) -> None:
    forged = base64.b64encode(
        b"eve\n2027-01-01T00:00:00.000Z test GET /admin 200 1.0ms user=root:pw"
    ).decode()
    with TestClient(app(tmp_path)) as c:
        c.get("/hello%0A2027-01-01T00:00:00.000Z test GET /x 200 1.0ms -")
        c.get("/hello", headers={"Authorization": f"Basic {forged}"})
        c.get("/hello", params={"who": "bob smith\r\nx"})
    got = lines(tmp_path)  # each line still parses: one line, six fields per request
    assert [g[2] for g in got] == [
        "/hello%0A2027-01-01T00:00:00.000Z%20test%20GET%20/x%20200%201.0ms%20-",
        "/hello",
        "/hello",
    ]
    assert got[1][5].startswith("user=eve%0A2027") and got[2][5] == "user=bob%20smith%0D%0Ax"


def test_a_failing_request_is_logged_as_a_500(tmp_path: Path) -> None:
    with TestClient(app(tmp_path), raise_server_exceptions=False) as c:
        assert c.get("/boom").status_code == 500
    [(_, method, path, status, _, _)] = lines(tmp_path)
    assert (method, path, status) == ("GET", "/boom", "500")


def test_an_unwritable_log_file_does_not_fail_the_request(tmp_path: Path) -> None:
    built = Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))])
    built.add_middleware(AccessLog, program="test", path=tmp_path / "missing-dir" / "x.log")
    with TestClient(built) as c:
        assert c.get("/").status_code == 200


def test_the_agent_writes_agent_log(tmp_path: Path) -> None:
    from neutrino.agent.app import create_app
    from neutrino.agent.datapath.memory import MemoryNet, World
    from neutrino.agent.settings import AgentSettings

    settings = AgentSettings(
        data_dir=tmp_path / "agent",
        token="agent-secret",
        host_name="h",
        host_net="memory",
        tunnel_ip="192.0.2.1",
    )
    with TestClient(create_app(settings, host_net=MemoryNet(World()))) as c:
        assert (
            c.get("/api/v1/capabilities", headers={"Authorization": "Bearer agent-secret"}).status_code == 200
        )
        assert c.get("/api/v1/capabilities").status_code == 401
    text = (tmp_path / "agent" / "agent.log").read_text()
    ok, refused = text.splitlines()[-2:]
    assert " agent GET /api/v1/capabilities 200 " in ok and ok.endswith(f"token={token_id('agent-secret')}")
    assert " agent GET /api/v1/capabilities 401 " in refused and refused.endswith(" -")
    assert "agent-secret" not in text


def test_a_rotated_or_removed_log_file_is_written_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AccessLog, "RECHECK", 0.0)  # the file's identity checked at every line
    log_file = tmp_path / "engine.log"
    built = Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))])
    built.add_middleware(AccessLog, program="test", path=log_file)
    with TestClient(built) as c:
        c.get("/")
        log_file.rename(tmp_path / "engine.log.1")  # logrotate's move
        c.get("/")
        assert len((tmp_path / "engine.log.1").read_text().splitlines()) == 1
        assert len(log_file.read_text().splitlines()) == 1
        assert log_file.stat().st_mode & 0o777 == 0o600
        log_file.unlink()
        c.get("/")
        assert len(log_file.read_text().splitlines()) == 1
