"""The agent's own sync with the network provider: security groups and DHCP, as Neutron's L2
agent and DHCP agent get them (the engine pushes neither to agents).

With a provider link (``--provider-url``), :class:`ProviderSync`:

* **before a vNIC is plugged** (:meth:`ProviderSync.prepare`), fetches the security groups it
  names that are not set on the host yet — their rules, and the fixed IPs of the ports carrying
  them (what ``remote_group_id`` rules match), plus the groups those rules refer to — and the
  vNIC's port with its fixed IPs (a filtered guest may send only from those);
* **every** ``interval`` **seconds**, and right after a verb plugged or unplugged vNICs
  (:meth:`ProviderSync.kick`), re-reads the ports of the networks with plugged vNICs and the
  groups in use, and re-applies what changed (the firewall is rewritten only when its rules
  differ): the groups' rules and members, each filtered port's ``security_groups`` and
  ``port_security_enabled`` (a vNIC whose groups changed after the plug is re-plugged with them,
  from filtered to unfiltered and back, as Neutron's L2 agent does), its fixed IPs and allowed
  address pairs, and where router advertisements on each network may come from (the link-local
  addresses of its DHCP ports, all hosts', and router interfaces); forgets groups no vNIC here
  uses;
* serves DHCP for each provider network with a plugged vNIC here, for its subnets with
  ``enable_dhcp``: finds or creates this host's port with ``device_owner`` ``network:dhcp`` and
  ``device_id`` ``dhcp<host>-<network id>`` (as Neutron's DHCP agent names it), whose fixed IPs
  are the server's addresses, and serves static leases for the network's ports (MAC → fixed IP)
  with the gateway, DNS servers and MTU (a VXLAN network's at most the underlay's less 50); on
  IPv6 subnets, router advertisements (with ``ipv6_ra_mode``) and DHCPv6 by the subnets' modes,
  leases only for ``dhcpv6-stateful`` ones (SLAAC addresses are the provider's EUI-64 ones). A
  network whose last vNIC went stops being served here and its DHCP port is deleted.

Only the wire contract is spoken (:class:`~neutrino.agent.provider_link.ProviderLink`); this
module never imports :mod:`neutrino.provider`. Reads are lenient about fields a provider omits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from functools import partial
from ipaddress import ip_address
from typing import Any

import httpx
from pydantic import ValidationError

from neutrino.agent.datapath.firewall import link_local
from neutrino.agent.errors import AgentError, PlugFailed, SecurityGroupNotSet
from neutrino.agent.provider_link import ProviderLink
from neutrino.agent.provider_services import NetworkUse, ProviderView
from neutrino.agent.service import Agent
from neutrino.agent_api.schema import (
    DhcpHost,
    DhcpSpec,
    DhcpSubnet,
    DhcpSubnet6,
    NicSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
)

log = logging.getLogger(__name__)

DHCP_OWNER = "network:dhcp"
#: ports whose link-local address may send router advertisements: the DHCP servers (the agents'
#: dnsmasq advertises where there is no L3 agent) and a Neutron router's interfaces (radvd)
RA_OWNERS = (
    DHCP_OWNER,
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)
SYNC_ERRORS = (httpx.HTTPError, AgentError, ValueError)


def dhcp_device_id(host: str, network_id: str) -> str:
    """``device_id`` of the provider port of this host's DHCP server on a network."""
    return f"dhcp{host}-{network_id}"


def port_addresses(port: dict[str, Any]) -> list[str]:
    """What a port's guest may send from: its fixed IPs and allowed address pairs."""
    found = [ip["ip_address"] for ip in port.get("fixed_ips") or [] if ip.get("ip_address")]
    found += [
        pair["ip_address"] for pair in port.get("allowed_address_pairs") or [] if pair.get("ip_address")
    ]
    return sorted(set(found))


def port_groups(port: dict[str, Any]) -> list[str]:
    """The groups the port's vNIC is filtered with: none when port security is disabled."""
    if port.get("port_security_enabled") is False:
        return []
    return sorted(set(port.get("security_groups") or []))


