"""Keystone (v3 and v2.0) and canned Neutron routes behind one in-process requests adapter."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from neutrino.neutron_client import Credentials, Endpoint, NeutronClient
from tests.support.canned import Canned
from tests.support.neutron_transport import Call, CannedAdapter

KEYSTONE = "http://keystone.test:5000"
NEUTRON = "http://neutron.test:9696"
PASSWORD = "s3cret"

Route = Canned | Callable[[Call], Canned]


def neutron_error(status: int, kind: str, message: str) -> Canned:
    return Canned(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})


@dataclass
class FakeCloud:
    """``routes`` answer Neutron paths (``(method, path)``, path under ``/v2.0``); Keystone issues a token per
    login, valid until ``revoke()``. ``auth`` False: Neutron takes requests without a token;
    ``accept_tokens`` False: Neutron refuses every token (as when its own Keystone link is broken)."""

    auth: bool = True
    accept_tokens: bool = True
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    catalog: list[dict[str, object]] = field(
        default_factory=lambda: [
            {
                "type": "network",
                "name": "neutron",
                "endpoints": [
                    {"interface": "public", "region": "r1", "region_id": "r1", "url": NEUTRON},
                    {
                        "interface": "internal",
                        "region": "r1",
                        "region_id": "r1",
                        "url": "http://neutron.internal:9696/",
                    },
                ],
            }
        ]
    )
    token_life: datetime.timedelta = datetime.timedelta(hours=1)
    logins: list[object] = field(default_factory=list)  # the auth bodies Keystone got
    valid: set[str] = field(default_factory=set)

    def on(self, method: str, path: str, reply: Route) -> None:
        self.routes[(method, path)] = reply

    def revoke(self) -> None:
        self.valid.clear()

    def client(self, endpoint: Endpoint | None = None) -> tuple[NeutronClient, CannedAdapter]:
        adapter = CannedAdapter(self)
        if endpoint is None:
            credentials = Credentials(f"{KEYSTONE}/v3", "alice", PASSWORD, "demo") if self.auth else None
            endpoint = Endpoint(url=NEUTRON, credentials=credentials)
        return NeutronClient(endpoint, adapter=adapter), adapter

    def neutron_calls(self, adapter: CannedAdapter) -> list[Call]:
        return [c for c in adapter.calls if not c.url.startswith(KEYSTONE)]

    def _token(self) -> tuple[str, str]:
        token = f"tok-{len(self.logins)}"
        self.valid.add(token)
        expires = datetime.datetime.now(datetime.UTC) + self.token_life
        return token, expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")

    def _keystone(self, call: Call) -> Canned:
        self.logins.append(call.body)
        if call.path == "/v3/auth/tokens":
            password = call.body["auth"]["identity"]["password"]["user"]["password"]
            if password != PASSWORD:
                return Canned(
                    401, {"error": {"code": 401, "message": "The request you have made requires auth"}}
                )
            token, expires = self._token()
            body = {
                "token": {
                    "methods": ["password"],
                    "expires_at": expires,
                    "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
                    "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
                    "catalog": self.catalog,
                }
            }
            return Canned(201, body, headers={"X-Subject-Token": token})
        if call.path == "/v2.0/tokens":
            if call.body["auth"]["passwordCredentials"]["password"] != PASSWORD:
                return Canned(401, {"error": {"code": 401, "message": "Invalid user / password"}})
            token, expires = self._token()
            catalog = [
                {"type": s["type"], "name": s["name"], "endpoints": [{"publicURL": NEUTRON, "region": "r1"}]}
                for s in self.catalog
            ]
            access = {
                "token": {"id": token, "expires": expires, "tenant": {"id": "p1", "name": "demo"}},
                "serviceCatalog": catalog,
                "user": {"id": "u1", "name": "alice", "roles": []},
            }
            return Canned(200, {"access": access})
        return Canned(404, {"error": {"code": 404, "message": "no such Keystone path"}})

    def __call__(self, call: Call) -> Canned:
        if call.url.startswith(KEYSTONE):
            return self._keystone(call)
        if self.auth and (not self.accept_tokens or call.token not in self.valid):
            return neutron_error(401, "Unauthorized", "The request you have made requires authentication.")
        path = call.path.removeprefix("/v2.0")
        reply = self.routes.get((call.method, path))
        if reply is None:
            return neutron_error(404, "HTTPNotFound", f"The resource {path} could not be found.")
        return reply(call) if callable(reply) else reply
