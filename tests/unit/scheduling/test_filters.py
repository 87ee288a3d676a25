from __future__ import annotations

from neutrino.engine.scheduling.filters import HostView, PluginSupport, VmNeeds, VnicNeed, schedule

LB = {"LINUX_BRIDGE": PluginSupport(frozenset({"vxlan", "flat"}), security_groups=True)}


def host(name: str, **kw: object) -> HostView:
    base: dict[str, object] = {
        "id": name,
        "name": name,
        "up": True,
        "internal_networks": frozenset({"ovirtmgmt"}),
        "plugin_types": LB,
    }
    return HostView(**{**base, **kw})  # type: ignore[arg-type]


def test_each_excluded_host_names_its_filter() -> None:
    needs = VmNeeds(
        frozenset({"ovirtmgmt", "storage"}),
        (VnicNeed("nic1", plugin_type="LINUX_BRIDGE", network_type="vxlan"),),
    )
    hosts = [
        host("down", up=False),
        host("nostorage"),
        host("noplug", internal_networks=frozenset({"ovirtmgmt", "storage"}), plugin_types={}),
    ]
    decision = schedule(hosts, needs)
    assert decision.host is None
    assert decision.excluded == {
        "down": "Up: the host is not Up",
        "nostorage": "RequiredNetworks: it lacks the cluster's required network(s) storage",
        "noplug": "VnicNetworks: vNIC nic1: its agent has no vNIC driver for plugin type LINUX_BRIDGE",
    }
    assert decision.explain().startswith("No host can run the VM: down (Up: the host is not Up); ")


def test_external_networks_are_never_required_but_the_driver_must_carry_the_type() -> None:
    vlan = VmNeeds(
        frozenset({"ovirtmgmt"}), (VnicNeed("nic1", plugin_type="LINUX_BRIDGE", network_type="vlan"),)
    )
    assert schedule([host("h1")], vlan).excluded == {
        "h1": "VnicNetworks: vNIC nic1: its LINUX_BRIDGE driver cannot carry vlan networks"
    }
    vxlan = VmNeeds(
        frozenset({"ovirtmgmt"}), (VnicNeed("nic1", plugin_type="LINUX_BRIDGE", network_type="vxlan"),)
    )
    assert schedule([host("h1")], vxlan).host is not None
    anything = {"LINUX_BRIDGE": PluginSupport(frozenset({"*"}), security_groups=False)}
    assert schedule([host("h2", plugin_types=anything)], vlan).host is not None


def test_security_groups_need_a_driver_that_applies_them() -> None:
    needs = VmNeeds(frozenset(), (VnicNeed("nic1", plugin_type="LINUX_BRIDGE", security_groups=True),))
    weak = {"LINUX_BRIDGE": PluginSupport(frozenset({"*"}), security_groups=False)}
    assert "cannot apply security groups" in schedule([host("h", plugin_types=weak)], needs).excluded["h"]


def test_provider_agent_health_only_matters_for_external_vnics() -> None:
    dead = host("h", provider_agent_alive=False)
    external = VmNeeds(frozenset(), (VnicNeed("nic1", plugin_type="LINUX_BRIDGE"),))
    internal = VmNeeds(frozenset(), (VnicNeed("nic1", internal_network="ovirtmgmt"),))
    assert schedule([dead], external).excluded == {
        "h": "ProviderAgent: the network provider reports its agent dead"
    }
    assert schedule([dead], internal).host is dead
    unknown = host("u", provider_agent_alive=None)  # a provider without agents does not filter
    assert schedule([unknown], external).host is unknown


def test_internal_vnic_needs_its_bridge() -> None:
    needs = VmNeeds(frozenset(), (VnicNeed("nic2", internal_network="backend"),))
    assert schedule([host("h")], needs).excluded == {
        "h": "VnicNetworks: vNIC nic2: network backend is not set up on it"
    }


def test_least_loaded_host_wins_unless_one_is_preferred() -> None:
    needs = VmNeeds(frozenset())
    busy, idle = host("busy", running_vms=5), host("idle", running_vms=1)
    assert schedule([busy, idle], needs).host is idle
    assert schedule([busy, idle], needs, prefer="busy").host is busy
    assert schedule([], needs).explain() == "There is no host in the VM's cluster."


def test_a_placement_policy_s_hosts_are_the_only_candidates() -> None:
    pinned = VmNeeds(frozenset(), allowed_hosts=frozenset({"b"}))
    decision = schedule([host("a"), host("b")], pinned)
    assert decision.host is not None and decision.host.id == "b"
    assert decision.excluded == {"a": "PinToHost: the VM's placement policy does not name it"}
    assert schedule([host("a")], pinned).host is None
    assert schedule([host("a"), host("b")], VmNeeds(frozenset())).host is not None  # no policy: any host
