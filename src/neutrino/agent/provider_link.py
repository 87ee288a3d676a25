"""The agent's link to the network provider (Neutron v2.0 API + Keystone v3), over HTTP.

* :class:`KeystoneAuth` — an ``httpx`` auth flow: a Keystone v3 password token, fetched on first
  use and again when the provider answers 401.
* :class:`ProviderLink` — ``POST /v2.0/agent-reports`` (the embedded provider's agent report:
  liveness, configurations, port statuses; extension :data:`REPORT_EXTENSION`), ``GET
  /v2.0/agents`` (Neutron's agent extension, for the other hosts' tunnel addresses), and the
  plain Neutron resource calls :mod:`neutrino.agent.provider_sync` reads security groups, ports,
  networks and subnets with.
* :class:`Reporter` — every ``interval`` seconds: report each plugin type this host plugs, mark
  its ports ACTIVE / ERROR / DOWN, and learn VXLAN peers from the other hosts' agents.

Never imports :mod:`neutrino.provider`; speaks only the wire contract.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from typing import Any

import httpx

from neutrino.agent.service import Agent

log = logging.getLogger(__name__)

#: The alias under which the embedded provider lists ``POST /v2.0/agent-reports`` in
#: ``GET /v2.0/extensions`` (Neutrino's own: real Neutron agents report over RPC).
REPORT_EXTENSION = "neutrino-agent-report"

#: Neutron's agent_type names for the plugin types the agent's drivers plug.
AGENT_TYPES = {"LINUX_BRIDGE": "Linux bridge agent", "OPEN_VSWITCH": "Open vSwitch agent"}


def agent_type(plugin_type: str) -> str:
    return AGENT_TYPES.get(plugin_type, f"{plugin_type} agent")


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


class ProviderLink:
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
) -> ProviderLink:
    """A link to the provider at ``url``; without a password, requests carry no token
    (a provider in no-auth mode)."""
    auth = None
    if password:
        auth = KeystoneAuth(
            auth_url or f"{url.rstrip('/')}/v3", username or "admin", password, project, domain
        )
    client = httpx.Client(base_url=url, auth=auth, timeout=10, transport=transport)
    return ProviderLink(client)


class Reporter:
    """Reports this host to the provider and learns peers, once or in a background thread."""

    def __init__(self, agent: Agent, link: ProviderLink, interval: float = 30) -> None:
        self.agent = agent
        self.link = link
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reports_supported = True  # False against a provider without agent-reports (real Neutron)

    def report_once(self) -> None:
        """One round; raises what the provider or the network raised."""
        reports, reported_down = self.agent.provider_reports()
        if self.reports_supported:
            try:
                for plugin_type, report in reports.items():
                    self.link.report({**report, "agent_type": agent_type(plugin_type)})
                self.agent.confirm_reported_down(reported_down)
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise
                # a real Neutron has no agent-reports; its own agents still tell us the peers
                log.info("the network provider takes no agent reports; only learning peers from it")
                self.reports_supported = False
        peers: set[str] = set()
        mine = self.agent.identity.tunnel_ip
        for plugin_type, report in reports.items():
            if "vxlan" not in report["configurations"].get("tunnel_types", []):
                continue
            for other in self.link.agents(agent_type(plugin_type)):
                ip = (other.get("configurations") or {}).get("tunneling_ip")
                if other.get("alive") and ip and ip != mine and other.get("host") != report["host"]:
                    peers.add(ip)
        self.agent.set_learned_peers(peers)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.report_once()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("report to the network provider failed: %s", exc)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="provider-reporter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the link stays open: its owner closes it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
