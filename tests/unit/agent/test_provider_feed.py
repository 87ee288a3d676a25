"""The provider follower after the change feed named what changed: only what the changes touch
here is read and applied (a rule of a group in use: the groups; a port on a network here: the
ports and the DHCP leases; a change elsewhere: nothing), a vNIC plugged since makes it a full
round, and a provider without the feed is polled. Against the fake provider on the in-memory host."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from neutrino.agent.change_feed import FeedReader
from neutrino.agent.datapath import linux_net
from neutrino.agent.datapath.memory import World
from neutrino.neutron_client import Changed, Changes

from .fake_neutron import FakeNeutron
from .test_provider_follow import chains, make_agent, run
from .test_provider_sync import EGRESS, SSH_IN, nic_for

ICMP_IN = {"direction": "ingress", "protocol": "icmp"}


def ids(*values: str) -> frozenset[str]:
    return frozenset(values)


def reads(neutron: FakeNeutron) -> list[str]:
    """The collections read since the last call."""
    done = sorted({path.split("?")[0].removeprefix("/v2.0/") for method, path in neutron.requests})
    neutron.requests.clear()
    return done


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def neutron() -> FakeNeutron:
    return FakeNeutron()


def test_a_rule_of_a_group_in_use_is_applied_reading_only_the_groups(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    ssh, other = neutron.group(SSH_IN, EGRESS), neutron.group(EGRESS)
    port = neutron.port(net, groups=[ssh])
    run(agent, "vm-1", nic_for(port))
    sync.sync_once()
    ingress = f"nsg-i{linux_net.tap_name(port['id'])[3:]}"
    reads(neutron)

    # openstack security group rule create --protocol icmp SSH
    rule = neutron.rule(ssh, **ICMP_IN)
    done = sync.sync_changes({"security_group_rules": Changed(ids(rule), security_group_ids=ids(ssh))})
    assert done == ["rules"] and f"-A {ingress} -p icmp -j RETURN" in chains(world)
    assert reads(neutron) == ["security-groups"]  # the groups' rules, nothing else

    # a rule of a group nobody uses here, a network elsewhere: nothing read
    neutron.rule(other, **ICMP_IN)
    assert sync.sync_changes({"security_group_rules": Changed(ids("r"), security_group_ids=ids(other))}) == []
    assert sync.sync_changes({"networks": Changed(ids("elsewhere")), "routers": Changed(ids("x"))}) == []
    assert reads(neutron) == []
    # a deleted rule's group cannot be told: the groups here are read again
    assert sync.sync_changes({"security_group_rules": Changed(ids("gone"), security_group_ids=None)}) == [
        "rules"
    ]
    # a port joining the group (on another network): its members are read again
    far = neutron.network(segmentation_id=102)
    neutron.subnet(far, "10.2.0.0/24")
    joined = neutron.port(far, groups=[ssh])
    done = sync.sync_changes({"ports": Changed(ids(joined["id"]), ids(far), security_group_ids=ids(ssh))})
    members = {str(a) for a in agent.store.state.security_groups[ssh].member_ips}
    assert done == ["groups"] and joined["fixed_ips"][0]["ip_address"] in members


def test_a_port_on_a_network_here_updates_the_leases_without_rereading_networks(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    net, elsewhere = neutron.network(), neutron.network(segmentation_id=101)
    neutron.subnet(net, "10.0.0.0/24")
    port = neutron.port(net)
    run(agent, "vm-1", nic_for(port))
    sync.sync_once()
    reads(neutron)

    other = neutron.port(net)  # another host's VM on the same network
    assert sync.sync_changes({"ports": Changed(ids(other["id"]), network_ids=ids(net))}) == ["ports"]
    assert reads(neutron) == ["ports"]
    [spec] = agent.store.state.dhcp.values()
    assert other["mac_address"] in {h.mac for h in spec.hosts}

    far = neutron.port(elsewhere)
    assert sync.sync_changes({"ports": Changed(ids(far["id"]), network_ids=ids(elsewhere))}) == []
    assert reads(neutron) == []
    # deleted: known here by its id
    del neutron.data["ports"][other["id"]]
    assert sync.sync_changes({"ports": Changed(ids(other["id"]))}) == ["ports"]
    [spec] = agent.store.state.dhcp.values()
    assert other["mac_address"] not in {h.mac for h in spec.hosts}


def test_a_vnic_plugged_since_makes_it_a_full_round(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    sync.sync_once()
    run(agent, "vm-1", nic_for(neutron.port(net)))
    reads(neutron)
    assert sync.sync_changes({}) == ["groups", "networks", "ports"]  # a full round
    assert {"networks", "subnets", "ports"} <= set(reads(neutron))


def test_a_vm_made_and_gone_between_two_rounds_leaves_no_dhcp_server(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    """The vNICs here are the same before and after, but the create served DHCP on a network no vNIC
    uses now: the next round is a full one, which stops that server."""
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    sync.sync_once()
    run(agent, "vm-1", nic_for(neutron.port(net)))
    assert agent.dhcp.provider_served()
    agent.vms.destroy_vm("vm-1")
    sync.sync_changes({})
    assert agent.dhcp.provider_served() == {} and agent.store.state.dhcp == {}


def test_the_periodic_resync_rereads_only_when_the_providers_state_moved(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    ssh = neutron.group(SSH_IN, EGRESS)
    port = neutron.port(net, groups=[ssh])
    run(agent, "vm-1", nic_for(port))
    neutron.state = "s1"
    sync.feed_changed(Changes("e-1", None, state="s1"))  # the feed's first answer, at once
    sync._round(full=False)  # a full round after "anything may have changed", of state s1
    full = {"networks", "ports", "security-groups", "subnets"}
    assert full <= set(reads(neutron))

    sync._round(full=True)  # the resync: nothing written since, one request
    assert reads(neutron) == ["changes"]
    # written since (by anyone): the full round, and the resync after it is one request again
    ingress = f"nsg-i{linux_net.tap_name(port['id'])[3:]}"
    neutron.rule(ssh, **ICMP_IN)
    neutron.state = "s2"
    sync._round(full=True)
    assert set(reads(neutron)) == full | {"changes"}
    assert f"-A {ingress} -p icmp -j RETURN" in chains(world)
    sync._round(full=True)
    assert reads(neutron) == ["changes"]
    # a vNIC plugged since: a full round whatever the state
    run(agent, "vm-2", nic_for(neutron.port(net, groups=[ssh])))
    reads(neutron)
    sync._round(full=True)
    assert full <= set(reads(neutron))
    # changes the feed named since the last full round: applied, and the resync reads again
    sync.feed_changed(Changes("e-2", {"networks": Changed(ids(net))}))
    sync._round(full=False)
    assert set(reads(neutron)) == {"networks", "subnets"}
    neutron.state = "s3"
    sync._round(full=True)
    assert full <= set(reads(neutron))
    # a provider whose feed tells no state (an older Neutrino): every resync is a full round
    neutron.state = None
    sync.feed_changed(Changes("e-3", {}))
    sync._round(full=True)
    assert full <= set(reads(neutron))


def test_the_thread_applies_what_the_feed_says_at_once_and_polls_without_it(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    sync.interval = sync.resync_interval = 3600.0  # no round comes on its own while the test runs
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    ssh = neutron.group(SSH_IN, EGRESS)
    port = neutron.port(net, groups=[ssh])
    run(agent, "vm-1", nic_for(port))
    ingress = f"nsg-i{linux_net.tap_name(port['id'])[3:]}"
    sync.feed_changed(Changes("e-1", None))  # the feed's first answer: a full round
    sync.start()
    try:
        wait_for(lambda: f"-A {ingress} -p tcp -m tcp --dport 22 -j RETURN" in chains(world))
        rule = neutron.rule(ssh, **ICMP_IN)
        sync.feed_changed(
            Changes("e-2", {"security_group_rules": Changed(ids(rule), security_group_ids=ids(ssh))})
        )
        wait_for(lambda: f"-A {ingress} -p icmp -j RETURN" in chains(world))  # long before an hour's resync

        # a provider without the feed (a real Neutron): the follower polls every interval
        reader = FeedReader(neutron.client(), wait=1)
        reader.subscribe(sync)
        assert reader.read_once() is None and reader.available is False
        sync.interval = 0.05
        sync._wake.set()
        neutron.rule(ssh, direction="ingress", protocol="udp", port_range_min=53, port_range_max=53)
        wait_for(lambda: "--dport 53" in chains(world))
    finally:
        sync.stop()


def wait_for(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not applied"
        time.sleep(0.02)


def test_the_reporter_reads_the_agents_when_the_feed_says_they_changed(
    tmp_path: Path, world: World, neutron: FakeNeutron
) -> None:
    agent, _ = make_agent(tmp_path / "agent", world, neutron)
    reporter = agent.reporter
    assert reporter is not None
    reporter.feed_changed(Changes("e-1", {"ports": Changed(ids("p"))}))
    assert not reporter._peers_due
    reporter.feed_changed(Changes("e-2", {"agents": Changed(ids("a"))}))
    assert reporter._peers_due and reporter._wake.is_set() and reporter._feed
    reporter.feed_unavailable()  # a real Neutron: peers read after every report again
    assert not reporter._feed


def test_no_round_runs_while_a_verb_plugs_vnics_here_and_the_changes_wait_for_the_next(
    tmp_path: Path, world: World, neutron: FakeNeutron, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, sync = make_agent(tmp_path / "agent", world, neutron)
    net = neutron.network()
    neutron.subnet(net, "10.0.0.0/24")
    run(agent, "vm-1", nic_for(neutron.port(net)))
    sync.sync_once()
    port = neutron.port(net)  # the engine made the next vNIC's port: the feed names it
    sync.feed_changed(Changes("e-1", {"ports": Changed(ids(port["id"]), ids(net))}))
    reads(neutron)
    hooks = agent.vms.hooks
    assert hooks is not None
    during: list[object] = []
    prepare = hooks.prepare

    def prepared_beside_a_round(nics: object) -> None:
        during.extend([sync._round(full=True), reads(neutron)])  # the thread woken by the feed meanwhile
        prepare(nics)  # type: ignore[arg-type]

    monkeypatch.setattr(hooks, "prepare", prepared_beside_a_round)
    run(agent, "vm-2", nic_for(port, 2))
    assert during == [False, []]  # nothing read beside the verb's own reads
    reads(neutron)
    assert sync._round(full=False) is True  # after it: the feed's changes and the new vNIC, read
    assert {"networks", "ports", "subnets"} <= set(reads(neutron))
