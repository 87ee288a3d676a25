"""``dns-integration`` and ``dns-domain-ports``: ports' ``dns_name`` and ``dns_domain``, networks'
``dns_domain``, and each port's ``dns_assignment`` (hostname, address, fqdn per fixed IP).

Names are checked as neutron-lib checks them (``validate_dns_name``, ``validate_dns_domain``):
labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen, at most 255
characters, a top-level label not all digits. Domains are stored with their trailing dot, as
Neutron's DNS extension drivers store them; ``dns_name`` lower-cased.

The assignment is Neutron's: ``dns_name`` (``host-<address with dashes>`` without one) and the
fqdn in the configured ``dns_domain``. One difference: Neutron ignores ``dns_name`` in the
assignment while ``dns_domain`` is its default ``openstacklocal``; here it is always honoured, so a
guest gets the name its port was given. The DHCP servers tell the guest its name and the port's, the
network's or this domain (``agent/neutron_reads.dhcp_host``; on OVN ``backends/ovn/desired``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from neutrino.provider.api.validators import InvalidValue

FQDN_MAX = 255

#: a port's attributes (dns-integration's ``dns_name``, ``dns_assignment``; dns-domain-ports' ``dns_domain``)
PORT_ATTRIBUTES: dict[str, dict[str, Any]] = {}  # filled below, once the converters exist
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def format_problem(data: str, max_len: int = FQDN_MAX) -> str | None:
    """neutron-lib's ``_validate_dns_format``: why ``data`` is not a PQDN or FQDN."""
    if not data:
        return None
    trimmed = data[:-1] if data.endswith(".") else data
    reason = None
    if len(trimmed) > max_len:
        reason = f"'{trimmed}' exceeds the {max_len} character FQDN limit"
    else:
        labels = trimmed.split(".")
        for label in labels:
            if not label:
                reason = "Encountered an empty component"
            elif label.startswith("-") or label.endswith("-"):
                reason = f"Name '{label}' must not start or end with a hyphen"
            elif not _LABEL.match(label):
                reason = (
                    f"Name '{label}' must be 1-63 characters long, each of which can only be "
                    "alphanumeric or a hyphen"
                )
            if reason:
                break
        if reason is None and len(labels) > 1 and labels[-1].isdigit():
            reason = f"TLD '{labels[-1]}' must not be all numeric"
    return None if reason is None else f"'{data}' not a valid PQDN or FQDN. Reason: {reason}"


def to_dns_name(value: Any) -> str:
    """A port's ``dns_name``: "" or a valid name, lower-cased (``type:dns_host_name``)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f"'{value}' is not a valid string")
    if (problem := format_problem(value)) is not None:
        raise InvalidValue(problem)
    return value.lower()


def to_dns_domain(value: Any) -> str:
    """A network's or port's ``dns_domain``: "" or a domain, stored with its trailing dot
    (``type:dns_domain_name``)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f"'{value}' is not a valid string")
    if not value:
        return ""
    domain = value if value.endswith(".") else value + "."
    if (problem := format_problem(domain)) is not None:
        raise InvalidValue(problem)
    if len(domain) > FQDN_MAX - 2:
        raise InvalidValue(
            f"'{domain}' contains {len(domain)} characters. Adding a sub-domain will cause it to exceed "
            f"the maximum length of a FQDN of '{FQDN_MAX}'"
        )
    return domain.lower()


def assignment(fixed_ips: list[dict[str, str]], dns_name: str, dns_domain: str) -> list[dict[str, str]]:
    """A port's ``dns_assignment``: per fixed IP its hostname, address and fqdn in ``dns_domain``
    (the configured one; "" none)."""
    return assigner(dns_domain)(fixed_ips, dns_name)


def assigner(dns_domain: str) -> Callable[[list[dict[str, str]], str], list[dict[str, str]]]:
    """:func:`assignment` in ``dns_domain``, its domain worked out once (for a list of ports)."""
    domain = dns_domain if not dns_domain or dns_domain.endswith(".") else dns_domain + "."
    suffix = "." + domain

    def assign(fixed_ips: list[dict[str, str]], dns_name: str) -> list[dict[str, str]]:
        out = []
        for ip in fixed_ips:
            address = ip["ip_address"]
            hostname = dns_name or "host-" + address.replace(".", "-").replace(":", "-")
            fqdn = hostname if not domain or hostname.endswith(".") else hostname + suffix
            out.append({"hostname": hostname, "ip_address": address, "fqdn": fqdn})
        return out

    return assign


PORT_ATTRIBUTES.update(
    {
        "dns_name": {
            "allow_post": True,
            "allow_put": True,
            "default": "",
            "convert_to": to_dns_name,
            "is_filter": True,
        },
        "dns_domain": {"allow_post": True, "allow_put": True, "default": "", "convert_to": to_dns_domain},
        "dns_assignment": {"allow_post": False, "column": None},
    }
)

#: a network's ``dns_domain`` (dns-integration)
NETWORK_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "dns_domain": {
        "allow_post": True,
        "allow_put": True,
        "default": "",
        "convert_to": to_dns_domain,
        "is_filter": True,
    },
}
