"""The engine's agent client against a real `neutrino agent` process (noop drivers, libvirt backend, the
in-memory host model: no root needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from neutrino.agent_api import schema as wire
from neutrino.engine.domain.errors import HostFailure
from neutrino.engine.hosts.agent_client import AgentAddress, AgentClient, AgentError
from tests.support.servers import free_port, neutrino_process

TOKEN = "agent-test-token"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentAddress]:
    tmp: Path = tmp_path_factory.mktemp("agent")
    port = free_port()
    args = [
        "agent",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(tmp / "data"),
        "--token",
        TOKEN,
        "--host-name",
        "host-a",
        "--vm-backend",
        "libvirt",
        "--host-net",
        "memory",
    ]
    with neutrino_process(args, f"http://127.0.0.1:{port}/api/v1/capabilities", tmp / "agent.log"):
        yield AgentAddress("host-a", "127.0.0.1", port, TOKEN, timeout=10)


def nic(nic_id: str, port_id: str) -> wire.NicSpec:
    return wire.NicSpec(
        nic_id=nic_id,
        name="nic1",
        mac="56:6f:00:00:00:11",
        mtu=1450,
        external=wire.ExternalNet(
            vnic_id=port_id,
            plugin_type="LINUX_BRIDGE",
            network_id="net-1",
            network_type="vxlan",
            segmentation_id=7,
            security_groups=None,
        ),
    )


def test_capabilities_say_what_the_host_can_plug(agent: AgentAddress) -> None:
    caps = AgentClient(agent).capabilities()
    assert caps.host_name == "host-a"
    assert caps.plugin_types["LINUX_BRIDGE"].binding_host_id == "host-a"


def test_create_list_and_destroy_a_vm(agent: AgentAddress) -> None:
    client = AgentClient(agent)
    vm = client.create_vm(wire.VmSpec(vm_id="vm-1", name="vm1", nics=[nic("nic-1", "port-0000000001")]))
    assert vm.status == "Up"
    [state] = vm.nics
    assert (
        state.state == "plugged" and state.plugged is not None and state.plugged.vnic_id == "port-0000000001"
    )
    assert [v.vm_id for v in client.list_vms()] == ["vm-1"]
    client.destroy_vm("vm-1")
    assert client.get_vm("vm-1") is None
    client.destroy_vm("vm-1")  # gone already: nothing to do


def test_hotplug_and_unplug(agent: AgentAddress) -> None:
    client = AgentClient(agent)
    client.create_vm(wire.VmSpec(vm_id="vm-2", name="vm2"))
    state = client.hotplug_nic("vm-2", nic("nic-2", "port-0000000002"))
    assert state.state == "plugged"
    client.hotunplug_nic("vm-2", "nic-2")
    after = client.get_vm("vm-2")
    assert after is not None and after.nics == []
    client.destroy_vm("vm-2")


def test_agent_errors_keep_the_agents_code_and_message(agent: AgentAddress) -> None:
    client = AgentClient(agent)
    with pytest.raises(AgentError) as err:
        client.hotplug_nic("no-such-vm", nic("nic-3", "port-0000000003"))
    assert err.value.code == "VmNotFound" and err.value.status == 404
    assert str(err.value).startswith("Host host-a: ")


def test_wrong_token_and_unreachable_host(agent: AgentAddress) -> None:
    with pytest.raises(AgentError, match="refused the engine's token"):
        AgentClient(AgentAddress("host-a", agent.address, agent.port, "wrong")).capabilities()
    closed = free_port()
    with pytest.raises(
        HostFailure, match=f"Host ghost cannot be reached at http://127.0.0.1:{closed}/api/v1"
    ):
        AgentClient(AgentAddress("ghost", "127.0.0.1", closed, TOKEN, timeout=2)).capabilities()


def test_an_answer_that_breaks_the_contract_is_a_host_failure_naming_the_model() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"vms": [{"vm_id": "vm-9", "status": "Sideways"}]})

    client = AgentClient(AgentAddress("host-b", "127.0.0.1", 1, TOKEN), transport=httpx.MockTransport(answer))
    with pytest.raises(HostFailure, match=r"Host host-b answered what the agent API does not say \(VmList\)"):
        client.list_vms()