def ra_sources(ports: Iterable[dict[str, Any]], networks: Iterable[str]) -> dict[str, list[str]]:
    """For each of ``networks``, the link-local addresses of its ports in :data:`RA_OWNERS`
    (modified EUI-64 of their MACs, what their kernels configure)."""
    found: dict[str, set[str]] = {network: set() for network in networks}
    for port in ports:
        if (
            port.get("network_id") in found
            and port.get("device_owner") in RA_OWNERS
            and port.get("mac_address")
        ):
            found[port["network_id"]].add(link_local(port["mac_address"]))
    return {network: sorted(addresses) for network, addresses in found.items()}


def _serves(subnet: dict[str, Any]) -> bool:
    """Whether this host's DHCP server has something to serve on the subnet: DHCP (IPv4), router
    advertisements (IPv6 with ``ipv6_ra_mode``) or DHCPv6 (IPv6 not in ``slaac`` address mode)."""
    if subnet.get("ip_version", 4) == 4:
        return True
    return bool(subnet.get("ipv6_ra_mode")) or subnet.get("ipv6_address_mode") != "slaac"


def _rules(raw: Iterable[dict[str, Any]], group_id: str) -> list[SecurityGroupRule]:
    rules = []
    for item in raw:
        if item.get("remote_address_group_id"):
            log.warning("security group %s: rule %s uses an address group; ignored", group_id, item.get("id"))
            continue
        try:
            rules.append(SecurityGroupRule.model_validate(item))
        except ValidationError as exc:  # a rule we cannot express allows nothing
            log.warning("security group %s: rule %s ignored: %s", group_id, item.get("id"), exc)
    return sorted(rules, key=lambda r: r.model_dump_json())


def _groups(link: ProviderLink, ids: set[str]) -> dict[str, list[SecurityGroupRule]]:
    found = {g["id"]: g for g in link.query("security-groups", id=sorted(ids)) if g.get("id") in ids}
    without = sorted(g for g, body in found.items() if "security_group_rules" not in body)
    raw: dict[str, list[dict[str, Any]]] = {
        g: list(body.get("security_group_rules") or []) for g, body in found.items()
    }
    if without:  # a provider that does not inline the rules
        for rule in link.query("security-group-rules", security_group_id=without):
            if rule.get("security_group_id") in raw:
                raw[rule["security_group_id"]].append(rule)
    return {g: _rules(items, g) for g, items in raw.items()}


def _members(link: ProviderLink, ids: set[str]) -> dict[str, set[str]]:
    try:
        ports = link.query("ports", security_groups=sorted(ids))
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 400:
            raise
        ports = link.query("ports")  # a provider that cannot filter ports by group
    members: dict[str, set[str]] = {g: set() for g in ids}
    for port in ports:
        for group in set(port.get("security_groups") or []) & ids:
            members[group].update(port_addresses(port))
    return members


def read_groups(link: ProviderLink, ids: Iterable[str]) -> dict[str, SecurityGroupSpec]:
    """The groups ``ids`` the provider has, and the groups their rules refer to, as the host
    applies them: rules (sorted, so that equal groups compare equal) and member addresses."""
    wanted = set(ids)
    if not wanted:
        return {}
    rules = _groups(link, wanted)
    referenced = {r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id} - set(rules)
    if referenced:
        rules.update(_groups(link, referenced))
    members = _members(link, set(rules))
    return {
        g: SecurityGroupSpec(rules=rs, member_ips=sorted(members[g], key=lambda a: (":" in a, a)))
        for g, rs in rules.items()
    }


