"""The host agent (the VDSM role): runs VMs on one host and plugs their vNICs into the datapath.

Layers, outermost first:

* ``cli`` (``neutrino agent``) and ``app`` (composition root: ``create_app(settings)``,
  ``build_agent(settings)``; nothing is built at import time), ``settings`` (one typed object,
  from arguments, the environment and a TOML config file; ``contrib/systemd`` runs it at boot);
* ``api`` — the HTTP contract the engine speaks (documented in ``neutrino.agent.api``);
* ``service`` / ``network_services`` — the verbs: VMs, hot-plug, internal networks, DHCP,
  security groups; persisted in ``state`` (``DATA_DIR/state.json``) and replayed on start;
* ``provider_link`` — reports to the network provider and learns VXLAN peers from it;
  ``provider_sync`` — takes security groups, the ports' fixed IPs and DHCP from it, applied
  through ``provider_services`` (the agent's side of that sync);
* ``vm`` backends (``netns``: a namespace per guest; ``libvirt``: domain XML files) and
  ``vnic`` drivers (entry points ``neutrino.vnic_drivers``: ``noop``, ``linux_bridge``,
  ``open_vswitch``);
* ``datapath`` — idempotent ``ensure_*`` / ``delete_*`` operations (``linux_net``), DHCP servers
  (``dhcp``), the iptables firewall (``firewall``), Open vSwitch (``vswitch``), all over the
  root-only seams ``HostNet`` (kernel: ``iproute``; fake: ``memory``) and ``OvsDb``.

Never imports ``neutrino.engine`` or ``neutrino.provider``.
"""
