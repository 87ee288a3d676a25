"""``security-group-rules``: direction, ethertype, protocol, port ranges, remote prefix or group."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, revisions
from neutrino.provider.api.resource import ResourceService, new_id, timestamp, utcnow
from neutrino.provider.api.validators import InvalidValue, to_int_or_none, to_protocol
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

PROTOCOLS = (
    "ah", "dccp", "egp", "esp", "gre", "hopopt", "icmp", "igmp", "ip", "ipip", "ipv6-encap", "ipv6-frag",
    "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts", "ipv6-route", "ospf", "pgm", "rsvp", "sctp", "tcp",
    "udp", "udplite", "vrrp",
)  # fmt: skip

#: protocol names and their numbers (neutron-lib's IP_PROTOCOL_MAP)
PROTOCOL_NUMBERS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ip": 0,
    "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59,
    "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17,
    "udplite": 136, "vrrp": 112,
}  # fmt: skip
#: protocols only IPv6 carries: refused with ethertype IPv4
IPV6_PROTOCOLS = {
    "ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts", "ipv6-route",
    "41", "44", "58", "59", "60", "43",
}  # fmt: skip


def _port_value(value: Any) -> int | None:
    """Neutron's ``convert_validate_port_value``: an integer 0..65535, else ``Invalid value for port``."""
    if value is None:
        return None
    try:
        number = to_int_or_none(value)
    except InvalidValue:
        raise errors.SecurityGroupInvalidPortValue(port=value) from None
    if number is None or not 0 <= number <= 65535:
        raise errors.SecurityGroupInvalidPortValue(port=value)
    return number


def _check_port_range(protocol: str | None, low: int | None, high: int | None) -> None:
    """Neutron's ``_validate_port_range``: ports only for the protocols that have them, both given
    and ordered; for ICMP a type (0..255) and optionally a code."""
    if low is None and high is None:
        return
    if protocol is None:
        raise errors.SecurityGroupProtocolRequiredWithPorts()
    number = int(protocol) if protocol.isdigit() else PROTOCOL_NUMBERS[protocol]
    if number in (6, 17, 33, 132, 136):
        if low == 0 or high == 0:
            raise errors.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise errors.SecurityGroupInvalidPortRange()
    elif number in (1, 58):
        for attr, field, value in (("port_range_min", "type", low), ("port_range_max", "code", high)):
            if value is not None and not 0 <= value <= 255:
                raise errors.SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=value)
        if low is None:
            raise errors.SecurityGroupMissingIcmpType(value=high)
    else:
        raise errors.SecurityGroupInvalidProtocolForPort(
            protocol=number, valid_port_protocols="DCCP, SCTP, TCP, UDP, UDPLITE"
        )


