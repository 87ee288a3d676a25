"""Builders (through the real ovirtsdk4) and checks (against the provider's Neutron API and the agents' API)
shared by the vNIC port lifecycle tests."""

from __future__ import annotations

import contextlib
import datetime
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types

from tests.e2e.lifecycle.conftest import DEVICE_OWNER, PASSWORD, Agent, Stack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


def settled(read: Callable[[], Any], expected: Any, timeout: float = 20.0) -> Any:
    """Poll ``read`` until it returns ``expected`` or the time is up; the last value read (for the caller to
    assert on, so a failure shows what was there instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() >= deadline:
            return value
        time.sleep(0.2)


def refused(call: Callable[[], Any]) -> tuple[int | None, str]:
    """Run a call the engine must refuse; its HTTP status and fault detail."""
    try:
        call()
    except sdk.Error as exc:
        detail = exc.fault.detail if exc.fault is not None else str(exc)
        return exc.code, detail or ""
    raise AssertionError("the engine accepted a call it must refuse")


# --- the provider, seen directly ---------------------------------------------------------------------


class EngineSession:
    """A mixin holding an SDK session with ``stack``'s engine: opened on first use of ``system``, opened
    anew after :meth:`reconnect` (the engine restarted and its sessions went with it)."""

    stack: Stack
    _conn: Any = None

    @property
    def system(self) -> Any:
        if self._conn is None:
            self._conn = self.stack.connection()
        return self._conn.system_service()

    def reconnect(self) -> None:
        """A new SDK session from the next call on (after the engine restarted)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the engine that issued the session may be gone
                self._conn.close()
        self._conn = None


