"""Security groups as OVN port groups and ACLs, as Neutron's OVN driver writes them.

Each group is a Port_Group ``pg_<id>`` holding its ports; each rule an ACL on it (priority 1002,
``allow-related`` for stateful groups, ``allow-stateless`` otherwise). Every port with port security
is also in ``neutron_pg_drop``, whose priority-1001 ACLs drop the IP traffic no rule allowed. A
router's ports are in no group (OVN filters at the VMs' ports; a floating IP's port has no LSP). A rule's
remote group becomes ``$pg_<id>_ip4`` / ``_ip6``, the address sets OVN keeps for each port group.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from neutrino.provider.api.l3 import L3_OWNERS
from neutrino.provider.backends.ovn import model as m
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

RULE_PRIORITY = 1002
DROP_PRIORITY = 1001
PORT_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "sctp": "sctp", "132": "sctp"}
ICMP_PROTOCOLS = {"icmp", "1", "icmpv6", "ipv6-icmp", "58"}

DROP_ACLS = frozenset(
    {
        m.Acl("from-lport", DROP_PRIORITY, f"inport == @{m.DROP_GROUP} && ip", "drop"),
        m.Acl("to-lport", DROP_PRIORITY, f"outport == @{m.DROP_GROUP} && ip", "drop"),
    }
)


def acl_match(rule: Any, group_id: str) -> str:
    """The OVN match of one rule of a group (Neutron's ``acl_*`` helpers, in one function)."""
    ingress = rule.direction == "ingress"
    ip = "ip4" if rule.ethertype == "IPv4" else "ip6"
    parts = [f"{'outport' if ingress else 'inport'} == @{m.port_group_name(group_id)}", ip]
    remote = "src" if ingress else "dst"
    if rule.remote_ip_prefix:
        parts.append(f"{ip}.{remote} == {rule.remote_ip_prefix}")
    elif rule.remote_group_id:
        parts.append(f"{ip}.{remote} == ${m.port_group_name(rule.remote_group_id)}_{ip}")
    protocol = rule.protocol
    low, high = rule.port_range_min, rule.port_range_max
    if protocol in PORT_PROTOCOLS:
        name = PORT_PROTOCOLS[protocol]
        parts.append(name)
        if low is not None and (high is None or high == low):
            parts.append(f"{name}.dst == {low}")
        elif low is not None:
            parts.append(f"{name}.dst >= {low} && {name}.dst <= {high}")
    elif protocol in ICMP_PROTOCOLS:
        icmp = "icmp4" if ip == "ip4" else "icmp6"
        parts.append(icmp)
        if low is not None:
            parts.append(f"{icmp}.type == {low}")
            if high is not None:
                parts.append(f"{icmp}.code == {high}")
    elif protocol is not None:
        parts.append(f"ip.proto == {protocol}" if ip == "ip4" else f"ip6.nxt == {protocol}")
    return " && ".join(parts)


def load(uow: UnitOfWork, ids: Collection[str] | None, members: bool = True) -> dict[str, m.PortGroup]:
    """The port groups of these security groups (and ``neutron_pg_drop`` if named), None for all;
    without ``members``, each with no ports (its ACLs only)."""
    out: dict[str, m.PortGroup] = {}
    sg = t.security_groups
    stmt = sa.select(sg.c.id, sg.c.stateful)
    if ids is not None:
        stmt = stmt.where(sg.c.id.in_([i for i in ids if i != m.DROP_GROUP]))
    groups = {r.id: r.stateful for r in uow.rows(stmt)}
    ports: dict[str, set[str]] = {g: set() for g in groups}
    acls: dict[str, set[m.Acl]] = {g: set() for g in groups}
    psg, rules = t.port_security_groups.c, t.security_group_rules
    p = t.ports.c
    if groups and members:
        for row in uow.rows(
            sa.select(psg.port_id, psg.security_group_id)
            .join(t.ports, p.id == psg.port_id)
            .where(psg.security_group_id.in_(groups), p.device_owner.not_in(L3_OWNERS))
        ):
            ports[row.security_group_id].add(row.port_id)
    if groups:
        for rule in uow.rows(sa.select(rules).where(rules.c.security_group_id.in_(groups))):
            action = "allow-related" if groups[rule.security_group_id] else "allow-stateless"
            direction = "to-lport" if rule.direction == "ingress" else "from-lport"
            acls[rule.security_group_id].add(
                m.Acl(direction, RULE_PRIORITY, acl_match(rule, rule.security_group_id), action, rule.id)
            )
    for group_id in groups:
        out[group_id] = m.PortGroup(group_id, frozenset(ports[group_id]), frozenset(acls[group_id]))
    if ids is None or m.DROP_GROUP in ids:
        secured: frozenset[str] = frozenset()
        if members:
            secured = frozenset(
                r.id
                for r in uow.rows(
                    sa.select(p.id).where(p.port_security_enabled.is_(True), p.device_owner.not_in(L3_OWNERS))
                )
            )
        out[m.DROP_GROUP] = m.PortGroup(m.DROP_GROUP, secured, DROP_ACLS)
    return out


def of_ports(uow: UnitOfWork, port_ids: Collection[str]) -> set[str]:
    """The security groups these ports are in, by the database."""
    psg = t.port_security_groups.c
    return {r.security_group_id for r in uow.rows_among((psg.security_group_id,), psg.port_id, port_ids)}
