"""Builders shared by the agent's unit tests."""

from __future__ import annotations

from typing import Any

TOKEN = "s3cret-agent-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

NET_A = "9a8b7c6d-1111-2222-3333-444455556666"
NET_B = "7e6d5c4b-aaaa-bbbb-cccc-ddddeeeeffff"


def ext_nic(
    n: int, *, network_id: str = NET_A, plugin_type: str = "LINUX_BRIDGE", **external: Any
) -> dict[str, Any]:
    """A vNIC on an external network, numbered ``n`` (distinct ids and MACs per ``n``)."""
    ext: dict[str, Any] = {
        "vnic_id": f"{n:08x}-1111-4222-8333-444455556666",
        "plugin_type": plugin_type,
        "network_id": network_id,
        "network_type": "vxlan",
        "segmentation_id": 100,
    }
    ext.update(external)
    return {"nic_id": f"nic-{n}", "name": f"nic{n}", "mac": f"56:6f:1a:2b:3c:{n:02x}", "external": ext}


def int_nic(n: int, network: str = "ovirtmgmt", bridge: str | None = None) -> dict[str, Any]:
    internal: dict[str, Any] = {"network": network}
    if bridge:
        internal["bridge"] = bridge
    return {"nic_id": f"nic-{n}", "name": f"nic{n}", "mac": f"56:6f:1a:2b:3c:{n:02x}", "internal": internal}


def vm(vm_id: str = "vm-1", *nics: dict[str, Any]) -> dict[str, Any]:
    return {"vm_id": vm_id, "name": vm_id, "nics": list(nics)}
