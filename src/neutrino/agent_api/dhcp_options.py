"""The DHCP options a port's ``extra_dhcp_opts`` may name, and what their values must look like.

The provider refuses an option this module does not accept (400 naming ``extra_dhcp_opts``), and
the agent skips one a provider sent anyway: one bad option handed to ``dnsmasq`` would stop the
whole network's DHCP server. Names are ``dnsmasq``'s (``dnsmasq --help dhcp`` / ``dhcp6``), which
Neutron's dnsmasq driver passes through as ``option:<name>`` (``option6:`` for IPv6); a number
(1-254, IPv6 1-65535) names any option, its value then taken as dnsmasq guesses it. Neutron's
``router`` and ``classless-static-route`` may be blank (send none).

OVN serves fewer options, by its own names: :func:`ovn_problem` refuses the rest with
``--backend ovn`` and :func:`ovn_option` maps the others to its ``DHCP_Options`` (Neutron's mapping).

Imports nothing of Neutrino: the provider and the agent both use it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

#: Neutron's limits (neutron-lib ``extra_dhcp_opt``): a name up to 64 characters, a value up to 255
NAME_MAX = 64
VALUE_MAX = 255
#: options Neutron allows an empty value for (dnsmasq then sends none of them)
BLANK_ALLOWED = frozenset({"router", "classless-static-route"})

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def _addresses(version: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        for item in value.split(","):
            try:
                address = ipaddress.ip_address(item.strip().strip("[]"))
            except ValueError:
                return f"'{item}' is not an IPv{version} address"
            if address.version != version:
                return f"'{item}' is not an IPv{version} address"
        return None

    return check


def _integer(value: str) -> str | None:
    if not value.isdigit() or int(value) > 2**32 - 1:
        return f"'{value}' is not an unsigned integer"
    return None


def _flag(value: str) -> str | None:
    return None if value in ("0", "1") else f"'{value}' is not 0 or 1"


def _text(value: str) -> str | None:
    if "," in value or '"' in value:
        return f"'{value}' may not contain a comma or a double quote"
    return None


def _names(value: str) -> str | None:
    for item in value.split(","):
        labels = item.strip().rstrip(".").split(".")
        if not all(_LABEL.match(label) for label in labels):
            return f"'{item}' is not a domain name"
    return None


def _classless_routes(value: str) -> str | None:
    """``<cidr>,<gateway>[,<cidr>,<gateway>...]`` (RFC 3442)."""
    items = [i.strip() for i in value.split(",")]
    if len(items) % 2:
        return f"'{value}' is not a list of '<destination CIDR>,<gateway>' pairs"
    for cidr, gateway in zip(items[::2], items[1::2], strict=True):
        try:
            net = ipaddress.IPv4Network(cidr, strict=False)
            ipaddress.IPv4Address(gateway)
        except ValueError:
            return f"'{cidr},{gateway}' is not a '<destination CIDR>,<gateway>' pair"
        if str(net) != cidr:
            return f"'{cidr}' is not a network address with its prefix, '{net}' is"
    return None


def _static_routes(value: str) -> str | None:
    """``<destination>,<gateway>[,...]``: classful destinations (option 33)."""
    items = value.split(",")
    if len(items) % 2:
        return f"'{value}' is not a list of '<destination>,<gateway>' pairs"
    return _addresses(4)(value)


_V4 = _addresses(4)
_V6 = _addresses(6)

#: IPv4 option → its value's check (names as ``dnsmasq --help dhcp`` lists them)
V4: dict[str, Callable[[str], str | None]] = {
    **dict.fromkeys(
        (
            "router", "dns-server", "log-server", "lpr-server", "swap-server", "ntp-server",
            "nis-server", "netbios-ns", "netbios-dd", "x-windows-fs", "x-windows-dm", "nis+-server",
            "mobile-ip-home", "smtp-server", "pop3-server", "nntp-server", "irc-server",
            "tftp-server-address", "server-ip-address", "router-solicitation", "sip-server",
        ),
        _V4,
    ),
    **dict.fromkeys(
        (
            "time-offset", "boot-file-size", "max-datagram-reassembly", "default-ttl", "mtu",
            "arp-timeout", "tcp-ttl", "tcp-keepalive", "netbios-nodetype", "T1", "T2", "ipv6-only",
        ),
        _integer,
    ),
    **dict.fromkeys(
        (
            "ip-forward-enable", "non-local-source-routing", "all-subnets-local", "router-discovery",
            "trailer-encapsulation", "ethernet-encap",
        ),
        _flag,
    ),
    **dict.fromkeys(
        (
            "domain-name", "root-path", "extension-path", "nis-domain", "netbios-scope", "nis+-domain",
            "tftp-server", "bootfile-name", "posix-timezone", "tzdb-timezone",
        ),
        _text,
    ),
    "domain-search": _names,
    "classless-static-route": _classless_routes,
    "static-route": _static_routes,
}  # fmt: skip

#: IPv6 option → its value's check (``dnsmasq --help dhcp6``)
V6: dict[str, Callable[[str], str | None]] = {
    **dict.fromkeys(("dns-server", "sntp-server", "ntp-server", "nis-server", "nis+-server", "sip-server"), _V6),
    **dict.fromkeys(("domain-search", "sip-server-domain"), _names),
    **dict.fromkeys(("nis-domain", "nis+-domain", "posix-timezone", "tzdb-timezone"), _text),
    **dict.fromkeys(("bootfile-url", "bootfile-param"), _text),
    "information-refresh-time": _integer,
}  # fmt: skip


def _number(name: str) -> bool:
    """An option named by its number (ASCII digits: ``str.isdigit`` also takes "²", which ``int`` refuses)."""
    return name.isascii() and name.isdigit()


def problem(name: str, value: str, ip_version: int = 4) -> str | None:
    """Why dnsmasq could not serve option ``name`` = ``value`` to a guest of IP ``ip_version``;
    None when it can."""
    if ip_version not in (4, 6):
        return f"ip_version {ip_version!r} is not 4 or 6"
    if not name or len(name) > NAME_MAX:
        return f"opt_name '{name}' must be 1 to {NAME_MAX} characters"
    if len(value) > VALUE_MAX:
        return f"opt_value of {name} exceeds {VALUE_MAX} characters"
    if not _PRINTABLE.match(value):
        return f"opt_value of {name} holds a character that is not printable ASCII"
    if _number(name):
        highest = 254 if ip_version == 4 else 65535
        if not 1 <= int(name) <= highest:
            return f"option number {name} is not between 1 and {highest}"
        if not value:
            return f"opt_value of option {name} must not be empty"
        return _text(value) if '"' in value else None
    known = V4 if ip_version == 4 else V6
    check = known.get(name)
    if check is None:
        return f"'{name}' is not a known IPv{ip_version} DHCP option (dnsmasq's names, or an option number)"
    if not value:
        if ip_version == 4 and name in BLANK_ALLOWED:
            return None
        return f"opt_value of {name} must not be empty"
    reason = check(value)
    return None if reason is None else f"{name}: {reason}"


def refusal(name: str, value: str, ip_version: int = 4) -> str | None:
    """Why the provider refuses option ``name`` = ``value`` for ``ip_version``; None when it takes it.
    What :func:`problem` says, but for one case Neutron takes: an address option given addresses of the
    other IP version (tempest's IPv6 test sends ``server-ip-address`` = ``2015::badd`` with no
    ``ip_version``, so 4). It is stored and shown as given; the agent leaves it out of dnsmasq's
    options (and logs it), since no guest of that version could use it."""
    reason = problem(name, value, ip_version)
    if reason is None or not value:
        return reason
    if (V4 if ip_version == 4 else V6).get(name) not in (_V4, _V6):
        return reason
    for item in value.split(","):
        try:
            ipaddress.ip_address(item.strip().strip("[]"))
        except ValueError:
            return reason
    return None


def dnsmasq_option(name: str, value: str, ip_version: int = 4) -> str:
    """The option as ``--dhcp-option`` takes it after its tags: ``option:ntp-server,192.0.2.1``,
    ``42,192.0.2.1`` for a number, ``option6:...`` for IPv6; a blank value sends nothing."""
    if _number(name):
        key = name if ip_version == 4 else f"option6:{name}"
    else:
        key = f"option:{name}" if ip_version == 4 else f"option6:{name}"
    if ip_version == 6 and value and known_addresses(name, value):
        value = ",".join(f"[{v.strip().strip('[]')}]" for v in value.split(","))
    return f"{key},{value}" if value else key


def known_addresses(name: str, value: str) -> bool:
    """Whether IPv6 option ``name`` takes addresses (dnsmasq wants them in brackets)."""
    return V6.get(name) is _V6


# --- OVN ---------------------------------------------------------------------------------------
# OVN's DHCP responder (ovn-northd's option table, ovn-nb(5) DHCP_Options) serves a fixed set of
# options by its own names. As Neutron's OVN driver (SUPPORTED_DHCP_OPTS_MAPPING), a port's option is
# named as for dnsmasq (or by its number) and mapped to OVN's; the rest cannot be served there.
# Each kind says how OVN wants the value: addresses as a set, strings quoted, routes as a set.
_OVN_V4_NAMES: dict[str, tuple[str, str]] = {
    "router": ("router", "ip"), "dns-server": ("dns_server", "ips"), "log-server": ("log_server", "ips"),
    "lpr-server": ("lpr_server", "ips"), "swap-server": ("swap_server", "ip"),
    "nis-server": ("nis_server", "ips"), "ntp-server": ("ntp_server", "ips"),
    "router-solicitation": ("router_solicitation", "ip"),
    "tftp-server-address": ("tftp_server_address", "ip"), "server-ip-address": ("tftp_server_address", "ip"),
    "domain-name": ("domain_name", "str"), "tftp-server": ("tftp_server", "str"),
    "bootfile-name": ("bootfile_name", "str"), "domain-search": ("domain_search_list", "str"),
    "classless-static-route": ("classless_static_route", "routes"),
    "ip-forward-enable": ("ip_forward_enable", "int"), "router-discovery": ("router_discovery", "int"),
    "ethernet-encap": ("ethernet_encap", "int"), "default-ttl": ("default_ttl", "int"),
    "tcp-ttl": ("tcp_ttl", "int"), "mtu": ("mtu", "int"), "T1": ("T1", "int"), "T2": ("T2", "int"),
    "arp-timeout": ("arp_cache_timeout", "int"), "tcp-keepalive": ("tcp_keepalive_interval", "int"),
}  # fmt: skip
#: option numbers OVN serves, as the names above
_OVN_V4_NUMBERS = {
    "3": "router", "6": "dns-server", "7": "log-server", "9": "lpr-server", "15": "domain-name",
    "16": "swap-server", "19": "ip-forward-enable", "23": "default-ttl", "26": "mtu",
    "31": "router-discovery", "32": "router-solicitation", "35": "arp-timeout", "36": "ethernet-encap",
    "37": "tcp-ttl", "38": "tcp-keepalive", "41": "nis-server", "42": "ntp-server", "58": "T1", "59": "T2",
    "66": "tftp-server", "67": "bootfile-name", "119": "domain-search", "121": "classless-static-route",
    "150": "tftp-server-address",
}  # fmt: skip
_OVN_V6_NAMES = {"dns-server": ("dns_server", "ips"), "domain-search": ("domain_search", "str")}
_OVN_V6_NUMBERS = {"23": "dns-server", "24": "domain-search"}
_OVN_CHECKS: dict[tuple[str, int], Callable[[str], str | None]] = {
    ("ip", 4): _V4, ("ips", 4): _V4, ("ips", 6): _V6, ("int", 4): _integer, ("str", 4): _text,
    ("str", 6): _text, ("routes", 4): _classless_routes,
}  # fmt: skip


def _ovn_entry(name: str, ip_version: int) -> tuple[str, str] | None:
    names, numbers = (_OVN_V4_NAMES, _OVN_V4_NUMBERS) if ip_version == 4 else (_OVN_V6_NAMES, _OVN_V6_NUMBERS)
    return names.get(numbers.get(name, name))


def ovn_problem(name: str, value: str, ip_version: int = 4) -> str | None:
    """Why OVN's DHCP could not serve option ``name`` = ``value`` (checked after :func:`problem`);
    None when it can."""
    entry = _ovn_entry(name, ip_version)
    if entry is None:
        return f"'{name}' (IPv{ip_version}) is not an option OVN's DHCP serves"
    ovn_name, kind = entry
    if not value:
        return (
            None
            if ip_version == 4 and ovn_name in ("router", "classless_static_route")
            else (f"opt_value of {name} must not be empty")
        )
    if kind == "ip" and "," in value:
        return f"{name}: '{value}' is not one address"
    reason = _OVN_CHECKS[(kind, ip_version)](value)
    if reason is not None and kind in ("ip", "ips") and refusal(name, value, ip_version) is None:
        return None  # addresses of the other IP version: stored as Neutron does, left out of the row
    return None if reason is None else f"{name}: {reason}"


def ovn_option(name: str, value: str, ip_version: int = 4) -> tuple[str, str | None]:
    """OVN's name and value for an option :func:`ovn_problem` accepts, as DHCP_Options ``options``
    holds it: ``{a, b}`` for several addresses or routes, a quoted string; None for a blank value
    (Neutron's "send none": the subnet's option is taken out)."""
    entry = _ovn_entry(name, ip_version)
    assert entry is not None, name
    ovn_name, kind = entry
    if not value:
        return ovn_name, None
    if kind == "str":
        return ovn_name, f'"{value}"'
    items = [i.strip().strip("[]") for i in value.split(",")]
    if kind == "routes":
        pairs = [f"{cidr},{gateway}" for cidr, gateway in zip(items[::2], items[1::2], strict=True)]
        return ovn_name, "{" + ", ".join(pairs) + "}"
    if kind == "ips" and len(items) > 1:
        return ovn_name, "{" + ", ".join(items) + "}"
    return ovn_name, items[0] if kind in ("ip", "ips") else value
