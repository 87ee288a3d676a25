"""Neutron's extra_dhcp_opt, dns-integration and dns-domain-ports on the provider API (issue 18), on
SQLite and PostgreSQL: create, Neutron's merge-on-update (a null value removes an option), the
dns_assignment, filters, and each bad value a 400 naming the field that changes nothing."""

from __future__ import annotations

from typing import Any

from tests.integration.provider.conftest import Api, unique
from tests.integration.provider.server import RunningProvider


def _port(api: Api, port_id: str) -> dict[str, Any]:
    return api.ok(api.c.get(f"/v2.0/ports/{port_id}"))["port"]


def _put(api: Api, port_id: str, **body: Any) -> dict[str, Any]:
    return api.ok(api.c.put(f"/v2.0/ports/{port_id}", json={"port": body}))["port"]


def test_the_extensions_are_listed(api: Api) -> None:
    listed = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {"extra_dhcp_opt", "dns-integration", "dns-domain-ports"} <= listed


def test_extra_dhcp_opts_create_update_remove(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.91.0.0/24")
    created = api.port(
        net["id"],
        extra_dhcp_opts=[
            {"opt_name": "ntp-server", "opt_value": "10.91.0.5"},
            {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4},
            {"opt_name": "dns-server", "opt_value": "2001:db8::53", "ip_version": "6"},
            {"opt_name": "tftp-server", "opt_value": None},  # a null value on create: nothing stored
        ],
    )
    wanted = [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "10.91.0.5", "ip_version": 4},
        {"opt_name": "dns-server", "opt_value": "2001:db8::53", "ip_version": 6},
    ]
    assert created["extra_dhcp_opts"] == wanted
    assert _port(api, created["id"])["extra_dhcp_opts"] == wanted
    # a PUT merges: changed, added, removed (null), the rest kept
    updated = _put(
        api,
        created["id"],
        extra_dhcp_opts=[
            {"opt_name": "ntp-server", "opt_value": "10.91.0.6"},
            {"opt_name": "classless-static-route", "opt_value": "10.200.0.0/16,10.91.0.1"},
            {"opt_name": "bootfile-name", "opt_value": None},
        ],
    )
    assert updated["extra_dhcp_opts"] == [
        {"opt_name": "classless-static-route", "opt_value": "10.200.0.0/16,10.91.0.1", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "10.91.0.6", "ip_version": 4},
        {"opt_name": "dns-server", "opt_value": "2001:db8::53", "ip_version": 6},
    ]
    assert updated["revision_number"] == created["revision_number"] + 1
    same = _put(api, created["id"], extra_dhcp_opts=[])  # nothing named: nothing changes
    assert same["extra_dhcp_opts"] == updated["extra_dhcp_opts"]
    assert same["revision_number"] == updated["revision_number"]
    blank = _put(api, created["id"], extra_dhcp_opts=[{"opt_name": "router", "opt_value": ""}])
    assert {"opt_name": "router", "opt_value": "", "ip_version": 4} in blank["extra_dhcp_opts"]
    plain = api.port(net["id"])
    assert plain["extra_dhcp_opts"] == []
    api.ok(api.c.delete(f"/v2.0/ports/{created['id']}"), 204)


def test_bad_extra_dhcp_opts_are_refused_and_change_nothing(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.92.0.0/24")
    port = api.port(net["id"], extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.92.0.5"}])
    bad = [
        ([{"opt_name": "no-such-option", "opt_value": "1"}], "is not a known IPv4 DHCP option"),
        ([{"opt_name": "²", "opt_value": "1"}], "is not a known IPv4 DHCP option"),  # was a 500
        ([{"opt_name": "ntp-server", "opt_value": "not-an-address"}], "is not an IPv4 address"),
        ([{"opt_name": "classless-static-route", "opt_value": "10.1.0.0/16"}], "pairs"),
        ([{"opt_name": "ntp-server"}], "Expected keys"),
        ([{"opt_name": "ntp-server", "opt_value": "10.0.0.1", "colour": "red"}], "Unexpected keys"),
        ([{"opt_name": "ntp-server", "opt_value": "10.0.0.1", "ip_version": 5}], "is not in [4, 6]"),
        ([{"opt_name": "ntp-server", "opt_value": ""}], "must not be empty"),
        ([{"opt_name": "", "opt_value": "x"}], "Blank strings are not permitted"),
        ([{"opt_name": "300", "opt_value": "x"}], "is not between 1 and 254"),
        ([{"opt_name": "bootfile-name", "opt_value": "a\nb"}], "not printable"),
        (
            [
                {"opt_name": "ntp-server", "opt_value": "10.0.0.1"},
                {"opt_name": "ntp-server", "opt_value": "10.0.0.2"},
            ],
            "Duplicate option",
        ),
        ("ntp-server", "is not a list"),
    ]
    for value, reason in bad:
        for response in (
            api.c.post("/v2.0/ports", json={"port": {"network_id": net["id"], "extra_dhcp_opts": value}}),
            api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"extra_dhcp_opts": value, "name": "x"}}),
        ):
            message = api.error(response, 400, "HTTPBadRequest")
            assert message.startswith("Invalid input for extra_dhcp_opts. Reason: ") and reason in message, (
                message
            )
    after = _port(api, port["id"])
    assert after["name"] == "" and after["revision_number"] == port["revision_number"]
    assert after["extra_dhcp_opts"] == port["extra_dhcp_opts"]
    assert [p["id"] for p in api.ok(api.c.get("/v2.0/ports", params={"network_id": net["id"]}))["ports"]] == [
        port["id"]
    ]


