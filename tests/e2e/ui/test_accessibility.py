"""Accessibility: the system tree is a WAI-ARIA tree worked with the arrow keys, dialogs keep and give back the
focus, a message is read without its "×", and axe-core finds no serious or critical violation on any page or
dialog (every main tab, each kind of entity page with its sub-tabs, a running VM's vNICs). Screenshots of each
page go to test-artifacts/ui/."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.ui.conftest import Neutrino, axe_violations, expect, shot, unique


def assert_accessible(page: Any, what: str) -> None:
    found = axe_violations(page)
    assert not found, f"axe on {what}: " + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} {v['nodes']}" for v in found
    )


def test_the_system_tree_is_an_aria_tree_worked_with_the_arrow_keys(page: Any, neutrino: Neutrino) -> None:
    tree = page.get_by_role("tree", name="System tree")
    system = tree.get_by_role("treeitem", name="System", exact=True)
    datacenters = tree.get_by_role("treeitem", name="Data Centers", exact=True)
    default = tree.get_by_role("treeitem", name="Default", exact=True)
    expect(system).to_have_attribute("aria-expanded", "true")
    expect(tree.get_by_role("group", name="System")).to_be_visible()
    # one node in the tab order; the others are reached with the arrow keys
    expect(tree.locator("[role=treeitem][tabindex='0']")).to_have_count(1)
    system.focus()
    page.keyboard.press("ArrowDown")
    expect(datacenters).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(default).to_be_focused()
    # Left closes an open node, Left again goes to its parent; Right opens it again, then goes to its first child
    page.keyboard.press("ArrowLeft")
    expect(default).to_have_attribute("aria-expanded", "false")
    expect(tree.get_by_role("treeitem", name="Clusters").first).to_be_hidden()
    page.keyboard.press("ArrowLeft")
    expect(datacenters).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    expect(default).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowRight")
    clusters = tree.get_by_role("treeitem", name="Clusters").first
    expect(clusters).to_be_focused()
    expect(tree.locator("[role=treeitem][tabindex='0']")).to_have_count(1)
    page.keyboard.press("End")
    provider = tree.get_by_role("treeitem", name=neutrino.provider["name"])
    expect(provider).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{neutrino.provider['id']}")
    expect(provider).to_have_attribute("aria-current", "page")
    expect(provider).to_be_focused()  # redrawn, the tree keeps the focus on the node chosen
    page.keyboard.press("Home")
    expect(system).to_be_focused()
    shot(page, "a11y-tree")


def test_a_dialog_keeps_the_focus_inside_and_gives_it_back(page: Any, neutrino: Neutrino) -> None:
    page.get_by_role("link", name="Data Centers", exact=True).first.click()
    opener = page.get_by_role("button", name="New data center…")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New data center")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    inside = "() => !!document.activeElement.closest('dialog[open]')"
    for _ in range(12):  # more than its controls: Tab wraps around inside the dialog
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(inside)
    dialog.get_by_label("Name", exact=True).focus()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()


def test_a_message_is_read_without_its_dismiss_button(page: Any, neutrino: Neutrino) -> None:
    mgmt = neutrino.named(
        f"/datacenters/{neutrino.default_cluster['data_center']['id']}/networks", "network", "ovirtmgmt"
    )
    page.goto(f"{neutrino.base}/#/networks/{mgmt['id']}")
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog", name="Remove network").get_by_role("button", name="Remove").click()
    text = "Cannot remove Network. The management network cannot be removed."
    alert = page.get_by_role("alert").filter(has_text=text)
    expect(alert).to_have_text(text)  # the whole of what is read: no "×"
    dismiss = page.get_by_role("button", name="Dismiss message")
    expect(dismiss).to_have_count(1)
    dismiss.click()
    expect(alert).to_have_count(0)


def test_axe_finds_nothing_serious_on_any_page(page: Any, neutrino: Neutrino) -> None:
    made = neutrino.vm_with_external_nic()
    vm, net = made["vm"], made["network"]
    link = neutrino.api.get(f"{neutrino.base}/ui/networks/{net['id']}/external").json()
    r = neutrino.neutron.post(
        "/subnets",
        json={"subnet": {"network_id": link["network_id"], "cidr": "10.93.0.0/24", "ip_version": 4}},
    )
    assert r.status_code == 201, r.text
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    host = neutrino.api.get(f"/vms/{vm['id']}").json()["host"]
    dc, cluster, provider = (
        made["cluster"]["data_center"]["id"],
        made["cluster"]["id"],
        neutrino.provider["id"],
    )
    pages = {
        "datacenters": "#/datacenters",
        "datacenter-networks": f"#/datacenters/{dc}/networks",
        "datacenter-clusters": f"#/datacenters/{dc}/clusters",
        "clusters": "#/clusters",
        "cluster-networks": f"#/clusters/{cluster}/networks",
        "cluster-hosts": f"#/clusters/{cluster}/hosts",
        "cluster-general": f"#/clusters/{cluster}/general",
        "hosts": "#/hosts",
        "host-general": f"#/hosts/{host['id']}/general",
        "host-drivers": f"#/hosts/{host['id']}/drivers",
        "host-vms": f"#/hosts/{host['id']}/vms",
        "networks": "#/networks",
        "network-general": f"#/networks/{net['id']}/general",
        "network-profiles": f"#/networks/{net['id']}/profiles",
        "network-subnets": f"#/networks/{net['id']}/subnets",
        "network-ports": f"#/networks/{net['id']}/ports",
        "vnicprofiles": "#/vnicprofiles",
        "vms": "#/vms",
        "vm-nics": f"#/vms/{vm['id']}/nics",
        "vm-general": f"#/vms/{vm['id']}/general",
        "providers": "#/providers",
        "provider-general": f"#/providers/{provider}/general",
        "provider-networks": f"#/providers/{provider}/networks",
        "events": "#/events",
    }
    # the check itself can fail: a control without a name, put into the page, is found
    page.goto(f"{neutrino.base}/#/datacenters")
    expect(page.get_by_role("table", name="Data centers")).to_be_visible()
    page.evaluate(
        "document.getElementById('view').append(Object.assign(document.createElement('input'), {id: 'x'}))"
    )
    assert any(v["id"] == "label" for v in axe_violations(page)), "axe must see an unnamed field"
    page.reload()
    for name, hash_ in pages.items():
        page.goto(f"{neutrino.base}/{hash_}")
        expect(page.get_by_role("heading", level=2)).to_be_visible()
        expect(page.get_by_text("Loading…")).to_have_count(0)
        if name == "vm-nics":
            expect(page.get_by_role("list", name="Addresses of nic1")).to_contain_text(
                re.compile(r"10\.93\.0\.\d+")
            )
        assert_accessible(page, name)
        shot(page, f"page-{name}")
    # and the dialogs, open on their pages
    engine_net = neutrino.post("/networks", {"name": unique("a11y"), "data_center": {"id": dc}})
    dialogs = [
        (f"#/vms/{vm['id']}/nics", "New VM…", "New VM"),
        (f"#/vms/{vm['id']}/nics", "New vNIC…", "New vNIC"),
        (f"#/vms/{vm['id']}/nics", "Edit nic1", "Edit vNIC nic1"),
        (f"#/vms/{vm['id']}/nics", "Migrate…", "Migrate"),
        (f"#/clusters/{cluster}/networks", "Manage networks…", "Manage networks"),
        (f"#/clusters/{cluster}/networks", "New cluster…", "New cluster"),
        (f"#/networks/{net['id']}/general", "Edit…", "Edit network"),
        (f"#/networks/{net['id']}/profiles", "New profile…", "New vNIC profile"),
        (f"#/networks/{engine_net['id']}/general", "Export to provider…", "Export network"),
        ("#/datacenters", "New data center…", "New data center"),
        ("#/hosts", "New host…", "New host"),
        ("#/providers", "Add…", "Add provider"),
    ]
    for hash_, button, title in dialogs:
        page.goto(f"{neutrino.base}/{hash_}")
        page.get_by_role("button", name=button, exact=True).click()
        dialog = page.get_by_role("dialog", name=re.compile(title))
        expect(dialog).to_be_visible()
        assert_accessible(page, f"the dialog {title}")
        shot(page, "dialog-" + title.lower().replace(" ", "-"))
        dialog.get_by_role("button", name="Cancel").click()
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200
