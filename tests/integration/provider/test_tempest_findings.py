"""Where the provider differed from Neutron until tempest (tests/e2e/provider/test_tempest.py) said so: one
test per difference, over plain HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider


def _group(api: Api, **body: object) -> dict:
    return api.post("security-groups", "security_group", name=unique("sg"), **body)


def _rule(api: Api, group_id: str, **body: object):  # type: ignore[no-untyped-def]
    body = {"security_group_id": group_id, "direction": "ingress", **body}
    return api.c.post("/v2.0/security-group-rules", json={"security_group_rule": body})


def test_admin_creates_and_updates_an_external_network(api: Api) -> None:
    net = api.network(**{"router:external": True})
    assert net["router:external"] is True
    plain = api.network()
    answer = api.ok(api.c.put(f"/v2.0/networks/{plain['id']}", json={"network": {"router:external": True}}))
    assert answer["network"]["router:external"] is True


def test_no_group_is_named_default_by_create_or_rename(api: Api) -> None:
    group = _group(api)
    for name in ("default", "Default"):
        api.error(
            api.c.put(f"/v2.0/security-groups/{group['id']}", json={"security_group": {"name": name}}),
            409,
            "SecurityGroupDefaultAlreadyExists",
        )
        api.error(
            api.c.post("/v2.0/security-groups", json={"security_group": {"name": name}}),
            409,
            "SecurityGroupDefaultAlreadyExists",
        )
    default = api.ok(api.c.get("/v2.0/security-groups", params={"name": "default"}))["security_groups"][0]
    api.error(
        api.c.put(f"/v2.0/security-groups/{default['id']}", json={"security_group": {"name": "x"}}),
        409,
        "SecurityGroupCannotUpdateDefault",
    )
    assert (
        api.ok(api.c.get(f"/v2.0/security-groups/{group['id']}"))["security_group"]["name"] == group["name"]
    )


def test_bulk_security_group_create(api: Api) -> None:
    names = [unique("sg"), unique("sg")]
    answer = api.ok(
        api.c.post("/v2.0/security-groups", json={"security_groups": [{"name": n} for n in names]}), 201
    )
    assert [g["name"] for g in answer["security_groups"]] == names
    assert all(len(g["security_group_rules"]) == 2 for g in answer["security_groups"])
    # Neutron also takes each item wrapped in its member name (neutron-tempest-plugin sends them so)
    wrapped = [unique("sg"), unique("sg")]
    answer = api.ok(
        api.c.post(
            "/v2.0/security-groups",
            json={"security_groups": [{"security_group": {"name": n, "stateful": False}} for n in wrapped]},
        ),
        201,
    )
    assert [(g["name"], g["stateful"]) for g in answer["security_groups"]] == [(n, False) for n in wrapped]


def test_rule_naming_an_unknown_remote_group_is_not_found(api: Api) -> None:
    group = _group(api)
    missing = str(uuid.uuid4())
    message = api.error(_rule(api, group["id"], remote_group_id=missing), 404, "SecurityGroupNotFound")
    assert missing in message


def test_bad_port_ranges_answer_neutrons_messages(api: Api) -> None:
    group = _group(api)
    cases = [
        ("tcp", -16, 80, "Invalid value for port -16"),
        ("tcp", 80, 79, "port_range_min must be <= port_range_max"),
        ("tcp", 80, 65536, "Invalid value for port 65536"),
        ("tcp", None, 6, "port_range_min must be <= port_range_max"),
        ("tcp", 0, 6, "Invalid value for port 0"),
        ("icmp", 1, 256, "Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255."),
        ("icmp", -1, 25, "Invalid value for port -1"),
        (
            "icmp",
            None,
            6,
            "ICMP code (port-range-max) 6 is provided but ICMP type (port-range-min) is missing.",
        ),
        ("icmp", 300, 1, "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."),
        ("gre", 10, 20, "Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP"),
    ]
    for protocol, low, high, text in cases:
        answer = _rule(api, group["id"], protocol=protocol, port_range_min=low, port_range_max=high)
        assert text in api.error(answer, 400), (protocol, low, high)
    whole = api.ok(_rule(api, group["id"], protocol="tcp", port_range_min=1, port_range_max=65535), 201)
    assert (
        whole["security_group_rule"]["port_range_min"],
        whole["security_group_rule"]["port_range_max"],
    ) == (
        None,
        None,
    )


def test_ipv6_protocols_need_ethertype_ipv6(api: Api) -> None:
    group = _group(api)
    for protocol in ("ipv6-icmp", "icmpv6", "ipv6-frag", "58", "43"):
        message = api.error(
            _rule(api, group["id"], protocol=protocol, ethertype="IPv4"),
            400,
            "SecurityGroupEthertypeConflictWithProtocol",
        )
        assert message == f"Invalid ethertype IPv4 for protocol {protocol}."
    # IPv6 spells ICMP one way: legacy names and the number 1 become ipv6-icmp / 58
    legacy = api.ok(_rule(api, group["id"], protocol="icmpv6", ethertype="IPv6"), 201)
    assert legacy["security_group_rule"]["protocol"] == "ipv6-icmp"
    number = api.ok(_rule(api, group["id"], protocol="1", ethertype="IPv6", direction="egress"), 201)
    assert number["security_group_rule"]["protocol"] == "58"


def test_stateful_and_stateless_groups_do_not_mix_on_a_port(api: Api) -> None:
    net = api.network()
    stateful, stateless = _group(api), _group(api, stateful=False)
    answer = api.c.post(
        "/v2.0/ports",
        json={"port": {"network_id": net["id"], "security_groups": [stateful["id"], stateless["id"]]}},
    )
    assert "Cannot apply both stateful and stateless" in api.error(answer, 409, "SecurityGroupConflict")
    port = api.port(net["id"], security_groups=[stateful["id"]])
    answer = api.c.put(
        f"/v2.0/ports/{port['id']}", json={"port": {"security_groups": [stateful["id"], stateless["id"]]}}
    )
    api.error(answer, 409, "SecurityGroupConflict")
    # a group some port uses keeps its statefulness
    answer = api.c.put(
        f"/v2.0/security-groups/{stateful['id']}", json={"security_group": {"stateful": False}}
    )
    api.error(answer, 409, "SecurityGroupInUse")
    unused = api.c.put(
        f"/v2.0/security-groups/{stateless['id']}", json={"security_group": {"stateful": True}}
    )
    assert api.ok(unused)["security_group"]["stateful"] is True


def test_deleting_an_auto_address_subnet_takes_its_addresses_from_the_ports(api: Api) -> None:
    for mode in ("slaac", "dhcpv6-stateless"):
        net = api.network()
        v4 = api.subnet(net["id"], "10.77.0.0/24")
        v6 = api.subnet(net["id"], "2001:db8:77::/64", ipv6_address_mode=mode, ipv6_ra_mode=mode)
        port = api.port(net["id"])
        assert {ip["subnet_id"] for ip in port["fixed_ips"]} == {v4["id"], v6["id"]}
        api.ok(api.c.delete(f"/v2.0/subnets/{v6['id']}"), 204)
        after = api.ok(api.c.get(f"/v2.0/ports/{port['id']}"))["port"]
        assert [ip["subnet_id"] for ip in after["fixed_ips"]] == [v4["id"]]
        assert after["revision_number"] > port["revision_number"]
        # a stateful subnet still refuses while ports use it
        api.error(api.c.delete(f"/v2.0/subnets/{v4['id']}"), 409, "SubnetInUse")


def test_a_member_lists_no_agents(shared_provider: RunningProvider, api: Api) -> None:
    report = {"agent_report": {"host": unique("h"), "agent_type": "Linux bridge agent"}}
    agent_id = api.ok(api.c.post("/v2.0/agent-reports", json=report))["agent"]["id"]
    name = unique("erin")
    shared_provider.add_user(name, "pw", name + "-p")
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as client:
        member = Api(client)
        assert member.ok(member.c.get("/v2.0/agents")) == {"agents": []}
        member.error(member.c.get(f"/v2.0/agents/{agent_id}"), 404, "AgentNotFound")


def test_a_port_update_adds_a_second_address_from_the_same_subnet(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.78.0.0/24")
    port = api.port(net["id"])
    first = port["fixed_ips"][0]
    answer = api.c.put(
        f"/v2.0/ports/{port['id']}", json={"port": {"fixed_ips": [first, {"subnet_id": sub["id"]}]}}
    )
    fixed = api.ok(answer)["port"]["fixed_ips"]
    assert len(fixed) == 2 and first in fixed and {ip["subnet_id"] for ip in fixed} == {sub["id"]}
    # and giving the same list again changes nothing
    again = api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"fixed_ips": fixed}}))["port"]
    assert sorted(ip["ip_address"] for ip in again["fixed_ips"]) == sorted(ip["ip_address"] for ip in fixed)


def test_an_address_given_in_another_spelling_is_still_the_ports_own(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "2001:db8:78::/64")
    port = api.port(net["id"])
    (first,) = port["fixed_ips"]
    upper = {"subnet_id": sub["id"], "ip_address": first["ip_address"].upper()}
    answer = api.c.put(
        f"/v2.0/ports/{port['id']}", json={"port": {"fixed_ips": [upper, {"subnet_id": sub["id"]}]}}
    )
    fixed = api.ok(answer)["port"]["fixed_ips"]
    # the bare entry is a second address, not the first one again under its other spelling
    assert len(fixed) == 2 and first in fixed and len({ip["ip_address"] for ip in fixed}) == 2


def test_subnets_filter_on_their_networks_shared(api: Api) -> None:
    shared = api.network(shared=True)
    private = api.network()
    in_shared = api.subnet(shared["id"], "10.79.0.0/24")
    in_private = api.subnet(private["id"], "10.79.1.0/24")
    on = {s["id"] for s in api.ok(api.c.get("/v2.0/subnets", params={"shared": "true"}))["subnets"]}
    off = {s["id"] for s in api.ok(api.c.get("/v2.0/subnets", params={"shared": "False"}))["subnets"]}
    assert in_shared["id"] in on and in_shared["id"] not in off
    assert in_private["id"] in off and in_private["id"] not in on
    assert "shared" in api.error(api.c.get("/v2.0/subnets", params={"shared": "maybe"}), 400)


def test_keystone_lists_and_shows_the_default_domain(shared_provider: RunningProvider) -> None:
    with shared_provider.admin() as admin:
        listed = admin.get("/v3/domains", params={"name": "Default"})
        assert listed.status_code == 200, listed.text
        assert [(d["id"], d["name"], d["enabled"]) for d in listed.json()["domains"]] == [
            ("default", "Default", True)
        ]
        assert admin.get("/v3/domains", params={"name": "Other"}).json()["domains"] == []
        assert admin.get("/v3/domains/default").json()["domain"]["name"] == "Default"
        missing = admin.get("/v3/domains/other")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == 404
    name = unique("frank")
    shared_provider.add_user(name, "pw", name + "-p")
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as member:
        assert member.get("/v3/domains").status_code == 403
        assert member.get("/v3/domains/default").json()["domain"]["id"] == "default"


def test_subnets_and_router_interfaces_revise_their_parent(api: Api) -> None:
    """neutron-tempest-plugin's revision tests: a subnet made or deleted is a change of its network, an
    interface added or removed a change of its router (Neutron's ``revises_on_change``)."""
    from tests.integration.provider import l3_helpers

    def revision(path: str, key: str) -> int:
        return int(api.ok(api.c.get(path))[key]["revision_number"])

    net = api.network()
    path = f"/v2.0/networks/{net['id']}"
    subnet = api.subnet(net["id"], "10.34.0.0/24")
    made = revision(path, "network")
    assert made > net["revision_number"]
    router = l3_helpers.router(api)
    rpath = f"/v2.0/routers/{router['id']}"
    l3_helpers.add_interface(api, router["id"], subnet_id=subnet["id"])
    added = revision(rpath, "router")
    assert added > router["revision_number"]
    l3_helpers.remove_interface(api, router["id"], subnet_id=subnet["id"])
    assert revision(rpath, "router") > added
    api.ok(api.c.delete(f"/v2.0/subnets/{subnet['id']}"), 204)
    assert revision(path, "network") > made
