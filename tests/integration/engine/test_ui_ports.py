"""The web UI's reads of the provider ports behind the vNICs (``commands.port_reads``), on a real database with
the provider faked at the engine's seam: a VM's vNICs with their ports' addresses, a network's vNIC ports
with the vNIC and VM each serves, and a provider that fails reported in its own words in place of the ports."""

from __future__ import annotations

from neutrino.engine.commands import vms
from neutrino.engine.commands.port_reads import network_ports, vm_ports
from tests.integration.engine.test_lifecycle import World, world  # noqa: F401 (the fixture)

DOWN = "Failed to communicate with the external provider: cannot connect (refused)."


def test_a_vms_ports_give_each_vnic_its_addresses(world: World) -> None:  # noqa: F811
    vm_id, (n1, n2, n3) = world.vm("vm1", world.profiles[0], world.profiles[1], world.internal_profile)
    assert vm_ports(world.ctx, vm_id) == {"nics": []}  # no port before it runs
    vms.start_vm(world.ctx, vm_id)
    found = vm_ports(world.ctx, vm_id)
    assert found is not None
    by_nic = {e["id"]: e for e in found["nics"]}
    assert set(by_nic) == {n1, n2}  # the internal network's vNIC has no port
    for nic_id in (n1, n2):
        [port] = world.provider.ports_of(nic_id)
        assert by_nic[nic_id] == {
            "id": nic_id,
            "port_id": port.id,
            "status": "DOWN",
            "mac_address": port.mac_address,
            "host": world.host_name(vm_id),
            "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "s1"}],
        }
    assert n3 not in by_nic
    assert vm_ports(world.ctx, "no-such-vm") is None

    # the provider down: each vNIC says so, in the provider client's words
    world.provider.down = True
    failing = vm_ports(world.ctx, vm_id)
    assert failing is not None
    assert sorted(failing["nics"], key=lambda e: e["id"]) == sorted(
        [{"id": n, "port_id": world.nic(n).port_id, "error": DOWN} for n in (n1, n2)], key=lambda e: e["id"]
    )
    # a port gone from the provider
    world.provider.down = False
    world.provider.ports.pop(world.nic(n1).port_id or "")
    gone = {e["id"]: e for e in (vm_ports(world.ctx, vm_id) or {})["nics"]}
    assert gone[n1]["error"] == "The provider has no port for this vNIC."


def test_a_networks_ports_name_the_vnic_and_vm_they_serve(world: World) -> None:  # noqa: F811
    vm_id, (n1,) = world.vm("vm1", world.profiles[0])
    with world.ctx.reader() as uow:
        red = uow.profiles.get(world.profiles[0])
        internal = uow.profiles.get(world.internal_profile)
        assert red is not None and internal is not None
        red_net, mgmt = red.network_id, internal.network_id
    assert network_ports(world.ctx, red_net) == {"ports": []}
    vms.start_vm(world.ctx, vm_id)
    [port] = world.provider.ports_of(n1)
    found = network_ports(world.ctx, red_net)
    assert found is not None
    [entry] = found["ports"]
    assert entry["port_id"] == port.id and entry["device_id"] == n1
    assert entry["nic"] == {"id": n1, "name": "nic1"} and entry["vm"] == {"id": vm_id, "name": "vm1"}
    assert entry["fixed_ips"] == [{"ip_address": "10.0.0.5", "subnet_id": "s1"}]
    assert network_ports(world.ctx, mgmt) == {"ports": []}  # an engine network has none
    assert network_ports(world.ctx, "no-such-network") is None
    world.provider.down = True
    assert network_ports(world.ctx, red_net) == {"error": DOWN}