class ProviderSync:
    """Keeps the agent's security groups and DHCP servers in step with the provider (see the
    module docstring); :meth:`sync_once` is one round, :meth:`start` runs rounds in a thread."""

    def __init__(self, agent: Agent, link: ProviderLink, interval: float = 2.0, *, dhcp: bool = True) -> None:
        self.agent = agent
        self.link = link
        self.interval = interval
        #: serve DHCP on the provider's networks (False: leave it to the provider's DHCP agents)
        self.dhcp = dhcp and agent.dhcp is not None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- hooks called by the agent's verbs -------------------------------------------------------
    def prepare(self, nics: Sequence[NicSpec]) -> None:
        """Set the groups ``nics`` need that the host lacks, and learn their ports' fixed IPs and
        where router advertisements on their networks may come from (when the provider cannot
        say, the next round does). Raises :class:`SecurityGroupNotSet` for a group the provider
        does not have and :class:`PlugFailed` when it cannot be asked."""
        missing = self.agent.missing_groups(nics)
        if missing:
            try:
                specs = read_groups(self.link, missing)
            except httpx.HTTPError as exc:
                names = ", ".join(sorted(missing))
                raise PlugFailed(
                    f"Cannot read security groups {names} from the network provider: {exc}"
                ) from exc
            for nic in nics:
                for group in (nic.external.security_groups or []) if nic.external else []:
                    if group in missing and group not in specs:
                        raise SecurityGroupNotSet(nic.name, group, "the network provider has no such group")
            self.agent.sync_security_groups(specs, drop_unused=False)
        filtered = [nic.external for nic in nics if nic.external and self.agent.filtered_groups(nic)]
        ports = {ext.vnic_id for ext in filtered} - self.agent.known_port_addresses()
        networks = {ext.network_id for ext in filtered} - self.agent.known_ra_networks()
        try:
            if ports:
                found = self.link.query("ports", id=sorted(ports))
                self.agent.set_port_addresses(
                    {p["id"]: port_addresses(p) for p in found if p.get("id") in ports}
                )
            if networks:
                routers = self.link.query("ports", network_id=sorted(networks), device_owner=list(RA_OWNERS))
                self.agent.set_ra_sources(ra_sources(routers, networks))
        except httpx.HTTPError as exc:
            log.warning("cannot read ports from the network provider: %s", exc)

    def kick(self) -> None:
        self._wake.set()

    # -- one round -----------------------------------------------------------------------------
    def sync_once(self) -> None:
        """One round: every step runs; the first error is raised after the others ran."""
        view = self.agent.provider_view()
        for network_id in view.dhcp:  # first, and without asking the provider
            if network_id not in view.networks or not self.dhcp:
                self.agent.stop_provider_dhcp(network_id)
        failures: list[Exception] = []
        ports: list[dict[str, Any]] | None = None
        try:
            ports = self._read_ports(view)
        except SYNC_ERRORS as exc:
            failures.append(exc)
        steps = [partial(self._sync_groups, view, ports or [])]
        if ports is not None:
            steps += [partial(self._sync_ports, view, ports), partial(self._sync_networks, view, ports)]
        steps.append(partial(self._release_dhcp_ports, view))
        for step in steps:
            try:
                step()
            except SYNC_ERRORS as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    def _read_ports(self, view: ProviderView) -> list[dict[str, Any]]:
        """The ports of the networks with plugged vNICs here (theirs, other hosts', DHCP ports)."""
        ids = sorted(view.networks)
        ports = self.link.query("ports", network_id=ids) if ids else []
        return [p for p in ports if p.get("network_id") in view.networks]

    def _sync_groups(self, view: ProviderView, ports: list[dict[str, Any]]) -> None:
        """The groups in use here and those the provider now gives the ports here."""
        wanted = set(view.groups)
        wanted.update(g for p in ports if p.get("id") in view.ports for g in port_groups(p))
        specs = read_groups(self.link, wanted)
        changed = self.agent.sync_security_groups(specs, drop_unused=True)
        if changed:
            log.info("security groups changed on the provider or no longer used: %s", ", ".join(changed))

    def _sync_ports(self, view: ProviderView, ports: list[dict[str, Any]]) -> None:
        """The ports' fixed IPs, the networks' router advertisement sources, then the ports'
        groups (after :meth:`_sync_groups` set the groups they name)."""
        mine = {p["id"]: p for p in ports if p.get("id") in view.ports}
        self.agent.set_port_addresses({i: port_addresses(p) for i, p in mine.items()}, prune=True)
        self.agent.set_ra_sources(ra_sources(ports, view.networks), prune=True)
        changed = self.agent.follow_port_groups({i: port_groups(p) for i, p in mine.items()})
        if changed:
            log.info("vNICs re-filtered with their ports' new security groups: %s", ", ".join(changed))

    def _sync_networks(self, view: ProviderView, ports: list[dict[str, Any]]) -> None:
        ids = sorted(view.networks)
        if not self.dhcp or not ids:
            return
        networks = {n["id"]: n for n in self.link.query("networks", id=ids) if n.get("id") in view.networks}
        subnets = self.link.query("subnets", network_id=ids)
        failures: list[Exception] = []
        for network_id, use in sorted(view.networks.items()):
            try:
                self._sync_dhcp(
                    view,
                    use,
                    networks.get(network_id),
                    [s for s in subnets if s.get("network_id") == network_id],
                    [p for p in ports if p.get("network_id") == network_id],
                )
            except SYNC_ERRORS as exc:
                failures.append(PlugFailed(f"DHCP on network {network_id}: {exc}"))
        if failures:
            raise failures[0]

    def _sync_dhcp(
        self,
        view: ProviderView,
        use: NetworkUse,
        network: dict[str, Any] | None,
        subnets: list[dict[str, Any]],
        ports: list[dict[str, Any]],
    ) -> None:
        served = sorted(
            (s for s in subnets if s.get("enable_dhcp", True) and _serves(s)),
            key=lambda s: (s.get("created_at") or "", s["id"]),
        )
        if network is None or not served:  # not the provider's, or nothing to serve
            if use.network_id in view.dhcp:
                self.agent.stop_provider_dhcp(use.network_id)
            return
        port = self._dhcp_port(view, use, served, ports)
        if port.get("mac_address"):  # its advertisements get into filtered guests from the start
            self.agent.add_ra_source(use.network_id, link_local(port["mac_address"]))
        server: dict[str, str] = {}
        for fixed in port.get("fixed_ips") or []:
            server.setdefault(fixed.get("subnet_id"), fixed.get("ip_address"))
        served = [s for s in served if server.get(s["id"])]
        if not served:
            raise PlugFailed(
                f"the provider gave DHCP port {port['id']} no address on network {use.network_id}"
            )
        spec = self._dhcp_spec(use, network, served, server, port, ports)
        self.agent.serve_provider_dhcp(spec, port["id"])

    def _dhcp_port(
        self, view: ProviderView, use: NetworkUse, subnets: list[dict[str, Any]], ports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """This host's DHCP port on the network, found or created, with an address on each subnet."""
        device_id = dhcp_device_id(view.host, use.network_id)
        port = next(
            (p for p in ports if p.get("device_id") == device_id and p.get("device_owner") == DHCP_OWNER),
            None,
        )
        if port is None:
            body: dict[str, Any] = {
                "network_id": use.network_id,
                "name": f"dhcp-{view.host}"[:255],
                "device_owner": DHCP_OWNER,
                "device_id": device_id,
                "fixed_ips": [{"subnet_id": s["id"]} for s in subnets],
                "binding:host_id": self.agent.identity.binding_host_ids.get(use.plugin_type, view.host),
            }
            try:
                return self.link.create("ports", "port", body)
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 403:
                    raise
                del body["binding:host_id"]  # a provider whose policy keeps port binding to others
                return self.link.create("ports", "port", body)
        have = {ip.get("subnet_id") for ip in port.get("fixed_ips") or []}
        missing = [{"subnet_id": s["id"]} for s in subnets if s["id"] not in have]
        if missing:
            port = self.link.update(
                "ports", "port", port["id"], {"fixed_ips": [*port["fixed_ips"], *missing]}
            )
        return port

    @staticmethod
    def _dhcp_spec(
        use: NetworkUse,
        network: dict[str, Any],
        subnets: list[dict[str, Any]],
        server: dict[str, str],
        port: dict[str, Any],
        ports: list[dict[str, Any]],
    ) -> DhcpSpec:
        def of_version(version: int, values: Iterable[str]) -> list[str]:
            return [v for v in values if ip_address(v).version == version]

        served = [
            DhcpSubnet.model_validate(
                {
                    "cidr": s["cidr"],
                    "server_ip": server[s["id"]],
                    "gateway_ip": s.get("gateway_ip") or None,
                    "dns_servers": of_version(4, s.get("dns_nameservers") or []),
                }
            )
            for s in subnets
            if s.get("ip_version", 4) == 4
        ]
        served6 = {
            s["id"]: DhcpSubnet6.model_validate(
                {
                    "cidr": s["cidr"],
                    "server_ip": server[s["id"]],
                    "dns_servers": of_version(6, s.get("dns_nameservers") or []),
                    "ipv6_ra_mode": s.get("ipv6_ra_mode") or None,
                    "ipv6_address_mode": s.get("ipv6_address_mode") or None,
                }
            )
            for s in subnets
            if s.get("ip_version", 4) == 6
        }
        leased = [s["id"] for s in subnets if s["id"] not in served6 or served6[s["id"]].stateful]
        hosts = []
        for other in ports:
            if other.get("device_owner") == DHCP_OWNER or not other.get("mac_address"):
                continue
            given: dict[str, str] = {}
            for fixed in other.get("fixed_ips") or []:
                given.setdefault(fixed.get("subnet_id"), fixed.get("ip_address"))
            hosts += [
                DhcpHost.model_validate({"mac": other["mac_address"], "ip": given[subnet_id]})
                for subnet_id in leased
                if given.get(subnet_id)
            ]
        mtu = network.get("mtu") or None
        if use.max_mtu is not None:
            mtu = min(mtu or use.max_mtu, use.max_mtu)
        first = served[0] if served else None
        return DhcpSpec(
            network_id=use.network_id,
            plugin_type=use.plugin_type,
            network_type=use.network_type or network.get("provider:network_type"),
            segmentation_id=(
                use.segmentation_id
                if use.network_type or use.segmentation_id is not None
                else network.get("provider:segmentation_id")
            ),  # fmt: skip
            physical_network=use.physical_network or network.get("provider:physical_network"),
            tunnel_peers=list(use.tunnel_peers),
            cidr=first.cidr if first else None,
            server_ip=first.server_ip if first else None,
            gateway_ip=first.gateway_ip if first else None,
            dns_servers=first.dns_servers if first else [],
            extra_subnets=served[1:],
            ipv6_subnets=list(served6.values()),
            server_mac=port.get("mac_address") or None,
            mtu=mtu,
            hosts=sorted(hosts, key=lambda h: (h.ip.version, int(h.ip), h.mac)),
        )

    def _release_dhcp_ports(self, view: ProviderView) -> None:
        for network_id in self.agent.provider_view().to_release:
            device_id = dhcp_device_id(view.host, network_id)
            for port in self.link.query("ports", device_id=device_id):
                if port.get("device_id") == device_id and port.get("device_owner") == DHCP_OWNER:
                    self.link.delete("ports", port["id"])
            self.agent.dhcp_port_released(network_id)

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        last_error = ""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.sync_once()
                if last_error:
                    log.info("sync with the network provider works again")
                last_error = ""
            except SYNC_ERRORS as exc:
                # every interval while the provider is down: say it once, not every 2 s
                level = logging.DEBUG if str(exc) == last_error else logging.WARNING
                log.log(level, "sync with the network provider: %s", exc)
                last_error = str(exc)
            except Exception:  # the thread must outlive any one bad round
                log.exception("sync with the network provider failed")
            self._wake.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="provider-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the link stays open: its owner closes it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
