"""The VM path in the browser: New / Edit / Remove VM, and a vNIC's dialog that guides instead of refusing (the
profile picker naming each external network's provider, rewiring and unlinking disabled with oVirt's reasons,
plugging on a running VM apart from changing the profile); every refusal the engine still makes is shown as it
words it."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.ui.conftest import Neutrino, description_of, expect, shot, unique

REWIRE = (
    "External network cannot be changed while plugged into a running virtual machine. Stop the VM or unplug the "
    "vNIC before editing."
)
UNLINKED = "Plugged and unlinked VM network interface with external network is not supported"


def test_new_edit_and_remove_a_vm(page: Any, neutrino: Neutrino) -> None:
    name, other = unique("uivm"), unique("uivm")
    taken = neutrino.post(
        "/vms",
        {"name": other, "cluster": {"id": neutrino.default_cluster["id"]}, "template": {"name": "Blank"}},
    )
    page.get_by_role("navigation", name="Main tabs").get_by_role("link", name="Virtual Machines").click()
    page.get_by_role("button", name="New VM…").click()
    dialog = page.get_by_role("dialog", name="New VM")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Description").fill("from the UI")
    expect(dialog.get_by_label("Template")).to_have_value(
        neutrino.named("/templates", "template", "Blank")["id"]
    )
    dialog.get_by_label("Cluster").select_option(label="Default")
    dialog.get_by_label("Memory (MiB)").fill("768")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("heading", name=f"VM {name}")).to_be_visible()
    vm = neutrino.named("/vms", "vm", name)
    assert vm["memory"] == str(768 * 1048576) and vm["description"] == "from the UI"

    # edit: a name already taken is refused in the engine's words, in the dialog
    page.get_by_role("button", name="Edit…").click()
    dialog = page.get_by_role("dialog", name=f"Edit VM {name}")
    expect(dialog.get_by_label("Template")).to_be_disabled()
    expect(dialog).to_contain_text("A VM keeps the template it was created from.")
    dialog.get_by_label("Name", exact=True).fill(taken["name"])
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Cannot edit VM. The VM name is already in use, please choose a unique name and try again."
    )
    dialog.get_by_label("Name", exact=True).fill(f"{name}-b")
    dialog.get_by_label("Memory (MiB)").fill("1024")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    page.get_by_role("navigation", name=f"VM {name}-b").get_by_role("link", name="General").click()
    expect(page.get_by_role("definition").filter(has_text="1024 MiB")).to_be_visible()

    # a running VM (started elsewhere: the page follows): Remove is disabled, saying why; its cluster is fixed in
    # Edit, saying why
    page.get_by_role("navigation", name=f"VM {name}-b").get_by_role("link", name="Network Interfaces").click()
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    expect(page.get_by_text(f"{name}-b runs: stop it before removing it.")).to_be_visible()
    expect(page.get_by_role("button", name="Remove", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Edit…").click()
    dialog = page.get_by_role("dialog", name=f"Edit VM {name}-b")
    expect(dialog.get_by_label("Cluster")).to_be_disabled()
    assert "The Cluster of a running VM cannot be changed" in description_of(dialog.get_by_label("Cluster"))
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_role("button", name="Remove", exact=True)).to_be_enabled()
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog", name="Remove VM").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status").filter(has_text=f"VM '{name}-b' was removed.")).to_be_visible()
    expect(
        page.get_by_role("table", name="Virtual machines").get_by_role("link", name=f"{name}-b")
    ).to_have_count(0)


def test_the_vnic_dialog_guides_on_a_running_vm(page: Any, neutrino: Neutrino) -> None:
    made = neutrino.vm_with_external_nic()
    vm, net, profile = made["vm"], made["network"], made["profile"]
    provider = neutrino.provider["name"]
    engine_net = neutrino.post(
        "/networks", {"name": unique("engnet"), "data_center": {"id": made["cluster"]["data_center"]["id"]}}
    )
    neutrino.post(
        f"/clusters/{made['cluster']['id']}/networks", {"id": engine_net["id"], "required": "false"}
    )
    unattached = neutrino.post(
        "/networks", {"name": unique("loose"), "data_center": {"id": made["cluster"]["data_center"]["id"]}}
    )
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    nics = page.get_by_role("table", name=f"Network interfaces of {vm['name']}")
    # its port has no address: its network has no subnet
    expect(nics.get_by_role("row", name=re.compile("^nic1"))).to_contain_text("none (no subnet)")

    # a second vNIC, hot-plugged: the picker offers the cluster's networks, an external one named with its provider
    page.get_by_role("button", name="New vNIC…").click()
    dialog = page.get_by_role("dialog", name=f"New vNIC for {vm['name']}")
    picker = dialog.get_by_label("Profile")
    expect(picker.locator(f"optgroup[label='{net['name']} — external, provider {provider}']")).to_have_count(
        1
    )
    expect(picker.locator(f"optgroup[label='{engine_net['name']}']")).to_have_count(1)
    expect(picker.locator(f"optgroup[label^='{unattached['name']}']")).to_have_count(0)
    expect(dialog).to_contain_text("not attached to it and not offered")
    dialog.get_by_label("Name", exact=True).fill("nic2")
    picker.select_option(label=engine_net["name"])
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    expect(nics.get_by_role("row", name=re.compile("^nic2"))).to_contain_text("Yes / Yes")

    # nic1 is plugged on an external network of a running VM: its profile stays, its link stays up
    page.get_by_role("button", name="Edit nic1").click()
    dialog = page.get_by_role("dialog", name=f"Edit vNIC nic1 of {vm['name']}")
    picker = dialog.get_by_label("Profile")
    expect(picker).to_be_disabled()
    expect(picker).to_have_value(profile["id"])
    assert description_of(picker) == REWIRE
    down = dialog.get_by_role("radiogroup", name="Link state").get_by_label("Down")
    expect(down).to_be_disabled()
    assert UNLINKED in description_of(dialog.get_by_role("radiogroup", name="Link state"))
    shot(page, "vnic-dialog-guides")
    # unplugging it and changing its profile are two steps: unplug now
    dialog.get_by_role("radiogroup", name="Card status").get_by_label("Unplugged").check()
    assert "in two steps" in description_of(picker)
    expect(down).to_be_enabled()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    expect(nics.get_by_role("row", name=re.compile("^nic1"))).to_contain_text("No / Yes")

    # nic2 is plugged on an engine network: it may move, but not to an external network
    page.get_by_role("button", name="Edit nic2").click()
    dialog = page.get_by_role("dialog", name=f"Edit vNIC nic2 of {vm['name']}")
    picker = dialog.get_by_label("Profile")
    expect(picker).to_be_enabled()
    expect(picker.get_by_role("option", name=net["name"])).to_be_disabled()
    assert REWIRE in description_of(picker)
    # and its link may go down (an engine network's vNIC can be plugged and unlinked)
    dialog.get_by_role("radiogroup", name="Link state").get_by_label("Down").check()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    expect(nics.get_by_role("row", name=re.compile("^nic2"))).to_contain_text("Yes / No")

    # nic1, unplugged, moves freely and is plugged again (hot plug) in a second step
    page.get_by_role("button", name="Edit nic1").click()
    dialog = page.get_by_role("dialog", name=f"Edit vNIC nic1 of {vm['name']}")
    expect(dialog.get_by_label("Profile")).to_be_enabled()
    dialog.get_by_role("radiogroup", name="Card status").get_by_label("Plugged", exact=True).check()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    expect(nics.get_by_role("row", name=re.compile("^nic1"))).to_contain_text("Yes / Yes")
    expect(page.get_by_role("region", name="Provisioning steps of nic1")).to_contain_text("hot plugged")
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200
