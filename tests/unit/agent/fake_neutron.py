"""A fake network provider for the agent's provider follower: a handler of the Neutron client's
in-process transport (``tests.support.neutron_transport.CannedAdapter``) that serves canned Neutron
v2.0 JSON for networks, subnets, ports and security groups (no token: a provider in no-auth mode),
with the filters the agent uses and simple IP allocation."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests

from neutrino.neutron_client import Endpoint, NeutronClient
from tests.support.canned import Canned
from tests.support.neutron_transport import Call, CannedAdapter

COLLECTIONS = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "security-groups": "security_group",
    "security-group-rules": "security_group_rule",
}


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of ``mac`` in a /64 (modified EUI-64)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
    return str(
        ipaddress.IPv6Address(int(ipaddress.ip_network(cidr).network_address) | int.from_bytes(iid, "big"))
    )


def neutron_error(status: int, kind: str, message: str = "") -> Canned:
    return Canned(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})


class FakeNeutron:
    """Resources live in ``self.data[collection][id]``; helpers build them like Neutron would."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in COLLECTIONS}
        self.requests: list[tuple[str, str]] = []  # (method, path?query)
        self.down = False  # answer every request with a connection error
        self.inline_rules = True  # security groups carry security_group_rules
        self.port_group_filter = True  # ports can be filtered by security_groups
        #: with a value, ``GET /v2.0/changes`` without a cursor answers it as the provider's state
        #: (Neutrino's feed; None: a real Neutron, 404)
        self.state: str | None = None
        self._macs = itertools.count(1)

    # -- building resources -------------------------------------------------------------------
    def network(self, *, mtu: int = 1450, network_type: str = "vxlan", segmentation_id: int = 100) -> str:
        net_id = str(uuid.uuid4())
        self.data["networks"][net_id] = {
            "id": net_id, "name": f"net-{net_id[:4]}", "mtu": mtu, "status": "ACTIVE",
            "provider:network_type": network_type, "provider:segmentation_id": segmentation_id,
            "provider:physical_network": None,
        }  # fmt: skip
        return net_id

    def subnet(
        self, network_id: str, cidr: str, *, gateway: str | None = "auto", dhcp: bool = True, **more: Any
    ) -> str:
        subnet_id = str(uuid.uuid4())
        net = ipaddress.ip_network(cidr)
        gateway_ip = str(next(net.hosts())) if gateway == "auto" else gateway
        self.data["subnets"][subnet_id] = {
            "id": subnet_id, "network_id": network_id, "cidr": cidr, "ip_version": net.version,
            "gateway_ip": gateway_ip, "enable_dhcp": dhcp, "dns_nameservers": [],
            "created_at": f"2026-01-01T00:00:{len(self.data['subnets']):02d}Z", **more,
        }  # fmt: skip
        return subnet_id

    def group(self, *rules: dict[str, Any]) -> str:
        group_id = str(uuid.uuid4())
        self.data["security-groups"][group_id] = {"id": group_id, "name": f"sg-{group_id[:4]}"}
        for rule in rules:
            self.rule(group_id, **rule)
        return group_id

    def rule(self, group_id: str, **rule: Any) -> str:
        rule_id = str(uuid.uuid4())
        self.data["security-group-rules"][rule_id] = {
            "id": rule_id, "security_group_id": group_id, "ethertype": "IPv4", "protocol": None,
            "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
            "remote_group_id": None, **rule,
        }  # fmt: skip
        return rule_id

    def port(self, network_id: str, *, groups: list[str] | None = None, **more: Any) -> dict[str, Any]:
        port = self._create_port({"network_id": network_id, "security_groups": groups or [], **more})
        return port

    def _create_port(self, body: dict[str, Any]) -> dict[str, Any]:
        port_id = str(uuid.uuid4())
        network_id = body["network_id"]
        wanted = body.get("fixed_ips")
        if wanted is None:
            wanted = [{"subnet_id": s["id"]} for s in self._subnets(network_id)]
        port = {
            "id": port_id, "name": "", "device_owner": "", "device_id": "", "status": "DOWN",
            "mac_address": f"fa:16:3e:00:00:{next(self._macs):02x}", "security_groups": [],
            **body, "fixed_ips": [],
        }  # fmt: skip
        port["fixed_ips"] = [self._allocate(network_id, item, port["mac_address"]) for item in wanted]
        self.data["ports"][port_id] = port
        return port

    def _subnets(self, network_id: str) -> list[dict[str, Any]]:
        return [s for s in self.data["subnets"].values() if s["network_id"] == network_id]

    def _allocate(self, network_id: str, item: dict[str, Any], mac: str) -> dict[str, str]:
        if "ip_address" in item:
            return {"subnet_id": item["subnet_id"], "ip_address": item["ip_address"]}
        subnet = self.data["subnets"][item["subnet_id"]]
        if subnet.get("ipv6_address_mode") in ("slaac", "dhcpv6-stateless"):  # EUI-64, as Neutron
            return {"subnet_id": subnet["id"], "ip_address": eui64(subnet["cidr"], mac)}
        used = {ip["ip_address"] for p in self.data["ports"].values() for ip in p["fixed_ips"]} | {
            subnet["gateway_ip"]
        }
        for host in ipaddress.ip_network(subnet["cidr"]).hosts():
            if str(host) not in used and int(host) % 256 >= 2:
                return {"subnet_id": subnet["id"], "ip_address": str(host)}
        raise AssertionError("subnet full")

    def client(self) -> NeutronClient:
        return NeutronClient(Endpoint(url="http://neutron:9696"), adapter=CannedAdapter(self))

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    # -- serving ----------------------------------------------------------------------------
    def __call__(self, call: Call) -> Canned:
        try:
            return self._serve(call)
        except _BadFilter as exc:
            return neutron_error(400, "HTTPBadRequest", f"[{exc}] is invalid attribute for filtering")

    def _serve(self, call: Call) -> Canned:
        if self.down:
            raise requests.ConnectionError("connection refused")
        query = urlsplit(call.url).query
        self.requests.append((call.method, call.path + ("?" + query if query else "")))
        parts = call.path.strip("/").split("/")
        if call.path == "/v2.0/changes" and self.state is not None and "after" not in call.query:
            return Canned(200, {"changes": {"cursor": "e-1", "changed": None, "state": self.state}})
        if parts[0] != "v2.0" or len(parts) < 2 or parts[1] not in COLLECTIONS:
            return neutron_error(404, "HTTPNotFound")
        collection, member = parts[1], COLLECTIONS[parts[1]]
        if len(parts) == 2 and call.method == "GET":
            return Canned(200, {collection.replace("-", "_"): self._list(collection, call.query)})
        if len(parts) == 2 and call.method == "POST" and collection == "ports":
            return Canned(201, {"port": self._create_port(call.body["port"])})
        if len(parts) == 3:
            item = self.data[collection].get(parts[2])
            if item is None:
                return neutron_error(404, f"{member.title()}NotFound")
            if call.method == "GET":
                return Canned(200, {member: self._render(collection, item)})
            if call.method == "DELETE":
                del self.data[collection][parts[2]]
                return Canned(204)
            if call.method == "PUT" and collection == "ports":
                body = call.body["port"]
                if "fixed_ips" in body:
                    item["fixed_ips"] = [
                        self._allocate(item["network_id"], f, item["mac_address"])
                        for f in body.pop("fixed_ips")
                    ]
                item.update(body)
                return Canned(200, {"port": item})
        return neutron_error(405, "HTTPMethodNotAllowed")

    def _render(self, collection: str, item: dict[str, Any]) -> dict[str, Any]:
        if collection == "security-groups" and self.inline_rules:
            rules = [
                r for r in self.data["security-group-rules"].values() if r["security_group_id"] == item["id"]
            ]
            return {**item, "security_group_rules": rules}
        return dict(item)

    def _list(self, collection: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        found = [self._render(collection, item) for item in self.data[collection].values()]
        for key, values in query.items():
            if key == "security_groups":
                if not self.port_group_filter:
                    raise _BadFilter(key)
                found = [i for i in found if set(i.get("security_groups", [])) & set(values)]
            else:
                found = [i for i in found if str(i.get(key)) in values]
        return found


class _BadFilter(Exception):
    pass
