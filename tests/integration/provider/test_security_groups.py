from __future__ import annotations

from typing import Any

from tests.integration.provider.conftest import Api, unique


def _rules(group: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"], r["remote_group_id"])
        for r in group["security_group_rules"]
    }


def test_default_group_has_neutron_default_rules(api: Api) -> None:
    groups = api.ok(api.c.get("/v2.0/security-groups", params={"name": "default"}))["security_groups"]
    mine = [g for g in groups if g["project_id"] == groups[0]["project_id"]]
    assert len(mine) == 1
    default = mine[0]
    assert _rules(default) == {
        ("egress", "IPv4", None, None, None),
        ("egress", "IPv6", None, None, None),
        ("ingress", "IPv4", None, None, default["id"]),
        ("ingress", "IPv6", None, None, default["id"]),
    }
    api.error(api.c.post("/v2.0/security-groups", json={"security_group": {"name": "default"}}), 409)


def test_group_and_rule_lifecycle(api: Api) -> None:
    name = unique("sg")
    group = api.post("security-groups", "security_group", name=name, description="web servers")
    assert group["description"] == "web servers" and group["stateful"] is True
    assert _rules(group) == {("egress", "IPv4", None, None, None), ("egress", "IPv6", None, None, None)}

    rule = api.post(
        "security-group-rules",
        "security_group_rule",
        security_group_id=group["id"],
        direction="ingress",
        protocol="TCP",
        port_range_min=80,
        port_range_max=443,
        remote_ip_prefix="192.168.1.7/24",
    )
    assert rule["protocol"] == "tcp" and rule["remote_ip_prefix"] == "192.168.1.0/24"
    assert rule["ethertype"] == "IPv4" and rule["port_range_min"] == 80 and rule["port_range_max"] == 443
    again = {"security_group_rule": {k: rule[k] for k in ("security_group_id", "direction", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")}}  # fmt: skip
    message = api.error(api.c.post("/v2.0/security-group-rules", json=again), 409, "SecurityGroupRuleExists")
    assert rule["id"] in message

    icmp = api.post("security-group-rules", "security_group_rule", security_group_id=group["id"], direction="ingress", protocol="icmp", port_range_min=8, port_range_max=0)  # fmt: skip
    assert icmp["port_range_min"] == 8
    remote = api.post("security-group-rules", "security_group_rule", security_group_id=group["id"], direction="ingress", ethertype="IPv6", remote_group_id=group["id"])  # fmt: skip
    assert remote["remote_group_id"] == group["id"]

    shown = api.ok(api.c.get(f"/v2.0/security-groups/{group['id']}"))["security_group"]
    assert len(shown["security_group_rules"]) == 5
    listed = api.ok(api.c.get("/v2.0/security-group-rules", params={"security_group_id": group["id"], "direction": "ingress"}))  # fmt: skip
    assert len(listed["security_group_rules"]) == 3

    renamed = api.ok(
        api.c.put(f"/v2.0/security-groups/{group['id']}", json={"security_group": {"name": name + "x"}})
    )
    assert renamed["security_group"]["name"] == name + "x"
    api.ok(api.c.delete(f"/v2.0/security-group-rules/{rule['id']}"), 204)
    api.error(api.c.get(f"/v2.0/security-group-rules/{rule['id']}"), 404, "SecurityGroupRuleNotFound")
    api.ok(api.c.delete(f"/v2.0/security-groups/{group['id']}"), 204)
    api.error(api.c.get(f"/v2.0/security-groups/{group['id']}"), 404, "SecurityGroupNotFound")


def test_rule_validation(api: Api) -> None:
    group = api.post("security-groups", "security_group", name=unique("sg"))

    def create(**rule: Any) -> Any:
        rule.setdefault("direction", "ingress")
        return api.c.post("/v2.0/security-group-rules", json={"security_group_rule": {"security_group_id": group["id"], **rule}})  # fmt: skip

    api.error(create(port_range_min=22, port_range_max=22), 400, "SecurityGroupProtocolRequiredWithPorts")
    api.error(
        create(protocol="tcp", port_range_min=30, port_range_max=20), 400, "SecurityGroupInvalidPortRange"
    )
    api.error(create(protocol="bogus"), 400, "SecurityGroupRuleInvalidProtocol")
    api.error(create(protocol="icmp", port_range_min=300), 400)
    api.error(create(remote_ip_prefix="10.0.0.0/8", remote_group_id=group["id"]), 400, "SecurityGroupRemoteGroupAndRemoteIpPrefix")  # fmt: skip
    api.error(
        create(ethertype="IPv6", remote_ip_prefix="10.0.0.0/8"), 400, "SecurityGroupRuleParameterConflict"
    )
    assert "direction" in api.error(create(direction="sideways"), 400)
    api.error(create(remote_group_id="11111111-2222-3333-4444-555555555555"), 404, "SecurityGroupNotFound")


def test_group_in_use(api: Api) -> None:
    group = api.post("security-groups", "security_group", name=unique("sg"))
    net = api.network()
    port = api.port(net["id"], security_groups=[group["id"]])
    api.error(api.c.delete(f"/v2.0/security-groups/{group['id']}"), 409, "SecurityGroupInUse")
    api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
    api.ok(api.c.delete(f"/v2.0/security-groups/{group['id']}"), 204)
