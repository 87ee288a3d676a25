"""The agent's HTTP link to the network provider (the Neutron v2.0 API + Keystone v3).

* :class:`KeystoneAuth` — an ``httpx`` auth flow: a Keystone v3 password token, fetched on first
  use and again when the provider answers 401.
* :class:`NeutronLink` — ``POST /v2.0/agent-reports`` (the embedded provider's agent report:
  liveness, configurations, port statuses; see :mod:`neutrino.agent.reporting`), ``GET
  /v2.0/agents`` (Neutron's agent extension, for the other hosts' tunnel addresses), and the
  plain Neutron resource calls the provider follower (:mod:`neutrino.agent.neutron_follower`)
  reads security groups, ports, networks and subnets with.

Never imports :mod:`neutrino.provider`; speaks only the wire contract.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

import httpx


class KeystoneAuth(httpx.Auth):
    """Adds ``X-Auth-Token`` from a Keystone v3 password authentication (project scoped)."""

    requires_response_body = True

    def __init__(
        self, auth_url: str, username: str, password: str, project: str, domain: str = "Default"
    ) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": username, "domain": {"name": domain}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": domain}}},
            }
        }
        self.token: str | None = None
        self._lock = threading.Lock()

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, str]:
        response = yield httpx.Request("POST", f"{self.auth_url}/auth/tokens", json=self.body)
        if response.status_code != 201 or "X-Subject-Token" not in response.headers:
            raise httpx.HTTPStatusError(
                f"Keystone refused the agent's credentials ({response.status_code})",
                request=response.request,
                response=response,
            )
        return response.headers["X-Subject-Token"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None:
            self.token = yield from self._fetch()
        request.headers["X-Auth-Token"] = self.token
        response = yield request
        if response.status_code == 401:
            self.token = yield from self._fetch()
            request.headers["X-Auth-Token"] = self.token
            yield request


class NeutronLink:
    """The provider calls the agent makes. Errors are ``httpx`` errors (``HTTPStatusError`` for
    an error answer, ``TransportError`` for an unreachable provider)."""

    #: pages followed at most by :meth:`query` (``<collection>_links`` ``next``)
    MAX_PAGES = 100

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def query(self, collection: str, **filters: str | list[str]) -> list[dict[str, Any]]:
        """``GET /v2.0/<collection>?<filters>`` (a list value repeats the key, which Neutron
        reads as "any of"), following pagination links."""
        member = collection.replace("-", "_")
        url: str | None = f"/v2.0/{collection}"
        params: dict[str, str | list[str]] | None = filters
        found: list[dict[str, Any]] = []
        for _ in range(self.MAX_PAGES):
            if url is None:
                break
            response = self.client.get(url, params=params)
            response.raise_for_status()
            body = response.json()
            found.extend(body.get(member, []))
            url = next(
                (link["href"] for link in body.get(f"{member}_links", []) if link.get("rel") == "next"), None
            )
            params = None  # the next link carries the query
        return found

    def create(self, collection: str, member: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"/v2.0/{collection}", json={member: body})
        response.raise_for_status()
        created: dict[str, Any] = response.json()[member]
        return created

    def update(self, collection: str, member: str, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.put(f"/v2.0/{collection}/{resource_id}", json={member: body})
        response.raise_for_status()
        updated: dict[str, Any] = response.json()[member]
        return updated

    def delete(self, collection: str, resource_id: str) -> None:
        """Delete a resource; one already gone is no error."""
        response = self.client.delete(f"/v2.0/{collection}/{resource_id}")
        if response.status_code != 404:
            response.raise_for_status()

    def report(self, report: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/v2.0/agent-reports", json={"agent_report": report})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def agents(self, agent_type: str) -> list[dict[str, Any]]:
        response = self.client.get("/v2.0/agents", params={"agent_type": agent_type})
        response.raise_for_status()
        agents: list[dict[str, Any]] = response.json().get("agents", [])
        return agents


def connect(
    url: str,
    *,
    username: str | None,
    password: str | None,
    project: str,
    domain: str = "Default",
    auth_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> NeutronLink:
    """A link to the provider at ``url``; without a password, requests carry no token
    (a provider in no-auth mode)."""
    auth = None
    if password:
        auth = KeystoneAuth(
            auth_url or f"{url.rstrip('/')}/v3", username or "admin", password, project, domain
        )
    client = httpx.Client(base_url=url, auth=auth, timeout=10, transport=transport)
    return NeutronLink(client)
