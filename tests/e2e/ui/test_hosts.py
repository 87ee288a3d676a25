"""Hosts: the Hosts tab (status and why a host is not Up, last seen, the vNIC drivers its agent advertises),
hosts in the tree under their cluster and in a cluster's Hosts sub-tab, and adding, editing, removing hosts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.ui.conftest import Neutrino, expect, shot, unique
from tests.support.servers import agent_process, free_port


def test_the_hosts_tab_shows_status_last_seen_and_vnic_drivers(
    page: Any, neutrino: Neutrino, second_host: dict[str, Any]
) -> None:
    local = neutrino.named("/hosts", "host", "local")
    page.locator("#tabs a", has_text="Hosts").click()
    expect(page.locator("#view h2")).to_have_text("Hosts")
    for host in (local, second_host):
        row = page.locator(f"#view tbody tr[data-id='{host['id']}']")
        expect(row.locator("td").nth(1)).to_have_text(f"127.0.0.1:{host['port']}")
        expect(row.locator(".badge")).to_have_text("up")
        expect(row.locator("td").nth(3)).to_have_text("Default")
        expect(row.locator("td").nth(4)).not_to_have_text("—")  # last seen
        expect(row.locator(".plugin-type")).to_have_text(["LINUX_BRIDGE", "OPEN_VSWITCH"])
    shot(page, "hosts")

    # keyboard: choose the local host, then its vNIC drivers
    page.locator(f"#view tbody tr[data-id='{local['id']}']").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{neutrino.base}/#/hosts/{local['id']}/general")
    general = page.locator("#view dl.general")
    expect(general).to_contain_text(local["id"])
    expect(general.locator("dd .badge")).to_have_text("up")
    page.locator(".subtabs a", has_text="vNIC Drivers").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{neutrino.base}/#/hosts/{local['id']}/drivers")
    drivers = page.locator("#view .subpanel tbody tr")
    expect(drivers).to_have_count(2)
    expect(drivers.first.locator("td")).to_have_text(["LINUX_BRIDGE", "noop", "local", "any", "Yes"])
    expect(drivers.nth(1).locator("td").first).to_have_text("OPEN_VSWITCH")
    shot(page, "host-drivers")


def test_hosts_sit_under_their_cluster_in_the_tree_and_its_hosts_sub_tab(
    page: Any, neutrino: Neutrino
) -> None:
    local = neutrino.named("/hosts", "host", "local")
    cluster = neutrino.default_cluster
    tree = page.get_by_role("tree", name="System tree")
    page.goto(f"{neutrino.base}/#/clusters/{cluster['id']}/hosts")  # the tree opens down to the cluster
    # (the Default cluster and its data center share a name: the node is the one that links to the cluster)
    cluster_node = tree.locator(f"[role=treeitem][href='#/clusters/{cluster['id']}']")
    expect(cluster_node).to_have_attribute("aria-expanded", "true")
    link = cluster_node.locator("xpath=..").get_by_role("group").get_by_role("treeitem", name="local")
    expect(link).to_have_text("local")
    link.click()
    expect(page.get_by_role("heading", name="Host local")).to_be_visible()
    expect(tree.get_by_role("treeitem", name="local")).to_have_attribute("aria-current", "page")
    shot(page, "tree-host")

    page.goto(f"{neutrino.base}/#/clusters/{cluster['id']}/hosts")
    expect(page.locator(".subtabs a[aria-current=page]")).to_have_text("Hosts")
    expect(page.locator(f"#view .subpanel tbody tr[data-id='{local['id']}']")).to_contain_text("up")


def test_add_a_host_that_does_not_answer_then_fix_and_remove_it(
    page: Any, neutrino: Neutrino, tmp_path: Path
) -> None:
    dc = neutrino.data_center(unique("dc-hosts"))
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    name = unique("h")
    page.goto(f"{neutrino.base}/#/hosts")
    page.get_by_role("button", name="New host…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Address").fill("127.0.0.1")
    dialog.get_by_label("Agent port").fill(str(free_port()))  # nothing listens there
    dialog.get_by_label("Cluster").select_option(label=cluster["name"])
    dialog.get_by_label("Agent token").fill("wrong")
    dialog.get_by_role("button", name="OK").click()
    warning = page.locator(".message.warn", has_text=f"Host '{name}' was saved but is non responsive:")
    expect(warning).to_contain_text(f"Host {name} cannot be reached")
    host = neutrino.named("/hosts", "host", name)
    expect(page).to_have_url(f"{neutrino.base}/#/hosts/{host['id']}/general")
    row = page.locator(f"#view tbody tr[data-id='{host['id']}']")
    expect(row.locator(".badge")).to_have_text("non responsive")
    expect(row.locator(".status-detail")).to_contain_text("cannot be reached")
    expect(row).to_contain_text("unknown until it answers")  # no vNIC drivers known
    expect(page.locator("#view dl.general")).to_contain_text("Why not Up")
    expect(page.get_by_role("tree", name="System tree").get_by_role("treeitem", name=name)).to_have_attribute(
        "href", f"#/hosts/{host['id']}"
    )
    shot(page, "host-non-responsive")

    # pointed at a running agent with its token, it comes up
    with agent_process(tmp_path, name) as agent:
        page.get_by_role("button", name="Edit…").click()
        dialog = page.locator("dialog[open]")
        expect(dialog.get_by_label("Name", exact=True)).to_have_value(name)
        dialog.get_by_label("Agent port").fill(str(agent.port))
        dialog.get_by_label("Agent token").fill(agent.token)
        dialog.get_by_role("button", name="OK").click()
        expect(
            page.locator(".message.success", has_text=f"Host '{name}' was saved; it is up.")
        ).to_be_visible()
        expect(row.locator(".badge")).to_have_text("up")
        expect(row.locator(".status-detail")).to_have_count(0)
        expect(row.locator(".plugin-type")).to_have_text(["LINUX_BRIDGE", "OPEN_VSWITCH"])

        page.get_by_role("button", name="Remove").click()
        page.locator("dialog[open]").get_by_role("button", name="Remove").click()
        expect(page.locator(".message.success", has_text=f"Host '{name}' was removed.")).to_be_visible()
        expect(page).to_have_url(f"{neutrino.base}/#/hosts")
        expect(row).to_have_count(0)
    assert all(h["name"] != name for h in neutrino.get("/hosts", "host"))


def test_removing_a_host_with_running_vms_is_refused_with_the_engines_message(
    page: Any, neutrino: Neutrino
) -> None:
    vm = neutrino.vm_with_external_nic()["vm"]
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    host_id = neutrino.api.get(f"/vms/{vm['id']}").json()["host"]["id"]
    page.goto(f"{neutrino.base}/#/hosts/{host_id}/vms")
    expect(page.locator(f"#view .subpanel a[href='#/vms/{vm['id']}/nics']")).to_have_text(vm["name"])
    page.get_by_role("button", name="Remove").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    expect(page.locator(".message.error")).to_contain_text(
        re.compile("Cannot remove Host. There are VMs running on the Host.")
    )
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200
