"""``allowed-address-pairs``: addresses (or CIDRs) a port's guest may use besides its fixed IPs,
each with a MAC (the port's when the pair names none) — a keepalived VIP, a container's address.

Checked as neutron-lib checks them (at most :data:`MAX_PAIRS`, Neutron's default
``max_allowed_address_pair``; ``ip_address`` required, an address or a CIDR, IPv4 CIDRs written
with their network address; a MAC when given; no other keys; no pair twice, also once the
port's MAC is filled in). A port with port security off has none (409
``AddressPairAndPortSecurityRequired``): the datapath would not filter it anyway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

MAX_PAIRS = 10
ATTRIBUTE = "allowed_address_pairs"
_KEYS = {"ip_address", "mac_address"}


def _address_problem(value: Any) -> str | None:
    """neutron-lib's ``validate_subnet`` for a CIDR, ``validate_ip_address`` for an address."""
    text = str(value)
    if "/" not in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return f"'{value}' is not a valid IP address"
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"'{value}' is not a valid IP subnet"
    if net.version == 4 and str(net) != text:
        return f"'{value}' isn't a recognized IP subnet cidr, '{net}' is recommended"
    return None


def convert(value: Any) -> list[dict[str, str]]:
    """The pairs of a port's POST or PUT: validated, MACs lower-cased, ``mac_address`` left out
    where the client left it out (the port's MAC is filled in when stored)."""
    from neutrino.provider.api.validators import VALIDATORS

    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.HTTPBadRequest(msg="Allowed address pairs must be a list.")
    if len(value) > MAX_PAIRS:
        raise errors.AllowedAddressPairExhausted(quota=MAX_PAIRS)
    seen: set[tuple[str | None, str]] = set()
    pairs = []
    for pair in value:
        if not isinstance(pair, dict):
            raise errors.InvalidAttribute(attr=ATTRIBUTE, reason=f"'{pair}' is not a dictionary")
        mac = pair.get("mac_address")
        if "mac_address" in pair and (problem := VALIDATORS["type:mac_address"](mac, None)) is not None:
            raise errors.HTTPBadRequest(msg=problem)
        if "ip_address" not in pair:
            raise errors.AllowedAddressPairsMissingIP()
        ip = pair["ip_address"]
        if (mac, ip) in seen:
            raise errors.DuplicateAddressPairInRequest(mac_address=mac, ip_address=ip)
        seen.add((mac, ip))
        if unknown := set(pair) - _KEYS:
            raise errors.HTTPBadRequest(msg=f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        if (problem := _address_problem(ip)) is not None:
            raise errors.HTTPBadRequest(msg=problem)
        converted = {"ip_address": str(ip)}
        if mac is not None:
            converted["mac_address"] = str(mac).lower()
        pairs.append(converted)
    return pairs


def store(
    uow: UnitOfWork, port_id: str, port_mac: str, pairs: Sequence[dict[str, str]], *, replace: bool = True
) -> list[dict[str, str]]:
    """Replace the port's pairs by ``pairs`` (a pair without a MAC takes ``port_mac``); ``replace=False``
    for a new port, which has none to delete. Returns them as a port's record holds them (``ports.CHILDREN``)."""
    if replace:
        uow.execute(
            sa.delete(t.port_allowed_address_pairs).where(t.port_allowed_address_pairs.c.port_id == port_id)
        )
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for pair in pairs:
        key = (pair.get("mac_address") or port_mac, pair["ip_address"])
        if key in rows:  # {ip} and {ip, the port's own MAC}: one pair
            raise errors.DuplicateAddressPairInRequest(mac_address=key[0], ip_address=key[1])
        rows[key] = {"port_id": port_id, "mac_address": key[0], "ip_address": key[1]}
    if rows:
        uow.execute(sa.insert(t.port_allowed_address_pairs), list(rows.values()))
    return _sorted([{"ip_address": ip, "mac_address": mac} for mac, ip in rows])


def _sorted(pairs: list[dict[str, str]]) -> list[dict[str, str]]:
    """Pairs in their wire order: IPv4 first, then by address and MAC."""
    pairs.sort(key=lambda p: (":" in p["ip_address"], p["ip_address"], p["mac_address"]))
    return pairs


def has_pairs(uow: UnitOfWork, port_id: str) -> bool:
    c = t.port_allowed_address_pairs.c
    return uow.one_or_none(sa.select(c.port_id).where(c.port_id == port_id).limit(1)) is not None
