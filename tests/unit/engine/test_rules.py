"""Pure domain rules and the oVirt message forms they raise."""

from __future__ import annotations

import pytest

from neutrino.engine.domain import errors
from neutrino.engine.domain.rules import MAX_NAME, check_mtu, check_name, check_vlan, network_name_in_use


def test_check_name() -> None:
    assert check_name("vm1") == "vm1"
    for bad in ("", "   ", None, 42):
        with pytest.raises(errors.BadRequest, match="'name' is required"):
            check_name(bad)
    with pytest.raises(errors.BadRequest, match="longer than"):
        check_name("x" * (MAX_NAME + 1))
    assert check_name("x" * MAX_NAME)
    with pytest.raises(errors.BadRequest, match="'description'"):
        check_name("", "description")


@pytest.mark.parametrize("vlan", [None, 0, 1, 4094])
def test_valid_vlans(vlan: int | None) -> None:
    check_vlan(vlan)


@pytest.mark.parametrize("vlan", [-1, 4095, 10000])
def test_invalid_vlans(vlan: int) -> None:
    with pytest.raises(errors.BadRequest, match="'vlan.id'"):
        check_vlan(vlan)


@pytest.mark.parametrize("mtu", [0, 68, 1500, 9000, 65520])
def test_valid_mtus(mtu: int) -> None:
    check_mtu(mtu)


@pytest.mark.parametrize("mtu", [-1, 1, 67, 65521])
def test_invalid_mtus(mtu: int) -> None:
    with pytest.raises(errors.BadRequest, match="'mtu'"):
        check_mtu(mtu)


def test_network_name_in_use_text() -> None:
    err = network_name_in_use("add", "net1")
    assert isinstance(err, errors.Conflict)
    assert err.message.startswith(
        "Cannot add Network. The name of the logical network 'net1' is already used by an existing logical network "
        "in the same data-center."
    )


def test_used_by_one_and_many() -> None:
    one = errors.used_by("remove", "Network", "logical network", ["vm1", "vm1"])
    assert isinstance(one, errors.InUse)
    assert one.message == (
        "Cannot remove Network. This logical network is used by virtual machine: vm1\n"
        " - Please remove it from this virtual machine and try again."
    )
    many = errors.used_by("remove", "Network", "logical network", ["vm2", "vm1"])
    assert many.message == (
        "Cannot remove Network. This logical network is used by virtual machines: (2): vm1, vm2\n"
        " - Please detach virtual machines using this logical network and try again."
    )


def test_generic_name_in_use_text() -> None:
    assert errors.name_in_use("add", "VM").message == (
        "Cannot add VM. The VM name is already in use, please choose a unique name and try again."
    )


def test_categories() -> None:
    assert issubclass(errors.InUse, errors.Conflict)
    for cls in (
        errors.NotFound,
        errors.BadRequest,
        errors.Conflict,
        errors.ProviderFailure,
        errors.HostFailure,
    ):
        assert issubclass(cls, errors.EngineError)
    assert errors.not_found("VM", "x").message == "VM 'x' was not found."


def test_fault_table_maps_each_category() -> None:
    from neutrino.engine.api.faults import fault, status_of

    assert status_of(errors.NotFound("x")) == 404
    assert status_of(errors.BadRequest("x")) == 400
    assert status_of(errors.InUse("x")) == 409
    assert status_of(errors.Conflict("x")) == 409
    assert status_of(errors.ProviderFailure("x")) == 400
    assert fault("Cannot remove VM. VM is running.") == {
        "reason": "Operation Failed",
        "detail": "[Cannot remove VM. VM is running.]",
    }


def test_check_memory() -> None:
    from neutrino.engine.domain.rules import check_memory

    check_memory(1)
    for bad in (0, -5):
        with pytest.raises(errors.BadRequest, match="'memory'"):
            check_memory(bad)


def test_an_internal_networks_bridge_is_its_name_only_when_that_can_be_an_interface_name() -> None:
    from neutrino.engine.domain.model import Network, bridge_name

    def net(name: str) -> Network:
        return Network(id="0f3e2d1c-aaaa-bbbb-cccc-111122223333", name=name, data_center_id="dc")

    assert bridge_name(net("ovirtmgmt")) == "ovirtmgmt"
    assert bridge_name(net("vm.net_1-a")) == "vm.net_1-a"
    for name in ("a" * 16, "my net", "réseau", "br;x", ".."):
        assert bridge_name(net(name)) == "on0f3e2d1caaaab"
