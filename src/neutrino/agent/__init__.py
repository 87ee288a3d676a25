"""The host agent (the VDSM role): runs VMs on one host and plugs their vNICs into the datapath.

Layers, outermost first:

* ``cli`` (``neutrino agent``) and ``app`` (composition root: ``create_app(settings)``,
  ``build_agent(settings)``; nothing is built at import time), ``settings`` (one typed object,
  from arguments, the environment and a TOML config file; ``contrib/systemd`` runs it at boot);
* ``api`` — the HTTP server of the agent API, whose contract (prose and wire models) is the
  separate package ``neutrino.agent_api``, imported by the engine too;
* ``host_agent`` — the agent as composed parts, each with one job: ``plugging`` (VMs and their
  vNICs), ``internal_networks`` (the cluster networks' bridges), ``dhcp_service`` (dnsmasq per
  provider network), ``port_security`` (the firewall: security groups, port addresses, router
  advertisement sources), over ``state`` (``DATA_DIR/state.json``, replayed on start) and
  ``identity``;
* the provider side (the network provider, Neutron, spoken to through the shared client
  ``neutrino.neutron_client``): ``neutron_reads`` (what is read and how it becomes host state),
  ``neutron_follower`` (reads the provider and drives the parts: security groups, the ports'
  fixed IPs, DHCP), ``reporting`` (reports the host and learns VXLAN peers);
* ``vm`` backends (``netns``: a namespace per guest; ``libvirt``: domain XML files) and
  ``vnic`` drivers (entry points ``neutrino.vnic_drivers``: ``noop``, ``linux_bridge``,
  ``open_vswitch``);
* ``datapath`` — idempotent ``ensure_*`` / ``delete_*`` operations (``linux_net``), DHCP servers
  (``dhcp``), the iptables firewall (``firewall``), Open vSwitch (``vswitch``), all over the
  root-only seams ``HostNet`` (kernel: ``iproute``; fake: ``memory``) and ``OvsDb``.

Never imports ``neutrino.engine`` or ``neutrino.provider``.
"""
