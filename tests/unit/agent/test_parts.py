"""The agent's composition: the parts, the plugging part's hooks (the seam toward the provider
follower) and the rule that the parts never depend on the follower or the reporter."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from unittest import mock

import pytest
from pydantic import SecretStr

import neutrino.agent as agent_package
from neutrino.agent.app import build_agent, neutron_endpoint
from neutrino.agent.datapath.memory import MemoryNet
from neutrino.agent.datapath.vswitch import IdlOvsDb
from neutrino.agent.dhcp_service import DhcpService
from neutrino.agent.errors import PlugFailed, VmExists
from neutrino.agent.host_agent import HostAgent
from neutrino.agent.internal_networks import InternalNetworks
from neutrino.agent.l3_follower import L3Follower
from neutrino.agent.l3_routers import L3Routers
from neutrino.agent.neutron_follower import NeutronFollower, Prefetcher
from neutrino.agent.ovn_chassis import OvnChassis
from neutrino.agent.plugging import NetworkUse, Plugging
from neutrino.agent.port_security import PortSecurity
from neutrino.agent.reporting import Reporter
from neutrino.agent.settings import AgentSettings
from neutrino.agent.state import HostStore
from neutrino.agent_api.schema import NicSpec, VmSpec
from neutrino.neutron_client import Credentials, Endpoint, NeutronClient
from tests.support.canned import Canned
from tests.support.neutron_transport import CannedAdapter

from .helpers import NET_A, ext_nic, vm

PARTS = ("plugging", "internal_networks", "dhcp_service", "port_security", "state", "identity", "l3_routers")
DRIVERS_OF_THE_PARTS = (
    "neutron_follower", "neutron_reads", "reporting", "host_agent", "app", "l3_follower", "l3_reads",
)  # fmt: skip


class RecordingHooks:
    """The plugging part's hooks, recording what the store holds as pending when called."""

    def __init__(self, store: HostStore, fail: bool = False) -> None:
        self.store, self.fail = store, fail
        self.calls: list[tuple[str, list[str], list[str]]] = []

    def prepare(self, nics: Sequence[NicSpec]) -> None:
        pending = self.store.pending
        self.calls.append(("prepare", [n.nic_id for n in nics], sorted(pending.ports)))
        if self.fail:
            raise PlugFailed("the provider is down")

    def plugged(self, nics: Sequence[NicSpec], networks: Mapping[str, NetworkUse]) -> None:
        # the vNICs are plugged when the hook serves them (their guests start after it)
        plugged = sorted(n.spec.nic_id for _, n in self.store.state.plugged_nics())
        self.calls.append(("plugged", [n.nic_id for n in nics], plugged))
        self.calls.append(("networks", sorted(networks), []))

    def kick(self) -> None:
        self.calls.append(("kick", [], sorted(self.store.pending.ports)))


def make(tmp_path: Path, neutron: NeutronClient | None = None, **options: object) -> HostAgent:
    settings = AgentSettings.model_validate(
        {"data_dir": tmp_path, "token": "t", "host_name": "h1", "host_net": "memory",
         "vnic_drivers": {"LINUX_BRIDGE": "linux_bridge"}, "tunnel_ip": "192.0.2.1", **options}
    )  # fmt: skip
    return build_agent(settings, host_net=MemoryNet(), neutron=neutron)


def test_without_a_provider_link_the_agent_has_no_follower_reporter_nor_hooks(tmp_path: Path) -> None:
    agent = make(tmp_path)
    assert agent.follower is None and agent.reporter is None and agent.vms.hooks is None
    assert isinstance(agent.vms, Plugging) and isinstance(agent.networks, InternalNetworks)
    assert isinstance(agent.dhcp, DhcpService) and isinstance(agent.security, PortSecurity)
    # the parts share one store
    assert agent.vms.store is agent.dhcp.store is agent.security.store is agent.networks.store is agent.store


def test_with_a_link_the_plug_hooks_prefetch_and_wake_the_follower(tmp_path: Path) -> None:
    neutron = NeutronClient(Endpoint(url="http://neutron"), adapter=CannedAdapter(lambda call: Canned(404)))
    agent = make(tmp_path, neutron)
    assert isinstance(agent.follower, NeutronFollower) and isinstance(agent.reporter, Reporter)
    hooks = agent.vms.hooks
    assert isinstance(hooks, Prefetcher) and hooks.neutron is neutron and agent.reporter.neutron is neutron
    assert not agent.follower._wake.is_set()
    hooks.kick()
    assert agent.follower._wake.is_set()


