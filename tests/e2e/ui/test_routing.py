"""Routers and floating IPs in the UI, as the provider has them (read only): a provider's Routers sub-tab (its
routers, a router's interfaces, gateway and routes, the floating IPs with the vNIC each serves), the routers in the
topology picture and its list, a click on a router's node opening its page, and the topology views a data
center's and a provider's pages link to. Routing is made on the provider's own Neutron API, as an operator would;
the browser only reads; a provider without L3 says so. Role and label locators only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.ui.conftest import PASSWORD, Neutrino, axe_violations, expect, shot, unique
from tests.e2e.ui.test_topology import click_node, picture
from tests.support.proxy import proxy_to


def created(r: httpx.Response, key: str) -> dict[str, Any]:
    assert r.status_code == 201, r.text
    return dict(r.json()[key])


@pytest.fixture
def routed(neutrino: Neutrino) -> Iterator[dict[str, Any]]:
    """A running VM whose vNIC sits on a subnet joined to router `edge-…`, whose gateway is on an external network,
    and a floating IP on the vNIC's port; all of it removed afterwards."""
    made = neutrino.vm_with_external_nic()
    vm, net = made["vm"], made["network"]
    link = httpx.get(
        f"{neutrino.base}/ui/networks/{net['id']}/external", headers=dict(neutrino.api.headers)
    ).json()
    n = neutrino.neutron
    inside = created(
        n.post(
            "/subnets",
            json={"subnet": {"network_id": link["network_id"], "cidr": "10.71.0.0/24", "ip_version": 4}},
        ),
        "subnet",
    )
    public = created(
        n.post("/networks", json={"network": {"name": unique("public"), "router:external": True}}), "network"
    )
    created(
        n.post(
            "/subnets",
            json={"subnet": {"network_id": public["id"], "cidr": "198.51.100.0/24", "ip_version": 4}},
        ),
        "subnet",
    )
    router = created(
        n.post(
            "/routers",
            json={"router": {"name": unique("edge"), "external_gateway_info": {"network_id": public["id"]}}},
        ),
        "router",
    )
    r = n.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": inside["id"]})
    assert r.status_code == 200, r.text
    neutrino.post(f"/vms/{vm['id']}/start", {})
    port = None
    for _ in range(100):  # the vNIC's port is made when the VM runs
        ports = n.get("/ports", params={"device_id": made["nic"]["id"]}).json()["ports"]
        if ports and ports[0]["fixed_ips"]:
            port = ports[0]
            break
        time.sleep(0.1)
    assert port is not None, "the running VM's vNIC got no port with an address"
    fip = created(
        n.post(
            "/floatingips", json={"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}}
        ),
        "floatingip",
    )
    yield {**made, "router": router, "public": public, "fip": fip, "port": port}
    n.delete(f"/floatingips/{fip['id']}")
    neutrino.post(f"/vms/{vm['id']}/stop", {})
    n.put(f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": inside["id"]})
    n.delete(f"/routers/{router['id']}")
    n.delete(f"/networks/{public['id']}")


def test_a_providers_routers_and_floating_ips_read_only_with_their_vnic(
    page: Any, neutrino: Neutrino, routed: dict[str, Any]
) -> None:
    provider, router, vm = neutrino.provider, routed["router"], routed["vm"]
    address = routed["fip"]["floating_ip_address"]
    page.goto(f"{neutrino.base}/#/providers/{provider['id']}")
    page.get_by_role("navigation", name=f"Provider {provider['name']}").get_by_role(
        "link", name="Routers"
    ).click()

    routers = page.get_by_role("table", name="Routers")
    row = routers.get_by_role("row").filter(has=page.get_by_role("link", name=router["name"], exact=True))
    expect(row).to_contain_text("ACTIVE")
    expect(row).to_contain_text(routed["public"]["name"])
    fips = page.get_by_role("table", name="Floating IPs", exact=True)
    fip_row = fips.get_by_role("row").filter(has_text=address)
    expect(fip_row).to_contain_text(routed["port"]["fixed_ips"][0]["ip_address"])
    expect(fip_row.get_by_role("link", name=f"{vm['name']} · nic1")).to_be_visible()
    # read only: nothing on this page changes the provider's routing
    panel = page.get_by_role("table", name="Routers").locator("xpath=ancestor::div[@class='subpanel']")
    expect(panel.get_by_role("button")).to_have_count(0)

    row.get_by_role("link", name=router["name"], exact=True).click()
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{provider['id']}/routers/{router['id']}")
    detail = page.get_by_role("region", name=f"Router {router['name']}")
    interfaces = detail.get_by_role("table", name=f"Interfaces of router {router['name']}")
    iface = interfaces.get_by_role("row").filter(has_text="10.71.0.0/24")
    expect(iface).to_contain_text("10.71.0.1")
    # the interface's network is the engine's network that imports it: a link to its page
    expect(iface.get_by_role("link", name=routed["network"]["name"])).to_be_visible()
    expect(detail).to_contain_text("Source NAT")
    expect(detail.get_by_role("table", name=f"Floating IPs of router {router['name']}")).to_contain_text(
        address
    )
    assert axe_violations(page) == []
    shot(page, "provider-routers")

    fip_row.get_by_role("link", name=f"{vm['name']} · nic1").click()
    expect(page.get_by_role("heading", name=f"VM {vm['name']}")).to_be_visible()


def test_routers_in_the_topology_a_click_opens_the_router_and_pages_link_their_topology(
    page: Any, neutrino: Neutrino, routed: dict[str, Any]
) -> None:
    provider, router = neutrino.provider, routed["router"]
    page.goto(f"{neutrino.base}/#/providers/{provider['id']}/general")
    page.get_by_role("link", name=f"Topology of provider {provider['name']}").click()
    expect(page).to_have_url(f"{neutrino.base}/#/topology/providers/{provider['id']}")
    expect(page.get_by_role("heading", name=f"Provider {provider['name']}")).to_be_visible()
    canvas = picture(page)
    # the provider's view of a moment ago may come first (it is renewed behind the picture, which polls)
    page.wait_for_function(
        "([el, id]) => !!el.topology.picture.item(id)",
        arg=[canvas.element_handle(), f"r:{router['id']}"],
        timeout=30_000,
    )
    page.get_by_text("Topology as a list").click()
    item = page.get_by_role("list", name="Routers").get_by_role("listitem").filter(has_text=router["name"])
    expect(item).to_contain_text(routed["network"]["name"])
    expect(item.get_by_role("list", name=f"Floating IPs of {router['name']}")).to_contain_text(
        routed["fip"]["floating_ip_address"]
    )
    assert axe_violations(page) == []
    shot(page, "topology-routers")

    page.get_by_role("button", name="Fit").click()
    click_node(page, canvas, f"r:{router['id']}")
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{provider['id']}/routers/{router['id']}")
    expect(page.get_by_role("heading", name=f"Router {router['name']}")).to_be_visible()

    dc = neutrino.named("/datacenters", "data_center", "Default")
    page.goto(f"{neutrino.base}/#/datacenters/{dc['id']}")
    page.get_by_role("link", name="Topology of data center Default").click()
    expect(page).to_have_url(f"{neutrino.base}/#/topology/datacenters/{dc['id']}")
    expect(page.get_by_role("heading", name="Data center Default")).to_be_visible()
    canvas = picture(page)
    # the data center's picture has the router joined to its network
    page.wait_for_function(
        "([el, id]) => !!el.topology.picture.item(id)",
        arg=[canvas.element_handle(), f"r:{router['id']}"],
        timeout=30_000,
    )


def test_the_vm_list_is_paged_and_filtered_and_a_vm_on_another_page_opens(
    page: Any, neutrino: Neutrino
) -> None:
    prefix = unique("pg")
    cluster = neutrino.default_cluster
    made = [
        neutrino.post(
            "/vms",
            {"name": f"{prefix}-{i:02d}", "cluster": {"id": cluster["id"]}, "template": {"name": "Blank"}},
        )
        for i in range(51)
    ]
    try:
        page.goto(f"{neutrino.base}/#/vms")
        page.get_by_role("search", name="Virtual machines").get_by_label("Filter by name").fill(prefix)
        page.get_by_role("button", name="Filter", exact=True).click()
        pages = page.get_by_role("navigation", name="Pages of virtual machines")
        expect(pages.get_by_role("status")).to_have_text(
            re.compile(rf"^Page 1 · VMs 1–50 whose name has “{prefix}”")
        )
        table = page.get_by_role("table", name="Virtual machines")
        expect(table.get_by_role("link", name=f"{prefix}-00")).to_be_visible()
        expect(table.get_by_role("link", name=f"{prefix}-50")).to_have_count(0)
        expect(pages.get_by_role("button", name="Previous page")).to_be_disabled()

        pages.get_by_role("button", name="Next page").click()
        expect(pages.get_by_role("status")).to_have_text(re.compile(r"^Page 2 · VMs 51–51"))
        expect(table.get_by_role("link", name=f"{prefix}-50")).to_be_visible()
        expect(pages.get_by_role("button", name="Next page")).to_be_disabled()
        assert axe_violations(page) == []

        # a VM on another page of the list (as the topology links it) opens by itself
        pages.get_by_role("button", name="Previous page").click()
        expect(pages.get_by_role("status")).to_have_text(re.compile(r"^Page 1 "))
        page.goto(f"{neutrino.base}/#/vms/{made[50]['id']}/general")
        expect(page.get_by_role("heading", name=f"VM {prefix}-50")).to_be_visible()
        expect(page.get_by_role("button", name="Run")).to_be_enabled()

        page.get_by_label("Filter by name").fill(f"{prefix}-nothing")
        page.get_by_role("button", name="Filter", exact=True).click()
        expect(table).to_contain_text(f"No virtual machine's name has “{prefix}-nothing”.")
    finally:
        page.get_by_label("Filter by name").fill("")
        page.get_by_role("button", name="Filter", exact=True).click()
        for vm in made:
            neutrino.api.delete(f"/vms/{vm['id']}")


ROUTING = {"router", "external-net", "ext-gw-mode", "extraroute", "l3_agent_scheduler"}


def _without_routing(method: str, path: str, status: int, body: bytes) -> bytes:
    """The provider's extension list with routing left out: a Neutron with no L3, as many are."""
    if path.split("?")[0].rstrip("/") != "/v2.0/extensions" or status != 200:
        return body
    listed = json.loads(body)["extensions"]
    return json.dumps({"extensions": [e for e in listed if e["alias"] not in ROUTING]}).encode()


def test_a_provider_without_l3_says_it_has_no_routers(page: Any, neutrino: Neutrino) -> None:
    with proxy_to(neutrino.provider_url, rewrite=_without_routing) as proxy:
        url = proxy.url
        name = unique("nol3")
        provider = neutrino.post(
            "/openstacknetworkproviders",
            {
                "name": name,
                "type": "neutron",
                "url": url,
                "plugin_type": "open_vswitch",
                "requires_authentication": "true",
                "username": "admin",
                "password": PASSWORD,
                "authentication_url": f"{url}/v3",
                "tenant_name": "admin",
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
        )
        try:
            page.goto(f"{neutrino.base}/#/providers/{provider['id']}/routers")
            expect(page.get_by_role("status").filter(has_text="no routers or floating IPs")).to_have_text(
                "This provider has no routers or floating IPs to show: it does not list the 'router' extension"
                " (no L3)."
            )
            expect(page.get_by_role("table", name="Routers")).to_have_count(0)
            assert axe_violations(page) == []
        finally:
            neutrino.api.delete(f"/openstacknetworkproviders/{provider['id']}")
