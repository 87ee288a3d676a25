"""The engine's Neutron client against recorded real-Neutron bodies and every failure cause, served by a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from neutrino.engine.domain.errors import BadRequest, Conflict, ProviderFailure
from neutrino.engine.providers.base import PortRequest
from neutrino.engine.providers.neutron import NeutronProvider, ProviderAuthFailure
from neutrino.neutron_client import Credentials, Endpoint
from tests.support.canned import Canned, canned_server

# A network as a real Neutron (Queens, ML2/OVS) returns it: many keys the engine does not know, no `mtu`,
# no `project_id` (only `tenant_id`), no `port_security_enabled`.
OLD_NEUTRON_NETWORK = {
    "admin_state_up": True,
    "availability_zone_hints": [],
    "availability_zones": ["nova"],
    "created_at": "2018-03-19T19:16:56Z",
    "id": "9d83c053-b0a4-4682-ae80-c00df269ce0a",
    "ipv4_address_scope": None,
    "ipv6_address_scope": None,
    "l2_adjacency": True,
    "name": "public-net",
    "provider:network_type": "vlan",
    "provider:physical_network": "physnet1",
    "provider:segmentation_id": 101,
    "qos_policy_id": None,
    "revision_number": 3,
    "router:external": False,
    "shared": False,
    "status": "ACTIVE",
    "subnets": ["54d6f61d-db07-451c-9ab3-b9609b6b6f0b"],
    "tags": [],
    "tenant_id": "4fd44f30292945e481c7b8a0c8908869",
    "updated_at": "2018-03-19T19:16:56Z",
}

# A port whose binding:* fields are objects, as ML2 returns them
PORT = {
    "admin_state_up": True,
    "allowed_address_pairs": [],
    "binding:host_id": "host-1",
    "binding:profile": {"local_link_information": []},
    "binding:vif_details": {"ovs_hybrid_plug": True, "port_filter": True, "datapath_type": "system"},
    "binding:vif_type": "ovs",
    "binding:vnic_type": "normal",
    "data_plane_status": None,
    "device_id": "vnic-1",
    "device_owner": "oVirt",
    "dns_assignment": [],
    "extra_dhcp_opts": [],
    "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "54d6f61d-db07-451c-9ab3-b9609b6b6f0b"}],
    "id": "d80b1a3b-4fc1-49f3-952e-1e2ab7081d8b",
    "mac_address": "56:6F:00:00:00:01",
    "name": "nic1",
    "network_id": "9d83c053-b0a4-4682-ae80-c00df269ce0a",
    "security_groups": ["f0ac4394-7e4a-4409-9701-ba8be283dbc3"],
    "status": "DOWN",
    "tenant_id": "4fd44f30292945e481c7b8a0c8908869",
}

REQUEST = PortRequest(
    network_id=PORT["network_id"],
    mac_address="56:6f:00:00:00:01",
    name="nic1",
    device_id="vnic-1",
    host_id="host-1",
)


def client(url: str, *, read_timeout: float = 30.0, auth_url: str | None = None) -> NeutronProvider:
    credentials = Credentials(auth_url, "admin", "secret", "admin") if auth_url else None
    return NeutronProvider(Endpoint(url=url, credentials=credentials, read_timeout=read_timeout))


def test_lenient_with_a_real_neutrons_network() -> None:
    with canned_server() as srv:
        srv.on("GET", "/v2.0/networks", Canned(body={"networks": [OLD_NEUTRON_NETWORK]}))
        [net] = client(srv.url).list_networks()
    assert net.id == OLD_NEUTRON_NETWORK["id"]
    assert net.mtu is None and net.port_security_enabled is None
    assert net.project_id == OLD_NEUTRON_NETWORK["tenant_id"]
    assert (net.network_type, net.physical_network, net.segmentation_id) == ("vlan", "physnet1", 101)


def test_object_valued_binding_fields_and_upper_case_mac() -> None:
    with canned_server() as srv:
        srv.on("GET", "/v2.0/ports", Canned(body={"ports": [PORT]}))
        port = client(srv.url).find_port("vnic-1")
    assert port is not None
    assert port.vif_details["ovs_hybrid_plug"] is True
    assert port.mac_address == "56:6f:00:00:00:01"
    assert port.fixed_ips == (("54d6f61d-db07-451c-9ab3-b9609b6b6f0b", "10.0.0.5"),)
    assert srv.seen[0].path.endswith("device_id=vnic-1&device_owner=oVirt")


def test_binding_refused_by_policy_creates_the_port_unbound() -> None:
    def create(body: dict) -> Canned:
        if "binding:host_id" in body["port"]:
            return Canned(
                403,
                {
                    "NeutronError": {
                        "type": "PolicyNotAuthorized",
                        "detail": "",
                        "message": "(rule:create_port:binding:host_id) is disallowed by policy",
                    }
                },
            )
        return Canned(201, {"port": {**PORT, "binding:host_id": ""}})

    with canned_server() as srv:
        srv.on("POST", "/v2.0/ports", create)
        result = client(srv.url).create_port(REQUEST)
    assert result.binding_refused
    assert result.port.host_id is None
    assert [s.body["port"].get("binding:host_id") for s in srv.seen] == ["host-1", None]


def test_security_groups_absent_empty_or_listed() -> None:
    with canned_server() as srv:
        srv.on("POST", "/v2.0/ports", Canned(201, {"port": PORT}))
        c = client(srv.url)
        for groups in (None, (), ("f0ac4394-7e4a-4409-9701-ba8be283dbc3",)):
            c.create_port(PortRequest(**{**REQUEST.__dict__, "security_groups": groups}))
    sent = [s.body["port"] for s in srv.seen]
    assert "security_groups" not in sent[0]
    assert sent[1]["security_groups"] == []
    assert sent[2]["security_groups"] == ["f0ac4394-7e4a-4409-9701-ba8be283dbc3"]


def test_provider_refusals_keep_the_providers_message() -> None:
    overlap = {
        "NeutronError": {
            "type": "InvalidInput",
            "detail": "",
            "message": "Invalid input for operation: Requested subnet overlaps.",
        }
    }
    with canned_server() as srv:
        srv.on("POST", "/v2.0/subnets", Canned(400, overlap))
        srv.on(
            "DELETE",
            "/v2.0/networks/n1",
            Canned(
                409,
                {
                    "NeutronError": {
                        "type": "NetworkInUse",
                        "detail": "",
                        "message": "One or more ports have an IP allocation",
                    }
                },
            ),
        )
        c = client(srv.url)
        with pytest.raises(BadRequest, match="Requested subnet overlaps"):
            c.create_subnet("n1", "s", "10.0.0.0/24", 4, None, [])
        with pytest.raises(Conflict, match="One or more ports"):
            c.delete_network("n1")


def test_deleting_what_is_gone_is_not_an_error() -> None:
    with canned_server() as srv:
        client(srv.url).delete_port("gone")  # the canned server answers 404 for unknown routes


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (
            Canned(500, "<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html"),
            "HTTP 500 from .* with an HTML page instead of JSON",
        ),
        (Canned(200, "{not json", "application/json"), "HTTP 200 from .* with invalid JSON"),
        (
            Canned(
                401, {"error": {"message": "The request you have made requires authentication.", "code": 401}}
            ),
            "authentication failed \\(HTTP 401\\)",
        ),
        (
            Canned(503, {"NeutronError": {"type": "ServiceUnavailable", "message": "busy", "detail": ""}}),
            "HTTP 503 from GET networks: busy",
        ),
    ],
)
def test_each_failure_cause_is_one_clear_error(reply: Canned, cause: str) -> None:
    with canned_server() as srv:
        srv.on("GET", "/v2.0/networks", reply)
        with pytest.raises(
            ProviderFailure, match=f"^Failed to communicate with the external provider: {cause}"
        ):
            client(srv.url).list_networks()


def test_401_is_an_authentication_failure() -> None:
    with canned_server() as srv:
        srv.on("GET", "/v2.0/networks", Canned(401, {"error": "no"}))
        with pytest.raises(ProviderAuthFailure):
            client(srv.url).list_networks()


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(ProviderFailure, match="cannot connect to http://127.0.0.1:.*connection refused"):
            client(f"http://127.0.0.1:{port}").list_networks()


def test_timeout() -> None:
    with canned_server() as srv:
        srv.on("GET", "/v2.0/networks", Canned(body={"networks": []}, delay=1.5))
        with pytest.raises(ProviderFailure, match="no answer from .* within 0.5 s"):
            client(srv.url, read_timeout=0.5).list_networks()


def test_auth_url_must_end_in_a_keystone_version() -> None:
    with pytest.raises(ProviderFailure, match="ends neither in /v3 nor in /v2.0"):
        client("http://127.0.0.1:1", auth_url="http://127.0.0.1:1/identity")
