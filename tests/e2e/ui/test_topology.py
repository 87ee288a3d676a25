"""Topology tab: the picture of the networks (with their subnets), the hosts and the VMs with their vNICs and
addresses, coloured by live state; a VM turns from Down to Active when it runs; a click on a node opens its page;
the picture narrows to a provider; the legend and the list in words. Role and label locators only; the picture
is a canvas: what it drew for a node (and the colour of its pixels) is read through its handle on the element."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.e2e.ui.conftest import Neutrino, expect, shot

# the fills of topology-model.js STATES (#d9f2e1, #eef0f3), as the canvas' pixels have them
FILL = {"active": "rgb(217,242,225)", "down": "rgb(238,240,243)"}


def picture(page: Any) -> Any:
    canvas = page.get_by_role("img", name=re.compile("^Topology picture"))
    expect(canvas).to_have_attribute("aria-busy", "false")
    return canvas


def node(canvas: Any, node_id: str) -> dict[str, Any]:
    """What the picture drew for a node: its kind, state, label, and the colour of its pixels."""
    return dict(canvas.evaluate("(el, id) => el.topology.drawnNode(id)", node_id) or {})


def wait_state(page: Any, canvas: Any, node_id: str, state: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "([el, id, state]) => el.topology.picture.item(id)?.state === state",
        arg=[canvas.element_handle(), node_id, state],
        timeout=timeout,
    )


def click_node(page: Any, canvas: Any, node_id: str) -> None:
    point = canvas.evaluate("(el, id) => el.topology.pointOf(id)", node_id)
    page.mouse.click(point["x"], point["y"])


def shot_picture(page: Any, name: str) -> None:
    """A screenshot of the whole picture (fitted, scrolled into sight)."""
    page.get_by_role("button", name="Fit").click()
    page.get_by_role("heading", name="Topology", exact=True).scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, name)


def subnet_for(neutrino: Neutrino, network: dict[str, Any], cidr: str) -> None:
    link = httpx.get(
        f"{neutrino.base}/ui/networks/{network['id']}/external", headers=dict(neutrino.api.headers)
    ).json()
    r = neutrino.neutron.post(
        "/subnets", json={"subnet": {"network_id": link["network_id"], "cidr": cidr, "ip_version": 4}}
    )
    assert r.status_code == 201, r.text


def test_topology_shows_networks_hosts_and_vms_and_a_vm_turns_active_when_it_runs(
    page: Any, neutrino: Neutrino
) -> None:
    made = neutrino.vm_with_external_nic()
    vm, net = made["vm"], made["network"]
    subnet_for(neutrino, net, "10.61.0.0/24")

    page.goto(f"{neutrino.base}/#/topology")
    expect(page.get_by_role("heading", name="Topology", exact=True)).to_be_visible()
    canvas = picture(page)
    legend = page.get_by_role("region", name="Legend")
    expect(legend.get_by_role("list", name="Colours and marks by state")).to_contain_text("Active")
    for kind in ("Host", "VM", "vNIC", "Network", "Router", "Floating IP", "Tunnel"):
        expect(legend.get_by_role("list", name="Shapes by kind")).to_contain_text(kind)

    # drawn: the network with its subnet, the VM (down, not running) with its vNIC joined to the network. The
    # engine may answer first with the provider's view of a moment ago (read again in the background, and the
    # picture polls), so the subnet made just now is waited for.
    page.wait_for_function(
        "([el, id]) => (el.topology.drawnNode(id)?.label || '').includes('10.61.0.0/24')",
        arg=[canvas.element_handle(), f"w:{net['id']}"],
        timeout=30_000,
    )
    assert node(canvas, f"w:{net['id']}")["label"].splitlines()[:2] == [net["name"], "10.61.0.0/24"]
    drawn = node(canvas, f"v:{vm['id']}")
    assert drawn["state"] == "down" and drawn["colour"] == FILL["down"], drawn
    nic = node(canvas, f"n:{made['nic']['id']}")
    assert nic["kind"] == "nic" and nic["state"] == "down", nic

    # the same in words: the network and its CIDR, the host, the VM under "Not running"
    page.get_by_text("Topology as a list").click()
    networks = page.get_by_role("list", name="Networks")
    expect(
        networks.get_by_role("listitem").filter(has=page.get_by_role("link", name=net["name"]))
    ).to_contain_text("10.61.0.0/24")
    expect(page.get_by_role("heading", name=re.compile(r"^Host local: up"))).to_be_visible()
    expect(
        page.get_by_role("list", name="VMs on Not running").get_by_role("link", name=vm["name"])
    ).to_be_visible()
    shot_picture(page, "topology-down")

    # it runs: the VM moves into its host's box, its port turns ACTIVE, and the picture shows it green
    r = neutrino.api.post(f"/vms/{vm['id']}/start", json={})
    assert r.status_code < 300, r.text
    wait_state(page, canvas, f"v:{vm['id']}", "active")
    drawn = node(canvas, f"v:{vm['id']}")
    assert drawn["colour"] == FILL["active"], drawn
    [address] = [
        ip["ip_address"]
        for p in neutrino.neutron.get("/ports", params={"device_id": made["nic"]["id"]}).json()["ports"]
        for ip in p["fixed_ips"]
    ]
    assert address.startswith("10.61.0.") and address in drawn["label"], drawn
    on_host = (
        page.get_by_role("list", name="VMs on local")
        .get_by_role("listitem")
        .filter(has=page.get_by_role("link", name=vm["name"]))
    )
    expect(on_host).to_contain_text("port ACTIVE")
    expect(on_host).to_contain_text(address)
    shot_picture(page, "topology")


def test_a_click_on_a_node_opens_its_page_and_the_picture_narrows_to_a_provider(
    page: Any, neutrino: Neutrino
) -> None:
    made = neutrino.vm_with_external_nic()
    vm, net = made["vm"], made["network"]
    host = neutrino.named("/hosts", "host", "local")

    page.goto(f"{neutrino.base}/#/topology")
    canvas = picture(page)
    before = canvas.evaluate("el => el.topology.zoom()")
    page.get_by_role("button", name="Zoom in").click()
    assert canvas.evaluate("el => el.topology.zoom()") > before

    click_node(page, canvas, f"v:{vm['id']}")
    expect(page).to_have_url(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    expect(page.get_by_role("heading", name=f"VM {vm['name']}")).to_be_visible()

    page.go_back()
    canvas = picture(page)
    click_node(page, canvas, f"w:{net['id']}")
    expect(page).to_have_url(f"{neutrino.base}/#/networks/{net['id']}")
    expect(page.get_by_role("heading", name=f"Network {net['name']}")).to_be_visible()

    page.go_back()
    canvas = picture(page)
    click_node(page, canvas, f"h:{host['id']}")
    expect(page).to_have_url(f"{neutrino.base}/#/hosts/{host['id']}")

    # Find brings a node into sight by name
    page.goto(f"{neutrino.base}/#/topology")
    canvas = picture(page)
    page.get_by_role("searchbox", name="Find a node").fill(vm["name"])
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("status").filter(has_text=f"Showing {vm['name']}.")).to_be_visible()

    # narrowed to the provider: its networks only (not the engine's ovirtmgmt)
    provider = neutrino.provider
    page.get_by_role("combobox", name="Show").select_option(label=f"Provider {provider['name']}")
    expect(page).to_have_url(f"{neutrino.base}/#/topology/providers/{provider['id']}")
    expect(page.get_by_role("heading", name=f"Provider {provider['name']}")).to_be_visible()
    canvas = picture(page)
    assert node(canvas, f"w:{net['id']}")
    names = canvas.evaluate("el => el.topology.model.networks.map((n) => n.name)")
    assert net["name"] in names and "ovirtmgmt" not in names, names
    shot_picture(page, "topology-provider")
