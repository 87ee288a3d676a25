"""The ``noop`` vNIC driver: records the plug, touches nothing (os-vif's ``vif_plug_noop``)."""

from __future__ import annotations

from neutrino.agent.vnic.base import DriverInfo, Vif, VnicDriver
from neutrino.agent_api.schema import Plugged


class NoopDriver(VnicDriver):
    """Accepts every plugin type, network type and security group list, and does nothing."""

    name = "noop"
    carries_traffic = False

    def describe(self) -> DriverInfo:
        return DriverInfo(
            name=self.name,
            plugin_types=("*",),
            network_types=("*",),
            security_groups=True,
        )

    def plug(self, vif: Vif) -> Plugged:
        return Plugged(
            driver=self.name,
            vnic_id=vif.net.vnic_id,
            plugin_type=vif.net.plugin_type,
            mac=vif.mac,
            security_groups=vif.net.security_groups,
            device=vif.device,
        )

    def unplug(self, vif: Vif, *, network_in_use: bool) -> None:
        return None