def test_dns_name_domain_and_assignment(api: Api) -> None:
    net = api.network(dns_domain="example.org")
    assert net["dns_domain"] == "example.org."  # stored with its trailing dot, as Neutron's
    api.subnet(net["id"], "10.93.0.0/24")
    api.subnet(net["id"], "2001:db8:93::/64")
    plain = api.port(net["id"])
    v4 = next(ip["ip_address"] for ip in plain["fixed_ips"] if ":" not in ip["ip_address"])
    assert plain["dns_name"] == "" and plain["dns_domain"] == ""
    first = plain["dns_assignment"][0]
    assert first == {
        "hostname": "host-" + v4.replace(".", "-"),
        "ip_address": v4,
        "fqdn": "host-" + v4.replace(".", "-") + ".openstacklocal.",
    }
    assert len(plain["dns_assignment"]) == 2 and "-" in plain["dns_assignment"][1]["hostname"]
    named = api.port(net["id"], dns_name="Web-1", dns_domain="corp.example")
    assert named["dns_name"] == "web-1" and named["dns_domain"] == "corp.example."
    assert {a["hostname"] for a in named["dns_assignment"]} == {"web-1"}
    assert {a["fqdn"] for a in named["dns_assignment"]} == {"web-1.openstacklocal."}
    assert _port(api, named["id"])["dns_assignment"] == named["dns_assignment"]
    found = api.ok(api.c.get("/v2.0/ports", params={"dns_name": "web-1", "network_id": net["id"]}))["ports"]
    assert [p["id"] for p in found] == [named["id"]]
    renamed = _put(api, named["id"], dns_name="db", dns_domain="")
    assert renamed["dns_name"] == "db" and renamed["dns_domain"] == ""
    assert {a["hostname"] for a in renamed["dns_assignment"]} == {"db"}
    listed = api.ok(api.c.get("/v2.0/networks", params={"dns_domain": "example.org."}))["networks"]
    assert net["id"] in [n["id"] for n in listed]
    moved = api.ok(api.c.put(f"/v2.0/networks/{net['id']}", json={"network": {"dns_domain": "other.test."}}))
    assert moved["network"]["dns_domain"] == "other.test."


def test_bad_dns_names_are_refused_and_change_nothing(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.94.0.0/24")
    port = api.port(net["id"], dns_name="keep")
    for value, reason in (
        ("-bad", "must not start or end with a hyphen"),
        ("bad_name", "must be 1-63 characters long"),
        ("a" * 64, "must be 1-63 characters long"),
        ("a..b", "Encountered an empty component"),
        ("host.123", "TLD '123' must not be all numeric"),
        (7, "is not a valid string"),
    ):
        for response in (
            api.c.post("/v2.0/ports", json={"port": {"network_id": net["id"], "dns_name": value}}),
            api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"dns_name": value}}),
        ):
            message = api.error(response, 400, "HTTPBadRequest")
            assert message.startswith("Invalid input for dns_name. Reason: ") and reason in message, message
    for body in ({"dns_domain": "bad_domain"}, {"dns_domain": "x" * 260}):
        message = api.error(api.c.post("/v2.0/networks", json={"network": body}), 400, "HTTPBadRequest")
        assert message.startswith("Invalid input for dns_domain. Reason: ")
        message = api.error(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": body}), 400)
        assert message.startswith("Invalid input for dns_domain. Reason: ")
    after = _port(api, port["id"])
    assert after["dns_name"] == "keep" and after["revision_number"] == port["revision_number"]


def test_a_member_sets_its_own_ports_options(api: Api, shared_provider: RunningProvider) -> None:
    name = unique("dhcp")
    shared_provider.add_user(name, "pw", name + "-p")
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as c:
        member = Api(c)
        net = member.network(dns_domain="mine.test")
        member.subnet(net["id"], "10.95.0.0/24")
        port = member.port(
            net["id"], dns_name="vm1", extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": "10.95.0.9"}]
        )
        assert port["dns_assignment"][0]["hostname"] == "vm1"
        changed = _put(member, port["id"], extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": None}])
        assert changed["extra_dhcp_opts"] == []
    other = api.port(api.network()["id"], extra_dhcp_opts=[{"opt_name": "42", "opt_value": "10.0.0.1"}])
    with shared_provider.client(shared_provider.token(name, "pw", name + "-p")) as c:
        api_member = Api(c)
        api_member.error(c.get(f"/v2.0/ports/{other['id']}"), 404, "PortNotFound")
        denied = c.put(f"/v2.0/ports/{other['id']}", json={"port": {"extra_dhcp_opts": []}})
        assert denied.status_code == 404
