"""``binding:vif_type`` and ``binding:vif_details`` of a port bound to a host, as Neutron's mechanism
drivers report them for the datapath behind this provider: the builtin backend's hosts plug ports
into the network's Linux bridge (linuxbridge's ``bridge``, bridge ``brq<network[:11]>``); OVN's plug
them into the chassis' integration bridge (``ovs``, ``br-int``). ``vif_type`` in the settings
overrides the backend's (a deployment whose hosts plug otherwise says so there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neutrino.provider.settings import ProviderSettings

UNBOUND = "unbound"
#: The OVN chassis' integration bridge (the agent's default too).
INTEGRATION_BRIDGE = "br-int"


def linux_bridge_name(network_id: str) -> str:
    """``brq<net[:11]>``: the name the builtin agent gives the network's bridge (Neutron's
    linuxbridge agent's; ``neutrino.agent.datapath.linux_net.brq_name`` on the host side)."""
    return ("brq" + network_id)[:14]


def vif_binding(settings: ProviderSettings, host: str, network_id: str) -> dict[str, Any]:
    """The ``binding_vif_type`` / ``binding_vif_details`` columns of a port bound to ``host``."""
    if not host:
        return {"binding_vif_type": UNBOUND, "binding_vif_details": {}}
    vif_type = settings.vif_type or ("ovs" if settings.backend == "ovn" else "bridge")
    details: dict[str, Any] = {"port_filter": True, "connectivity": "l2"}
    if vif_type == "ovs":
        details["bridge_name"] = INTEGRATION_BRIDGE
    elif vif_type == "bridge":
        details["bridge_name"] = linux_bridge_name(network_id)
    return {"binding_vif_type": vif_type, "binding_vif_details": details}
