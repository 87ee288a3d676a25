"""Data centers and clusters (New / Edit / Remove), networks (Edit, Export to a provider) and the controls that
guide instead of refusing: an external network's provider-owned settings, its cluster attachment (never required
nor display) and its profiles (no port mirroring) are disabled with the reason next to them; a refusal the engine
still makes is shown as it words it."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.ui.conftest import Neutrino, description_of, expect, shot, unique

EXTERNAL_FIXED = (
    "The provider owns an external network's configuration: only its name and description are edited here."
)


def tab(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main tabs").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()


def test_data_centers_and_clusters_new_edit_remove(page: Any, neutrino: Neutrino) -> None:
    dc, cluster = unique("invdc"), unique("invcl")
    tab(page, "Data Centers")
    page.get_by_role("button", name="New data center…").click()
    dialog = page.get_by_role("dialog", name="New data center")
    dialog.get_by_label("Name", exact=True).fill(dc)
    dialog.get_by_label("Storage type").select_option(label="Local")
    dialog.get_by_label("Compatibility version").select_option("4.6")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("heading", name=f"Data center {dc}")).to_be_visible()
    row = page.get_by_role("table", name="Data centers").get_by_role("row", name=re.compile(f"^{dc} "))
    expect(row).to_contain_text("Local")
    expect(row).to_contain_text("4.6")
    page.get_by_role("button", name="Edit…").click()
    dialog = page.get_by_role("dialog", name=f"Edit data center {dc}")
    dialog.get_by_label("Description").fill("edited in the UI")
    dialog.get_by_role("button", name="OK").click()
    expect(row).to_contain_text("edited in the UI")

    # a cluster in it: versions below the data center's are offered disabled, saying why
    tab(page, "Clusters")
    page.get_by_role("button", name="New cluster…").click()
    dialog = page.get_by_role("dialog", name="New cluster")
    dialog.get_by_label("Name", exact=True).fill(cluster)
    dialog.get_by_label("Data Center").select_option(label=dc)
    version = dialog.get_by_label("Compatibility version")
    expect(version.get_by_role("option", name=f"4.5 (below data center {dc}'s 4.6)")).to_be_disabled()
    expect(version.get_by_role("option", name="4.7", exact=True)).to_be_enabled()
    dialog.get_by_label("Default network provider").select_option(label=neutrino.provider["name"])
    shot(page, "cluster-dialog")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("heading", name=f"Cluster {cluster}")).to_be_visible()
    page.get_by_role("button", name="Edit…").click()
    dialog = page.get_by_role("dialog", name=f"Edit cluster {cluster}")
    expect(dialog.get_by_label("Data Center")).to_be_disabled()
    assert (
        description_of(dialog.get_by_label("Data Center"))
        == "A cluster stays in the data center it was created in."
    )
    dialog.get_by_label("Description").fill("a cluster from the UI")
    dialog.get_by_role("button", name="OK").click()
    clusters = page.get_by_role("table", name="Clusters")
    expect(clusters.get_by_role("row", name=re.compile(f"^{cluster} "))).to_contain_text(
        "a cluster from the UI"
    )
    page.get_by_role("navigation", name=f"Cluster {cluster}").get_by_role("link", name="General").click()
    expect(page.get_by_role("definition").filter(has_text="a cluster from the UI")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text=neutrino.provider["name"])).to_be_visible()

    # a cluster with a VM is not removed: the engine's words
    made = neutrino.named("/clusters", "cluster", cluster)
    vm = neutrino.post(
        "/vms", {"name": unique("held"), "cluster": {"id": made["id"]}, "template": {"name": "Blank"}}
    )
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog", name="Remove cluster").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("alert").filter(has_text="Cannot remove Cluster.")).to_have_text(
        "Cannot remove Cluster. One or more VMs are still assigned to the Cluster"
    )
    assert neutrino.api.delete(f"/vms/{vm['id']}").status_code == 200
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog", name="Remove cluster").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status").filter(has_text=f"Cluster '{cluster}' was removed.")).to_be_visible()

    tab(page, "Data Centers")
    page.get_by_role("table", name="Data centers").get_by_role("link", name=dc).click()
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog", name="Remove data center").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status").filter(has_text=f"Data center '{dc}' was removed.")).to_be_visible()
    expect(page.get_by_role("table", name="Data centers").get_by_role("link", name=dc)).to_have_count(0)


def test_edit_and_export_a_network_and_the_controls_that_guide(page: Any, neutrino: Neutrino) -> None:
    cluster = neutrino.default_cluster
    name = unique("expnet")
    net = neutrino.post("/networks", {"name": name, "data_center": {"id": cluster["data_center"]["id"]}})
    neutrino.post(f"/clusters/{cluster['id']}/networks", {"id": net["id"], "required": "false"})
    page.goto(f"{neutrino.base}/#/networks/{net['id']}/general")

    # an engine network: everything is edited here; a non-VM network cannot be exported, saying why
    page.get_by_role("button", name="Edit…").click()
    dialog = page.get_by_role("dialog", name=f"Edit network {name}")
    dialog.get_by_label("MTU").fill("1400")
    dialog.get_by_label("VLAN tag").fill("42")
    dialog.get_by_label("VM network").uncheck()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("button", name="Export to provider…")).to_be_disabled()
    expect(page.get_by_text("Export: An external network cannot be a non-VM network.")).to_be_visible()
    page.get_by_role("button", name="Edit…").click()
    dialog.get_by_label("VM network").check()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    stored = neutrino.api.get(f"/networks/{net['id']}").json()
    assert stored["mtu"] == "1400" and stored["vlan"]["id"] == "42" and "vm" in stored["usages"]["usage"]

    # exported: the provider creates it; the network becomes external
    page.get_by_role("button", name="Export to provider…").click()
    dialog = page.get_by_role("dialog", name=f"Export network {name}")
    dialog.get_by_label("Network provider").select_option(label=neutrino.provider["name"])
    dialog.get_by_role("button", name="Export").click()
    expect(page.get_by_role("status").filter(has_text=f"Network '{name}' was exported to")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text="External")).to_be_visible()
    assert any(n["name"] == name for n in neutrino.neutron.get("/networks").json()["networks"])

    # now only its name and description are edited here; the rest is shown, disabled, saying why
    page.get_by_role("button", name="Edit…").click()
    dialog = page.get_by_role("dialog", name=f"Edit network {name}")
    for label in ("MTU", "VLAN tag"):
        expect(dialog.get_by_label(label)).to_be_disabled()
        assert description_of(dialog.get_by_label(label)) == EXTERNAL_FIXED
    expect(dialog.get_by_label("VM network")).to_be_disabled()
    assert (
        description_of(dialog.get_by_label("VM network")) == "An external network cannot be a non-VM network."
    )
    shot(page, "network-edit-external")
    dialog.get_by_label("Description").fill("now on the provider")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("definition").filter(has_text="now on the provider")).to_be_visible()

    # the management network cannot be exported, saying why
    mgmt = neutrino.named(f"/datacenters/{cluster['data_center']['id']}/networks", "network", "ovirtmgmt")
    page.goto(f"{neutrino.base}/#/networks/{mgmt['id']}/general")
    expect(page.get_by_role("button", name="Export to provider…")).to_be_disabled()
    expect(page.get_by_text("Export: The management network cannot be an external network.")).to_be_visible()

    # the cluster's Manage networks: an external network is never required nor the display network
    page.goto(f"{neutrino.base}/#/clusters/{cluster['id']}/networks")
    page.get_by_role("button", name="Manage networks…").click()
    dialog = page.get_by_role("dialog", name=re.compile("Manage networks"))
    for control in (f"Required {name}", f"Display {name}"):
        expect(dialog.get_by_label(control, exact=True)).to_be_disabled()
        assert "never required in a cluster nor its display network" in description_of(
            dialog.get_by_label(control, exact=True)
        )
    expect(dialog.get_by_label("Required ovirtmgmt", exact=True)).to_be_enabled()
    shot(page, "manage-networks-guides")
    dialog.get_by_role("button", name="Cancel").click()

    # a profile on it offers no port mirroring, saying why; on an engine network it does
    page.goto(f"{neutrino.base}/#/networks/{net['id']}/profiles")
    page.get_by_role("button", name="New profile…").click()
    dialog = page.get_by_role("dialog", name="New vNIC profile")
    mirroring = dialog.get_by_label("Port mirroring")
    expect(mirroring).to_be_disabled()
    assert description_of(mirroring) == "External network cannot be used when port mirroring is set."
    dialog.get_by_label("Network", exact=True).select_option(label="ovirtmgmt")
    expect(mirroring).to_be_enabled()
    assert description_of(mirroring) == ""
    shot(page, "profile-dialog")
    dialog.get_by_role("button", name="Cancel").click()