class Neutron:
    """The provider's Keystone and Neutron APIs as its `admin` (who sees every project's ports)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._token: str | None = None

    def _login(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "password": PASSWORD, "domain": {"name": "Default"}}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        resp = httpx.post(f"{self.url}/v3/auth/tokens", json=body, timeout=30.0)
        resp.raise_for_status()
        return resp.headers["X-Subject-Token"]

    def request(self, method: str, path: str, **kw: Any) -> Any:
        for _ in range(2):
            if self._token is None:
                self._token = self._login()
            resp = httpx.request(
                method, f"{self.url}{path}", headers={"X-Auth-Token": self._token}, timeout=30.0, **kw
            )
            if resp.status_code == 401:  # e.g. the provider restarted
                self._token = None
                continue
            resp.raise_for_status()
            return resp.json() if resp.content else None
        raise AssertionError(f"the provider refuses the admin token for {method} {path}")

    def ports(self, **filters: str) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v2.0/ports", params=filters)["ports"])

    def ports_of(self, device_id: str) -> list[dict[str, Any]]:
        """The ports the engine keeps for one vNIC (device_id = the vNIC's id, device_owner oVirt)."""
        return self.ports(device_id=device_id, device_owner=DEVICE_OWNER)

    def port_of(self, device_id: str) -> dict[str, Any]:
        found = self.ports_of(device_id)
        assert len(found) == 1, f"vNIC {device_id} has {len(found)} ports on the provider: {found}"
        return found[0]

    def engine_ports(self) -> list[dict[str, Any]]:
        return self.ports(device_owner=DEVICE_OWNER)

    def security_group(self, project_id: str, name: str | None = None) -> str:
        """A new security group in the project (or its ``default`` group when ``name`` is None)."""
        if name is None:
            found = self.request(
                "GET", "/v2.0/security-groups", params={"name": "default", "project_id": project_id}
            )["security_groups"]
            assert len(found) == 1, found
            return str(found[0]["id"])
        made = self.request(
            "POST", "/v2.0/security-groups", json={"security_group": {"name": name, "project_id": project_id}}
        )
        return str(made["security_group"]["id"])


# --- the agents, seen directly -----------------------------------------------------------------------


def agent_vms(agent: Agent) -> dict[str, dict[str, Any]]:
    """What an agent's list-VMs says: VM id -> the VM's state."""
    resp = httpx.get(f"{agent.url}/vms", headers={"Authorization": f"Bearer {agent.token}"}, timeout=30.0)
    resp.raise_for_status()
    return {vm["vm_id"]: vm for vm in resp.json()["vms"]}


def agent_nics(agent: Agent, vm_id: str) -> dict[str, dict[str, Any]]:
    """The vNICs an agent lists for a VM: vNIC id -> its state (``plugged`` holds what was plugged)."""
    vm = agent_vms(agent).get(vm_id)
    assert vm is not None, f"agent {agent.host_name} does not run VM {vm_id}"
    return {n["spec"]["nic_id"]: n for n in vm["nics"]}


# --- the engine: building blocks -----------------------------------------------------------------------


@dataclass
class ExternalNet:
    network: types.Network
    profile: types.VnicProfile  # the profile the engine made with the network
    provider_network_id: str


@dataclass
class Site:
    dc: types.DataCenter
    cluster: types.Cluster
    provider_id: str


def provider_id_named(system: Any, name: str) -> str:
    found = [p for p in system.openstack_network_providers_service().list() if p.name == name]
    assert len(found) == 1, [p.name for p in system.openstack_network_providers_service().list()]
    return str(found[0].id)


def register_provider(system: Any, stack: Stack, url: str | None = None) -> str:
    """Register the stack's provider (or a proxy in front of it, ``url``) as its admin."""
    url = url or stack.provider_url
    made = system.openstack_network_providers_service().add(
        types.OpenStackNetworkProvider(
            name=unique("neutrino"),
            url=url,
            requires_authentication=True,
            username="admin",
            password=PASSWORD,
            authentication_url=f"{url}/v3",
            tenant_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
            external_plugin_type="LINUX_BRIDGE",
            type=types.OpenStackNetworkProviderType.NEUTRON,
        )
    )
    return str(made.id)


def make_site(system: Any, provider_id: str) -> Site:
    dc = system.data_centers_service().add(types.DataCenter(name=unique("dc"), local=False))
    cluster = system.clusters_service().add(
        types.Cluster(
            name=unique("cl"),
            data_center=types.DataCenter(id=dc.id),
            cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
            external_network_providers=[types.ExternalProvider(id=provider_id)],
        )
    )
    return Site(dc, cluster, provider_id)


def external_network(system: Any, site: Site, name: str | None = None) -> ExternalNet:
    """A network created on the provider through the engine, imported into the site's DC and attached to its
    cluster (never required: an external network cannot be)."""
    name = name or unique("ext")
    net = system.networks_service().add(
        types.Network(
            name=name,
            data_center=types.DataCenter(id=site.dc.id),
            external_provider=types.OpenStackNetworkProvider(id=site.provider_id),
        )
    )
    system.clusters_service().cluster_service(site.cluster.id).networks_service().add(
        types.Network(id=net.id, required=False)
    )
    [profile] = system.networks_service().network_service(net.id).vnic_profiles_service().list()
    return ExternalNet(net, profile, provider_network_id(system, site.provider_id, name))


def provider_network_id(system: Any, provider_id: str, name: str) -> str:
    nets = (
        system.openstack_network_providers_service().provider_service(provider_id).networks_service().list()
    )
    found = [n for n in nets if n.name == name]
    assert len(found) == 1, [n.name for n in nets]
    return str(found[0].id)


def profile_on(system: Any, net: ExternalNet, security_groups: str | None) -> types.VnicProfile:
    """Another vNIC profile on the network, with the SecurityGroups custom property set to ``security_groups``
    (None: the property is not set at all)."""
    props = (
        None
        if security_groups is None
        else [types.CustomProperty(name="SecurityGroups", value=security_groups)]
    )
    return system.vnic_profiles_service().add(
        types.VnicProfile(
            name=unique("prof"), network=types.Network(id=net.network.id), custom_properties=props
        )
    )


def add_host(system: Any, site: Site, agent: Agent, port: int | None = None) -> Any:
    """Enroll an agent as a host of the site's cluster (``port``: a proxy in front of the agent); it is Up."""
    host = system.hosts_service().add(
        types.Host(
            name=agent.host_name,
            address="127.0.0.1",
            port=port or agent.port,
            root_password=agent.token,
            cluster=types.Cluster(id=site.cluster.id),
        )
    )
    assert host.status == types.HostStatus.UP, (host.status, host.status_detail)
    return host


def add_vm(system: Any, site: Site, profiles: list[types.VnicProfile]) -> tuple[types.Vm, list[types.Nic]]:
    """A VM in the site's cluster with one plugged, linked vNIC per profile (nic1, nic2, ...)."""
    vm = system.vms_service().add(
        types.Vm(
            name=unique("vm"),
            cluster=types.Cluster(id=site.cluster.id),
            template=types.Template(name="Blank"),
        )
    )
    nics_svc = system.vms_service().vm_service(vm.id).nics_service()
    nics = [
        nics_svc.add(types.Nic(name=f"nic{i}", vnic_profile=types.VnicProfile(id=p.id)))
        for i, p in enumerate(profiles, 1)
    ]
    return vm, nics


def vm_service(system: Any, vm_id: str) -> Any:
    return system.vms_service().vm_service(vm_id)


def vm_status(system: Any, vm_id: str) -> types.VmStatus:
    return vm_service(system, vm_id).get().status


def host_of(system: Any, vm_id: str) -> str | None:
    vm = vm_service(system, vm_id).get()
    return vm.host.id if vm.host is not None else None


def nic_ids(system: Any, vm_id: str) -> list[str]:
    return [n.id for n in vm_service(system, vm_id).nics_service().list()]


def provisioning(stack: Stack, vm_id: str, nic_id: str) -> dict[str, Any]:
    """Neutrino's ``provisioning`` extension of a vNIC (ovirtsdk4 skips it), read as JSON."""
    with stack.api() as api:
        resp = api.get(f"/vms/{vm_id}/nics/{nic_id}")
        resp.raise_for_status()
        return dict(resp.json().get("provisioning") or {})


def steps_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    steps = record.get("steps") or {}
    return list(steps.get("step") or []) if isinstance(steps, dict) else list(steps)


def step_times(record: dict[str, Any]) -> list[datetime.datetime]:
    return [datetime.datetime.fromisoformat(s["time"]) for s in steps_of(record)]
