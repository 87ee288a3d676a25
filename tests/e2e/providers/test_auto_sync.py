"""Auto-sync with a real, short synchronization interval: the engine follows what happens on the provider
(networks created, renamed, deleted) in the data centers of clusters whose default provider it is; a 401 turns
auto-sync off; with auto-sync off a deleted network is only shown as missing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import ovirtsdk4.types as types
import pytest

from tests.e2e.providers.conftest import ENGINE_PASSWORD, Engine, Member, Provider, run_engine
from tests.e2e.providers.helpers import add_provider, engine_networks, eventually, make_site, unique

SYNC_INTERVAL = 0.5


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """This module's engine synchronizes with its providers every SYNC_INTERVAL seconds."""
    with run_engine(
        request.param, tmp_path_factory.mktemp(f"sync-{request.param}"), SYNC_INTERVAL
    ) as running:
        yield running


def _events(system: Any) -> list[str]:
    return [e.description or "" for e in system.events_service().list()]


def _network_xml(engine: Engine, network_id: str) -> str:
    resp = httpx.get(
        f"{engine.url}/networks/{network_id}",
        auth=("admin@internal", ENGINE_PASSWORD),
        headers={"Accept": "application/xml"},
    )
    resp.raise_for_status()
    return resp.text


def _in_dc(system: Any, dc_id: str, name: str) -> types.Network | None:
    found = [n for n in engine_networks(system, dc_id) if n.name == name]
    return found[0] if found else None


def test_auto_sync_follows_the_provider(system: Any, provider: Provider) -> None:
    member = provider.new_member()
    registered = add_provider(system, provider, member, auto_sync=True)
    site, elsewhere = make_site(system, provider_id=registered.id), make_site(system)
    cluster = system.clusters_service().cluster_service(site.cluster.id).get()
    assert [p.id for p in cluster.external_network_providers or []] == [registered.id]

    name = unique("auto")
    with provider.neutron(member) as neutron:
        ext = neutron.post("/networks", json={"network": {"name": name}}).json()["network"]

        # created on the provider -> imported into the DC, attached non-required to the cluster
        net = eventually(lambda: _in_dc(system, site.dc.id, name), what="auto-import")
        assert net.external_provider is not None and net.external_provider.id == registered.id
        attached = system.clusters_service().cluster_service(site.cluster.id).networks_service().list()
        assert [(n.name, n.required) for n in attached if n.id == net.id] == [(name, False)]
        assert any(f"imported network '{name}'" in e and site.cluster.name in e for e in _events(system))

        # only in the DCs of clusters whose default provider it is
        assert _in_dc(system, elsewhere.dc.id, name) is None

        # renamed (and MTU changed) on the provider -> followed by the engine
        renamed = unique("renamed")
        neutron.put(
            f"/networks/{ext['id']}", json={"network": {"name": renamed, "mtu": 1400}}
        ).raise_for_status()
        eventually(
            lambda: system.networks_service().network_service(net.id).get().name == renamed, what="rename"
        )
        assert system.networks_service().network_service(net.id).get().mtu == 1400
        assert any(name in e and renamed in e and "MTU" in e for e in _events(system))

        # a VM's plugged vNIC uses it; deleted on the provider -> removed from the engine, the vNIC unplugged
        [profile] = system.networks_service().network_service(net.id).vnic_profiles_service().list()
        vm = system.vms_service().add(
            types.Vm(
                name=unique("vm"),
                cluster=types.Cluster(id=site.cluster.id),
                template=types.Template(name="Blank"),
            )
        )
        nics = system.vms_service().vm_service(vm.id).nics_service()
        nic = nics.add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=profile.id), plugged=True))
        assert nic.plugged is True
        neutron.delete(f"/networks/{ext['id']}").raise_for_status()

    eventually(lambda: _in_dc(system, site.dc.id, renamed) is None, what="auto-removal")
    assert net.id not in [n.id for n in system.networks_service().list()]
    [left] = nics.list()
    assert (left.id, left.vnic_profile, left.plugged) == (nic.id, None, False)
    assert any(f"removed network '{renamed}'" in e and "1 vNIC" in e for e in _events(system))


