"""Builders and checks shared by the provider e2e tests (all through the real ovirtsdk4)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as types

from tests.e2e.providers.conftest import Member, Provider


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Site:
    dc: types.DataCenter
    cluster: types.Cluster


def make_site(system: Any, provider_id: str | None = None) -> Site:
    dc = system.data_centers_service().add(types.DataCenter(name=unique("dc"), local=False))
    cluster = system.clusters_service().add(
        types.Cluster(
            name=unique("cl"),
            data_center=types.DataCenter(id=dc.id),
            cpu=types.Cpu(architecture=types.Architecture.X86_64, type="Intel Nehalem Family"),
            external_network_providers=[types.ExternalProvider(id=provider_id)] if provider_id else None,
        )
    )
    return Site(dc, cluster)


def add_provider(
    system: Any, provider: Provider, member: Member, *, auth_path: str = "/v3", **kw: Any
) -> types.OpenStackNetworkProvider:
    fields: dict[str, Any] = dict(
        name=unique("neutrino"),
        url=provider.url,
        requires_authentication=True,
        username=member.username,
        password=member.password,
        authentication_url=provider.url + auth_path,
        tenant_name=member.project,
        user_domain_name="Default",
        project_domain_name="Default",
        external_plugin_type="LINUX_BRIDGE",
        type=types.OpenStackNetworkProviderType.NEUTRON,
    )
    fields.update(kw)
    return system.openstack_network_providers_service().add(types.OpenStackNetworkProvider(**fields))


def refused(call: Callable[[], Any]) -> tuple[int | None, str]:
    """Run a call the engine must refuse; its HTTP status and fault detail."""
    try:
        call()
    except sdk.Error as exc:
        detail = exc.fault.detail if exc.fault is not None else str(exc)
        return exc.code, detail or ""
    raise AssertionError("the engine accepted a call it must refuse")


def provider_network_named(system: Any, provider_id: str, name: str) -> types.OpenStackNetwork:
    nets = (
        system.openstack_network_providers_service().provider_service(provider_id).networks_service().list()
    )
    found = [n for n in nets if n.name == name]
    assert len(found) == 1, [n.name for n in nets]
    return found[0]


def engine_networks(system: Any, dc_id: str) -> list[types.Network]:
    return [n for n in system.networks_service().list() if n.data_center and n.data_center.id == dc_id]


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
