"""The agent API: the contract between the engine and a host agent (VDSM-like verbs).

Version 1. JSON over HTTP; request and response bodies are ``application/json``. The wire
models are :mod:`neutrino.agent_api.schema`: this package holds only the contract (it imports
pydantic and nothing of the agent), so the engine and the agent both import it; clients may
also speak the JSON directly. The server is :mod:`neutrino.agent.api.routes`.

Authentication
==============
Every request carries ``Authorization: Bearer <token>``, the token the agent was started with
(``--token`` or ``NEUTRINO_AGENT_TOKEN``). Without it, or with another token: ``401`` with
``WWW-Authenticate: Bearer`` and an error body.

Errors
======
Every non-2xx answer has the body ``{"error": {"code": "<Leaf>", "message": "<text>"}}``:

======  ==============================================================================
status  codes
======  ==============================================================================
400     ``BadRequest`` (malformed JSON or a field failing validation: message lists the
        fields), ``NoDriverForPluginType``, ``NetworkNotCarried``, ``SecurityGroupNotSet``
401     ``Unauthorized``
404     ``VmNotFound``, ``NicNotFound``, ``NetworkNotFound``, ``DhcpNotFound``,
        ``SecurityGroupNotFound``, ``NotFound`` (no such path)
405     ``MethodNotAllowed``
409     ``VmExists``, ``NicExists``, ``NetworkInUse``, ``SecurityGroupInUse``
500     ``PlugFailed``, ``UnplugFailed`` (the host or a vNIC driver failed; the message names
        the vNIC and the cause; what the verb did before failing has been undone),
        ``InternalError``
======  ==============================================================================

Objects
=======
NIC (request, also echoed as ``spec`` in answers) — exactly one of ``external``/``internal``::

    {"nic_id": "<engine vNIC id>", "name": "nic1", "mac": "56:6f:1a:2b:3c:4d",
     "mtu": 1450 | null,
     "external": {                                # a vNIC on a provider (external) network
        "vnic_id": "<provider port id>",
        "provider_type": "OPENSTACK_NETWORK",     # default
        "plugin_type": "LINUX_BRIDGE" | "OPEN_VSWITCH" | ...,
        "network_id": "<provider network id>",
        "network_type": "vxlan" | "flat" | "vlan" | "local" | null,   # when known
        "segmentation_id": 100 | null,            # when known
        "physical_network": "physnet1" | null,    # flat/vlan networks
        "security_groups": null | [] | ["<group id>", ...],  # the port's groups (see below)
        "tunnel_peers": ["192.0.2.12", ...],      # optional: other hosts' VXLAN addresses
        "port": null | {                          # optional: the provider port as the engine made it
           "fixed_ips": [{"subnet_id": "...", "ip_address": "10.0.0.5"}, ...],
           "port_security_enabled": true | false | null,
           "allowed_address_pairs": [{"ip_address": "10.0.0.0/24", "mac_address": null | "..."}, ...],
           # optional (an older engine sends none; "port_lease" in accepts): what its DHCP lease is made of besides
           "dns_assignment": null | [{"hostname": "web", "ip_address": "10.0.0.5", "fqdn": "web.example.org."}],
           "dns_domain": null | "<the port's dns_domain>",
           "network_dns_domain": null | "<its network's dns_domain>",
           "extra_dhcp_opts": null | [{"opt_name": "ntp-server", "opt_value": "10.0.0.9", "ip_version": 4}]}
     },
     "internal": {"network": "<network name>", "bridge": "<bridge>" | null}  # bridge default: name
    }

With ``port`` the agent serves the vNIC's DHCP lease and filters it by its addresses before the guest
starts, without asking the provider for the port (without it, it asks). With its DNS and DHCP fields the
lease names the guest (host name, domain) and carries the port's extra options from the start, as the agent's
later reads of the provider make it, so the network's DHCP server is not restarted then; without them the
lease is the address alone until then.

The host device of a NIC is ``tap<id[:11]>``, ``id`` being ``vnic_id`` (external) or ``nic_id``.
Within a VM, ``nic_id``, ``mac`` and that id must be distinct.

VM (answer)::

    {"vm_id": "...", "name": "...", "status": "Up" | "Down", "backend": "libvirt" | "netns",
     "memory_mb": 1024, "vcpus": 1,
     "nics": [{"spec": <NIC>, "state": "plugged" | "unplugged" | "failed",
               "error": null | "<why it is not plugged>",
               "plugged": null | {"driver": "linux_bridge", "vnic_id": "<port id>",
                                  "plugin_type": "LINUX_BRIDGE", "mac": "...",
                                  "security_groups": null | [...],   # the groups actually applied
                                  "device": "tap...", "bridge": "brq..." | null,
                                  "details": {...driver specific...}}}]}

``status`` is ``Up`` only when every NIC is ``plugged``. ``plugged.security_groups`` is what the
driver applied: ``noop`` echoes the request; ``linux_bridge`` and ``open_vswitch`` (hybrid plug:
the tap on ``qbr<port[:11]>``) filter the vNIC with the listed groups through iptables, and
report ``[]`` for ``null`` or ``[]`` (the vNIC is not filtered: the agent does not know a
provider's default group, so pass the port's actual ``security_groups`` as the provider reports
them). A listed group must have been set on this host first (``400 SecurityGroupNotSet``, see
``/security-groups``) — unless the agent has a provider link, which fetches it (see "With a
network provider" below); with ``--firewall none`` the drivers advertise ``security_groups: false``
and refuse non-empty lists (``500 PlugFailed``). The create-VM and hot-plug answers report the
groups of the request; only an agent with a provider link changes them later, when the port's
groups change on the provider (``spec`` stays the request as sent).

Verbs
=====
``GET /api/v1/capabilities`` → ``200``::

    {"host_name": "host1", "tunnel_ip": "192.0.2.11" | null,
     "vm_backend": {"name": "netns", ...},
     "vnic_drivers": {"linux_bridge": {"name": "linux_bridge", "plugin_types": ["LINUX_BRIDGE"],
                                       "network_types": ["flat", "local", "vxlan"],
                                       "security_groups": true, "details": {...}},
                      "open_vswitch": {"name": "open_vswitch", "plugin_types": ["OPEN_VSWITCH"],
                                       "network_types": ["local", "vxlan"],
                                       "security_groups": true, "details": {...}},
                      "noop": {"name": "noop", "plugin_types": ["*"], "network_types": ["*"],
                               "security_groups": true}},
     "plugin_types": {"LINUX_BRIDGE": {"driver": "linux_bridge",
                                       "binding_host_id": "host1",
                                       "network_types": ["flat", "local", "vxlan"],
                                       "security_groups": true},
                      "OPEN_VSWITCH": {"driver": "open_vswitch", ...}},
     "networks": {"internal": [{"network": "ovirtmgmt", "bridge": "ovirtmgmt", "mtu": null}],
                  "external": [{"network_id": "...", "plugin_type": "LINUX_BRIDGE",
                                "network_type": "vxlan", "segmentation_id": 100, "vnics": 2}],
                  "dhcp": ["<provider network id>", ...]},
     "security_groups": ["<group id>", ...],
     "accepts": ["port_lease"]}

``accepts`` names what the agent's requests may carry beyond the first contract — ``port_lease``: the NIC's
``port`` with its DNS and DHCP fields —; an engine sends those only to an agent that lists them (an older agent
refuses a field it does not know). ``plugin_types`` lists the plugin types this host can plug (the engine schedules a vNIC only
onto a host whose entry exists and supports its network type — ``"*"`` means any — and, when
the vNIC has security groups, has ``security_groups: true``); ``binding_host_id`` is the value for
the port's ``binding:host_id``. ``networks.external`` lists provider networks with plugged vNICs,
``networks.dhcp`` those this host serves DHCP on.

``GET /api/v1/vms`` → ``200 {"vms": [<VM>, ...]}``

``GET /api/v1/vms/{vm_id}`` → ``200 <VM>`` | ``404 VmNotFound``

``POST /api/v1/vms`` create VM, body ``{"vm_id", "name", "memory_mb"?: 1024, "vcpus"?: 1,
"nics": [<NIC>, ...]}`` → ``201 <VM>`` (created, every NIC plugged), ``200 <VM>`` (the VM already
runs with this exact definition: a safe retry), ``409 VmExists`` (it runs with another
definition), ``400``, ``500 PlugFailed`` (nothing of the VM is left on the host).

``DELETE /api/v1/vms/{vm_id}`` destroy VM → ``200 {"vm_id": "...", "warnings": ["..."]}`` (the VM
is gone from the agent; warnings name what could not be cleaned on the host) | ``404 VmNotFound``.

``POST /api/v1/vms/{vm_id}/nics`` hot-plug, body ``<NIC>`` → ``201 <NIC state>`` | ``200 <NIC state>``
(already plugged with this definition) | ``409 NicExists`` | ``404 VmNotFound`` | ``400`` |
``500 PlugFailed`` (nothing left). ``<NIC state>`` is one element of a VM's ``nics``.

``DELETE /api/v1/vms/{vm_id}/nics/{nic_id}`` hot-unplug → ``204`` | ``404 VmNotFound`` / ``NicNotFound``
| ``500 UnplugFailed`` (the NIC stays listed).

``GET /api/v1/networks`` → ``200 {"networks": [{"network", "bridge", "mtu"}, ...]}``

``PUT /api/v1/networks/{name}`` set up the local bridge of an internal VM network of the host's
cluster, body ``{"bridge"?: "<name, default the network name, ≤15 chars>", "mtu"?: 1500}`` →
``201`` (new) | ``200`` (already there; bridge/MTU corrected) ``{"network", "bridge", "mtu"}`` |
``409 NetworkInUse`` (renaming a bridge vNICs use) | ``500 PlugFailed``.

``PUT /api/v1/networks`` sync: carry exactly these internal networks (call it when the host is
added or the cluster's networks change), body ``{"networks": [{"network", "bridge"?, "mtu"?},
...]}`` (``bridge`` defaults to the network name) → ``200 {"networks": [<all carried now>], "removed": ["<name>", ...], "in_use":
["<name>", ...]}``: missing bridges are set up, others torn down, except those running vNICs
still use (listed in ``in_use`` and kept) | ``409 NetworkInUse`` (renaming a used bridge) |
``500 PlugFailed``.

``DELETE /api/v1/networks/{name}`` tear the bridge down → ``204`` | ``404 NetworkNotFound`` |
``409 NetworkInUse`` (running vNICs use it).

A NIC on an internal network without ``bridge`` gets the network's bridge on this host (echoed
in its ``spec``); naming another bridge is ``400 NetworkNotCarried``.

``GET /api/v1/dhcp`` → ``200 {"dhcp": [<DHCP>, ...]}``

``PUT /api/v1/dhcp/{network_id}`` serve DHCP on a provider network from this host (dnsmasq in
the namespace ``<netns prefix>dhcp-<net[:11]>``, plugged into the network by the plugin type's
vNIC driver like a vNIC; static leases only), body::

    {"plugin_type": "LINUX_BRIDGE", "network_type": "vxlan" | null, "segmentation_id": 100 | null,
     "physical_network": null, "tunnel_peers": [],
     "cidr": "10.0.0.0/24" | null, "server_ip": "10.0.0.254" | null,  # null: IPv6 subnets only
     "gateway_ip": "10.0.0.1" | null,
     "dns_servers": ["10.0.0.53", ...],        # optional, DHCP option 6
     "extra_subnets": [{"cidr", "server_ip", "gateway_ip", "dns_servers"}, ...],  # optional: more
                                               # IPv4 subnets of the network, same server
     "ipv6_subnets": [{"cidr": "2001:db8::/64", "server_ip": "2001:db8::f816:3eff:fe00:2",
                       "dns_servers": ["2001:db8::53"],
                       "ipv6_ra_mode": null | "slaac" | "dhcpv6-stateless" | "dhcpv6-stateful",
                       "ipv6_address_mode": null | "slaac" | "dhcpv6-stateless" | "dhcpv6-stateful"},
                      ...],                    # optional: the network's IPv6 subnets, same server
     "server_mac": "fa:16:3e:..." | null,      # optional: the MAC of the server's port
     "mtu": 1450 | null,                       # sent as DHCP option 26 (and in IPv6 advertisements)
     "lease_seconds": 86400,
     "hosts": [{"mac": "56:6f:1a:2b:3c:4d", "ip": "10.0.0.11" | "2001:db8::11",
                "hostname": "vm1" | null}]}

→ ``201`` (new) | ``200`` (updated; the server restarts only when something changed) with the
stored ``<DHCP>`` (the body plus ``network_id``) | ``400`` (e.g. an address outside ``cidr``,
``NoDriverForPluginType``) | ``500 PlugFailed``. Repeat it with the full host list whenever
leases change. On an IPv6 subnet with ``ipv6_ra_mode`` the server sends router advertisements
(there is no L3 agent to do it): the prefix, the MTU and router lifetime 0 (it routes nothing, so
guests get no default route); with ``ipv6_address_mode`` (default: the RA mode) ``slaac`` the
guests' kernels configure their addresses (EUI-64 of the MAC: what Neutron's IPAM allocates),
``dhcpv6-stateless`` adds DHCPv6 options, ``dhcpv6-stateful`` or none serves the IPv6 ``hosts``
by DHCPv6. A subnet without ``ipv6_ra_mode`` gets no advertisements (another router's job).

``DELETE /api/v1/dhcp/{network_id}`` → ``204`` | ``404 DhcpNotFound``. The network's devices
on the host go when no vNIC uses the network either.

``GET /api/v1/security-groups`` → ``200 {"security_groups": {"<group id>": <GROUP>, ...}}``

``PUT /api/v1/security-groups/{group_id}`` set a group's rules (before plugging vNICs that use
it; again whenever its rules or members change: every filtered vNIC is re-filtered), body::

    {"rules": [{"direction": "ingress" | "egress", "ethertype": "IPv4" | "IPv6",
                "protocol": null | "tcp" | "udp" | "icmp" | "<number>",
                "port_range_min": null | 22, "port_range_max": null | 22,
                "remote_ip_prefix": null | "10.0.0.0/24", "remote_group_id": null | "<group id>",
                ...other Neutron rule fields are ignored}],
     "member_ips": ["10.0.0.11", ...]}   # addresses of the group's ports, for remote_group_id

→ ``201`` (new) | ``200`` ``<GROUP>`` | ``400`` | ``500 PlugFailed``. Semantics follow Neutron's
iptables firewall, for IPv4 (iptables) and IPv6 (ip6tables) alike, each rule applying to its
``ethertype``: stateful, default drop, established traffic allowed, the vNIC may send only from
its MAC (and, with a provider link, only from its port's fixed IPs and allowed address pairs —
for IPv6 also its MAC's link-local address). Allowed without a rule: DHCP (IPv4); for IPv6 the
neighbour discovery and MLD a guest needs, router advertisements into the guest (with a provider
link only from the link-local addresses of the network's DHCP ports — every host's — and router
interfaces, as Neutron accepts them only from the subnet's router; without one from any
link-local address; others meet the group's rules like any packet), DHCPv6 requests out and
replies in; never router advertisements or DHCPv6 replies out of a guest. ``"icmp"`` in an IPv6 rule is ICMPv6. ``remote_group_id`` rules match the
members' addresses of the rule's IP version. A vNIC without groups is not filtered at all.

``DELETE /api/v1/security-groups/{group_id}`` → ``204`` | ``404 SecurityGroupNotFound`` |
``409 SecurityGroupInUse`` (a plugged vNIC uses it).

With a network provider
=======================
An agent started with ``--provider-url`` (and credentials) reports itself and its ports'
status to the provider (``POST /v2.0/agent-reports``, listed in ``/v2.0/extensions`` as
``neutrino-agent-report``), learns the other hosts' VXLAN addresses from ``GET /v2.0/agents``,
and, like Neutron's L2 and DHCP agents, takes security groups and DHCP from the provider itself,
so the engine sends neither:

* plugging a vNIC (create VM, hot-plug) whose ``security_groups`` are not set here first reads
  them from the provider — rules, the fixed IPs of the ports carrying them (for
  ``remote_group_id``), the groups those rules refer to — and the vNIC's port and its fixed IPs
  (``400 SecurityGroupNotSet`` when the provider has no such group, ``500 PlugFailed`` when it
  cannot be reached; nothing is plugged then);
* every ``--sync-interval`` seconds (default 2) and right after a plug or unplug, the groups in
  use are read again and what changed is applied (a rule created or deleted on the provider
  reaches running vNICs within that interval plus a round trip); groups no vNIC here uses are
  dropped (also ones set with ``PUT /security-groups``, and a group set that way is the
  provider's again at the next round);
* in the same rounds, like Neutron's L2 agent, each plugged ``linux_bridge`` / ``open_vswitch``
  vNIC's port is read again: when its ``security_groups`` (none when ``port_security_enabled`` is
  false) differ from those applied, the vNIC is re-filtered with them — from filtered to
  unfiltered and back; an ``open_vswitch`` vNIC moves between the plain and the hybrid plug, its
  traffic pausing meanwhile — and ``plugged.security_groups`` (and ``plugged.bridge``) report it;
  its fixed IPs and allowed address pairs bound what it may send from; the link-local addresses
  of the network's DHCP ports and router interfaces are where router advertisements into it may
  come from (read before a plug too). The state file keeps all of it across restarts;
* each provider network with a plugged vNIC (of a driver that carries traffic: not ``noop``) is
  served DHCP here for its subnets with ``enable_dhcp``, from this host's own provider port
  (``device_owner`` ``network:dhcp``, ``device_id`` ``dhcp<host name>-<network id>``, found or
  created; its fixed IPs are the server's addresses): static leases for the network's ports, the
  subnets' gateways and DNS servers, the network's MTU (a VXLAN network's at most the underlay MTU
  less 50); IPv6 subnets as ``ipv6_subnets`` above (router advertisements where ``ipv6_ra_mode``
  is set, DHCPv6 leases for ``dhcpv6-stateful`` ones; a ``slaac`` subnet without ``ipv6_ra_mode``
  needs nothing from this host). New ports get leases at the next round. When the network's last
  vNIC here goes, the server stops and the port is deleted (later, if the provider is down
  meanwhile). Such servers are listed by ``GET /dhcp`` like the others; a network without such a
  subnet gets no DHCP. ``--no-provider-dhcp`` leaves DHCP to the provider's own DHCP agents (e.g.
  a real Neutron's).

Without a provider link nothing of this happens: groups and DHCP come only from the verbs above.

State persists in ``DATA_DIR/state.json``; on start the agent re-plugs everything it had
(idempotently), reporting a NIC it could not re-plug as ``failed``.
"""