def test_the_provider_settings_make_one_endpoint(tmp_path: Path) -> None:
    given = {"data_dir": tmp_path, "token": "t", "provider_url": "https://net.example:9696/"}
    assert neutron_endpoint(AgentSettings.model_validate(given)) == Endpoint(
        url="https://net.example:9696/", connect_timeout=10, read_timeout=10
    )  # no password: no token (a provider in no-auth mode)
    settings = AgentSettings.model_validate(
        {**given, "provider_password": "pw", "provider_username": "agent", "provider_project": "svc",
         "provider_domain": "corp", "provider_ca_file": tmp_path / "ca.pem"}
    )  # fmt: skip
    endpoint = neutron_endpoint(settings)
    assert endpoint.credentials == Credentials(
        "https://net.example:9696/v3",
        "agent",
        "pw",
        "svc",
        user_domain_name="corp",
        project_domain_name="corp",
    )
    assert endpoint.ca_file == str(tmp_path / "ca.pem")
    v2 = neutron_endpoint(settings.model_copy(update={"provider_auth_url": "https://keystone:5000/v2.0"}))
    assert v2.credentials is not None and v2.credentials.auth_url == "https://keystone:5000/v2.0"


def test_the_hooks_prefetch_before_the_plug_and_are_kicked_after(tmp_path: Path) -> None:
    agent = make(tmp_path)
    hooks = agent.vms.hooks = RecordingHooks(agent.store)
    port = ext_nic(1)["external"]["vnic_id"]
    agent.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    # while prefetching, the vNIC's port is pending (kept by the follower's rounds); not after
    assert hooks.calls == [
        ("prepare", ["nic-1"], [port]),
        ("plugged", ["nic-1"], ["nic-1"]),
        ("networks", [NET_A], []),
        ("kick", [], []),
    ]
    assert agent.store.pending.ports == {} and agent.store.pending.networks == {}

    hooks.calls.clear()
    agent.vms.unplug_nic("vm-1", "nic-1")
    agent.vms.destroy_vm("vm-1")
    assert hooks.calls == [("kick", [], []), ("kick", [], [])]


def test_a_failed_prefetch_plugs_nothing_and_leaves_nothing_pending(tmp_path: Path) -> None:
    agent = make(tmp_path, vm_backend="netns", guest_dhcp=False)  # a guest is a namespace
    hooks = agent.vms.hooks = RecordingHooks(agent.store, fail=True)
    with pytest.raises(PlugFailed, match="provider is down"):
        agent.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    assert agent.vms.list_vms() == [] and agent.store.pending.ports == {}
    assert [c[0] for c in hooks.calls] == ["prepare", "kick"]  # nothing plugged, nothing served
    # the guest made while the hooks read went with the failure
    assert [ns for ns in agent.vms.host_net.netns_names() if "vm-1" in ns] == []

    hooks.fail = False
    agent.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(1))))
    guest = [ns for ns in agent.vms.host_net.netns_names() if "vm-1" in ns]
    assert len(guest) == 1
    with pytest.raises(VmExists):  # a refused verb clears what it made pending too
        agent.vms.create_vm(VmSpec.model_validate(vm("vm-1", ext_nic(2))))
    assert agent.store.pending.ports == {}
    # and leaves the VM that runs (its guest) alone
    assert [ns for ns in agent.vms.host_net.netns_names() if "vm-1" in ns] == guest
    assert agent.vms.provider_use().networks.keys() == {NET_A}


def _agent_imports(module: str) -> set[str]:
    tree = ast.parse((Path(agent_package.__file__).parent / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("neutrino.agent."):
            found.add(node.module.split(".")[2])
    return found


@pytest.mark.parametrize("part", PARTS)
def test_a_part_never_imports_what_drives_it(part: str) -> None:
    assert _agent_imports(part) & set(DRIVERS_OF_THE_PARTS) == set()


@pytest.mark.parametrize(
    "cls",
    [
        Plugging,
        InternalNetworks,
        DhcpService,
        PortSecurity,
        NeutronFollower,
        Reporter,
        HostAgent,
        OvnChassis,
        L3Routers,
        L3Follower,
    ],  # fmt: skip
)
def test_a_part_is_one_small_class_of_its_own(cls: type) -> None:
    public = [n for n, v in vars(cls).items() if inspect.isfunction(v) and not n.startswith("_")]
    assert len(public) <= 20
    assert [base.__name__ for base in cls.__mro__[1:]] == ["object"]  # no mixins, no parent stubs


def test_on_a_host_both_modes_plug_open_vswitch_through_one_ovsdbapp_connection_closed_at_stop(
    tmp_path: Path,
) -> None:
    """The builtin mode's open_vswitch driver writes through the agent's one ovsdbapp connection, as the
    OVN mode's does (no ``ovs-vsctl`` process per call); the agent's stop lets it go."""
    for ovn in ({}, {"ovn_remote": "tcp:192.0.2.10:6642", "ovn_encap_ip": "192.0.2.11"}):
        settings = AgentSettings(
            data_dir=tmp_path, token=SecretStr("t"), host_net="kernel", vm_backend="netns", firewall="none",
            vnic_drivers={"OPEN_VSWITCH": "open_vswitch"}, ovs_db="unix:/nonexistent/db.sock", **ovn,
        )  # fmt: skip
        agent = build_agent(settings)
        assert isinstance(agent.vswitch, IdlOvsDb) and agent.vswitch.db == "unix:/nonexistent/db.sock"
        assert agent.drivers["OPEN_VSWITCH"].context.ovs is agent.vswitch
        with mock.patch.object(agent.vswitch, "close") as close:
            agent.stop()
        close.assert_called_once_with()