def test_auto_sync_turns_itself_off_on_401(system: Any, provider: Provider) -> None:
    member = provider.new_member()
    registered = add_provider(system, provider, member, auto_sync=True)
    make_site(system, provider_id=registered.id)
    service = system.openstack_network_providers_service().provider_service(registered.id)
    service.update(types.OpenStackNetworkProvider(password="changed-behind-its-back"))

    eventually(lambda: service.get().auto_sync is False, what="auto-sync off")
    assert any(
        f"Auto-sync of provider '{registered.name}' was turned off" in e and "401" in e
        for e in _events(system)
    )


def test_without_auto_sync_a_deleted_network_is_only_marked_missing(
    engine: Engine, system: Any, provider: Provider
) -> None:
    member: Member = provider.new_member()
    registered = add_provider(system, provider, member, auto_sync=False)
    site = make_site(system, provider_id=registered.id)
    name = unique("manual")
    with provider.neutron(member) as neutron:
        ext = neutron.post("/networks", json={"network": {"name": name}}).json()["network"]
        # auto-sync is off: nothing is imported by itself
        service = system.openstack_network_providers_service().provider_service(registered.id)
        service.networks_service().network_service(ext["id"]).import_(
            data_center=types.DataCenter(id=site.dc.id)
        )
        net = _in_dc(system, site.dc.id, name)
        assert net is not None
        assert "external_network_missing" not in _network_xml(engine, net.id)
        neutron.delete(f"/networks/{ext['id']}").raise_for_status()

    eventually(
        lambda: "<external_network_missing>true</external_network_missing>" in _network_xml(engine, net.id),
        what="marked missing",
    )
    assert _in_dc(system, site.dc.id, name) is not None
    assert any(f"Network '{name}' no longer exists" in e for e in _events(system))
    other = unique("not-imported")
    with provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {"name": other}}).raise_for_status()
    time.sleep(SYNC_INTERVAL * 4)
    assert _in_dc(system, site.dc.id, other) is None


class _Refuses400(BaseHTTPRequestHandler):
    """A "provider" that refuses every request with a Neutron 400."""

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps(
            {"NeutronError": {"type": "HTTPBadRequest", "message": "no", "detail": ""}}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_broken_provider_does_not_stop_the_others(system: Any, provider: Provider) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses400)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    providers = system.openstack_network_providers_service()
    broken = providers.add(
        types.OpenStackNetworkProvider(
            name=unique("a-broken"),
            url=f"http://127.0.0.1:{server.server_address[1]}",
            requires_authentication=False,
            external_plugin_type="LINUX_BRIDGE",
            type=types.OpenStackNetworkProviderType.NEUTRON,
            auto_sync=True,
        )
    )
    try:
        member = provider.new_member()
        registered = add_provider(system, provider, member, name=unique("z-working"), auto_sync=True)
        assert broken.name < registered.name  # synchronized first
        site = make_site(system, provider_id=registered.id)
        name = unique("after-broken")
        with provider.neutron(member) as neutron:
            neutron.post("/networks", json={"network": {"name": name}}).raise_for_status()
        eventually(lambda: _in_dc(system, site.dc.id, name), what="auto-import despite a broken provider")
    finally:
        providers.provider_service(broken.id).remove()
        server.shutdown()


def test_unnamed_and_clashing_provider_networks(system: Any, provider: Provider) -> None:
    """A provider network without a name is not imported (an engine network needs one); one whose name the DC
    already uses is reported once, not at every round."""
    member = provider.new_member()
    registered = add_provider(system, provider, member, auto_sync=True)
    site = make_site(system, provider_id=registered.id)
    clash = unique("clash")
    system.networks_service().add(
        types.Network(name=clash, data_center=types.DataCenter(id=site.dc.id), usages=[types.NetworkUsage.VM])
    )
    named = unique("named")
    with provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {}}).raise_for_status()
        neutron.post("/networks", json={"network": {"name": clash}}).raise_for_status()
        neutron.post("/networks", json={"network": {"name": named}}).raise_for_status()
    eventually(lambda: _in_dc(system, site.dc.id, named), what="named network imported")
    time.sleep(SYNC_INTERVAL * 4)
    names = [n.name for n in engine_networks(system, site.dc.id)]
    assert "" not in names and None not in names, names
    assert names.count(clash) == 1
    reports = [e for e in _events(system) if "could not import" in e and clash in e]
    assert len(reports) == 1, reports