DECLARATION: common.Declaration = {
    **common.ident(),
    **common.project(),
    "description": {
        "allow_post": True,
        "allow_put": True,
        "default": "",
        "validate": {"type:string": 255},
        "is_filter": True,
    },
    "security_group_id": {
        "allow_post": True,
        "validate": {"type:uuid": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "direction": {
        "allow_post": True,
        "validate": {"type:values": ("ingress", "egress")},
        "is_filter": True,
        "is_sort_key": True,
    },
    "ethertype": {
        "allow_post": True,
        "default": "IPv4",
        "validate": {"type:values": ("IPv4", "IPv6")},
        "is_filter": True,
        "is_sort_key": True,
    },
    "protocol": {
        "allow_post": True,
        "default": None,
        "convert_to": to_protocol,
        "is_filter": True,
        "is_sort_key": True,
    },
    "port_range_min": {
        "allow_post": True,
        "default": None,
        "convert_to": _port_value,
        "is_filter": True,
        "is_sort_key": True,
    },
    "port_range_max": {
        "allow_post": True,
        "default": None,
        "convert_to": _port_value,
        "is_filter": True,
        "is_sort_key": True,
    },
    "remote_ip_prefix": {
        "allow_post": True,
        "default": None,
        "validate": {"type:subnet_or_none": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "remote_group_id": {  # Neutron does not validate it: a group no one has is a 404, not a 400
        "allow_post": True,
        "default": None,
        "validate": {"type:string_or_none": 255},
        "is_filter": True,
        "is_sort_key": True,
    },
    "remote_address_group_id": {"allow_post": False, "column": None},
    "normalized_cidr": {"allow_post": False, "column": None},
    **common.standard(),
}

_IDENTITY = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
)


def rule_record(row: Any) -> dict[str, Any]:
    """The wire form of a rule row (also embedded in its security group)."""
    m = row._mapping
    return {
        "id": m["id"],
        "project_id": m["project_id"],
        "tenant_id": m["project_id"],
        "security_group_id": m["security_group_id"],
        "description": m["description"],
        **{k: m[k] for k in _IDENTITY},
        "remote_address_group_id": None,
        "normalized_cidr": m["remote_ip_prefix"],
        "created_at": timestamp(m["created_at"]),
        "updated_at": timestamp(m["updated_at"]),
        "revision_number": m["revision_number"],
        "tags": [],
    }


def insert_rule(uow: UnitOfWork, project_id: str, group_id: str, **rule: Any) -> str:
    rule_id = new_id()
    now = utcnow()
    values = {k: rule.get(k) for k in _IDENTITY}
    uow.execute(
        sa.insert(t.security_group_rules).values(
            id=rule_id,
            project_id=project_id,
            security_group_id=group_id,
            description=rule.get("description", ""),
            created_at=now,
            updated_at=now,
            revision_number=0,
            **values,
        )
    )
    return rule_id


class SecurityGroupRuleService(ResourceService):
    collection = "security_group_rules"
    member = "security_group_rule"
    path = "security-group-rules"
    declaration = DECLARATION
    table = t.security_group_rules

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.SecurityGroupRuleNotFound(id=resource_id)

    def expand(
        self, uow: UnitOfWork, ctx: RequestContext, rows: Sequence[sa.Row[Any]]
    ) -> list[dict[str, Any]]:
        return [rule_record(r) for r in rows]

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        group = self._group(uow, ctx, data["security_group_id"])
        rule = self.normalize(data)
        if rule["remote_group_id"] is not None:
            self._group(uow, ctx, rule["remote_group_id"])
        existing = uow.one_or_none(
            sa.select(t.security_group_rules.c.id).where(
                t.security_group_rules.c.security_group_id == group.id,
                *[
                    t.security_group_rules.c[k].is_(None)
                    if rule[k] is None
                    else t.security_group_rules.c[k] == rule[k]
                    for k in _IDENTITY
                ],
            )
        )
        if existing is not None:
            raise errors.SecurityGroupRuleExists(rule_id=existing.id)
        rule_id = insert_rule(uow, group.project_id, group.id, description=data["description"], **rule)
        revisions.bump(uow, t.security_groups, [group.id])  # a group's rules are part of it
        return rule_id

    @staticmethod
    def _group(uow: UnitOfWork, ctx: RequestContext, group_id: str) -> sa.Row[Any]:
        stmt = sa.select(t.security_groups).where(t.security_groups.c.id == group_id)
        if not ctx.is_admin:
            stmt = stmt.where(t.security_groups.c.project_id == ctx.project_id)
        row = uow.one_or_none(stmt)
        if row is None:
            raise errors.SecurityGroupNotFound(id=group_id)
        return row

    @staticmethod
    def normalize(data: dict[str, Any]) -> dict[str, Any]:
        """Neutron's rule checks, in Neutron's order; returns the rule's identifying values, normalized."""
        rule = {k: data[k] for k in _IDENTITY}
        protocol = rule["protocol"]
        if protocol == "any":
            protocol = rule["protocol"] = None
        if protocol is not None and not protocol.isdigit() and protocol not in PROTOCOLS:
            raise errors.SecurityGroupRuleInvalidProtocol(protocol=protocol, values=list(PROTOCOLS))
        if rule["ethertype"] == "IPv6":  # the legacy IPv6 ICMP names and number, made canonical
            if protocol in ("icmp", "icmpv6"):
                protocol = rule["protocol"] = "ipv6-icmp"
            elif protocol == "1":
                protocol = rule["protocol"] = "58"
        if (rule["port_range_min"], rule["port_range_max"]) == (1, 65535):
            rule["port_range_min"] = rule["port_range_max"] = None  # the whole range: no range
        _check_port_range(protocol, rule["port_range_min"], rule["port_range_max"])
        if rule["remote_ip_prefix"] is not None:
            net = ipaddress.ip_network(rule["remote_ip_prefix"], strict=False)
            if f"IPv{net.version}" != rule["ethertype"]:
                raise errors.SecurityGroupRuleParameterConflict(
                    ethertype=rule["ethertype"], cidr=rule["remote_ip_prefix"]
                )
            rule["remote_ip_prefix"] = str(net)
        if protocol in IPV6_PROTOCOLS and rule["ethertype"] == "IPv4":
            raise errors.SecurityGroupEthertypeConflictWithProtocol(ethertype="IPv4", protocol=protocol)
        if rule["remote_ip_prefix"] is not None and rule["remote_group_id"] is not None:
            raise errors.SecurityGroupRemoteGroupAndRemoteIpPrefix()
        return rule

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        self.touch(uow, resource_id, data)

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        row = self.get_row(uow, ctx, resource_id)
        uow.execute(sa.delete(t.security_group_rules).where(t.security_group_rules.c.id == resource_id))
        revisions.bump(uow, t.security_groups, [row.security_group_id])
