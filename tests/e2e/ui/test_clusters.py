"""A cluster's Logical Networks: attach and detach its data center's networks, set required and display; what
the engine would refuse for an external network (required, display) is disabled with the reason, and what it
still refuses (the management network stays) is its message, next to the network it concerns."""

from __future__ import annotations

from typing import Any

from tests.e2e.ui.conftest import Neutrino, expect, shot, unique


def attached(neutrino: Neutrino, cluster: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (required, display) of the networks attached to ``cluster``, as the API says."""
    return {
        n["name"]: (n["required"], n["display"])
        for n in neutrino.get(f"/clusters/{cluster['id']}/networks", "network")
    }


def test_manage_networks_attaches_detaches_and_shows_the_engines_refusals(
    page: Any, neutrino: Neutrino
) -> None:
    dc = neutrino.data_center(unique("dc-manage"))
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    ext = neutrino.post(
        "/networks",
        {
            "name": unique("ext"),
            "data_center": {"id": dc["id"]},
            "external_provider": {"id": neutrino.provider["id"]},
        },
    )
    plain = neutrino.post("/networks", {"name": unique("plain"), "data_center": {"id": dc["id"]}})
    assert set(attached(neutrino, cluster)) == {"ovirtmgmt"}

    page.goto(f"{neutrino.base}/#/clusters/{cluster['id']}/networks")
    opener = page.get_by_role("button", name="Manage networks…")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("header")).to_have_text(f"Manage networks of cluster {cluster['name']}")
    expect(dialog.get_by_label("Assign ovirtmgmt")).to_be_checked()
    expect(dialog.get_by_label(f"Required {ext['name']}")).to_be_disabled()  # not assigned yet
    expect(dialog.locator("tr", has_text=ext["name"]).locator(".badge.ext")).to_have_text("External")

    # an external network is never required nor the display network: assigned, those stay disabled, saying why
    dialog.get_by_label(f"Assign {ext['name']}").check()
    for control in (f"Required {ext['name']}", f"Display {ext['name']}"):
        expect(dialog.get_by_label(control)).to_be_disabled()
        expect(dialog.get_by_label(control)).not_to_be_checked()
    expect(dialog.locator("tr", has_text=ext["name"])).to_contain_text(
        "never required in a cluster nor its display network"
    )
    dialog.get_by_label(f"Assign {plain['name']}").check()
    expect(dialog.get_by_label(f"Required {plain['name']}")).to_be_checked()  # oVirt's default for others
    dialog.get_by_label(f"Required {plain['name']}").uncheck()
    dialog.get_by_label(f"Display {plain['name']}").check()
    shot(page, "cluster-manage-networks")
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(
        page.locator(".message.success", has_text=f"Networks of cluster {cluster['name']}: 2 changes made.")
    ).to_be_visible()
    assert attached(neutrino, cluster) == {
        "ovirtmgmt": ("true", "false"),
        ext["name"]: ("false", "false"),
        plain["name"]: ("false", "true"),
    }
    # the sub-tab shows them, and the keyboard focus is back on the button that opened the dialog
    table = page.get_by_role("table", name=f"Networks of {cluster['name']}")
    ext_row = table.locator("tbody tr", has=page.locator(f"a[href='#/networks/{ext['id']}']"))
    expect(ext_row.locator("a.provider-link")).to_have_text(neutrino.provider["name"])
    expect(ext_row.locator("td[data-label=Required]")).to_have_text("No")
    plain_row = table.locator("tbody tr", has=page.locator(f"a[href='#/networks/{plain['id']}']"))
    expect(plain_row.locator("td[data-label=Display]")).to_have_text("Yes")
    expect(page.get_by_role("button", name="Manage networks…")).to_be_focused()
    shot(page, "cluster-networks-managed")

    # edit: required on, the display network moved back to ovirtmgmt, the external one detached
    page.get_by_role("button", name="Manage networks…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label(f"Required {plain['name']}").check()
    dialog.get_by_label("Display ovirtmgmt").check()
    dialog.get_by_label(f"Assign {ext['name']}").uncheck()
    dialog.get_by_role("button", name="OK").click()
    expect(
        page.locator(".message.success", has_text=f"Networks of cluster {cluster['name']}: 3 changes made.")
    ).to_be_visible()
    assert attached(neutrino, cluster) == {"ovirtmgmt": ("true", "true"), plain["name"]: ("true", "false")}
    expect(table.locator("tbody tr")).to_have_count(2)

    # the management network stays
    page.get_by_role("button", name="Manage networks…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Assign ovirtmgmt").uncheck()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.get_by_role("list", name="Changes made").locator("li.bad")).to_have_text(
        "ovirtmgmt: Cannot detach Logical Network. The management network cannot be detached."
    )
    expect(dialog.get_by_label("Assign ovirtmgmt")).to_be_checked()
    expect(dialog.get_by_label("Display ovirtmgmt")).to_be_checked()
    dialog.get_by_role("button", name="Cancel").click()
    assert attached(neutrino, cluster) == {"ovirtmgmt": ("true", "true"), plain["name"]: ("true", "false")}


def test_manage_networks_from_the_keyboard_and_escape(page: Any, neutrino: Neutrino) -> None:
    dc = neutrino.data_center(unique("dc-keys"))
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    plain = neutrino.post("/networks", {"name": unique("kb"), "data_center": {"id": dc["id"]}})
    page.goto(f"{neutrino.base}/#/clusters/{cluster['id']}/networks")
    page.get_by_role("button", name="Manage networks…").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    # the first control has the focus; Escape closes without a change, and the focus goes back to the opener
    expect(dialog.locator("input").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.get_by_role("button", name="Manage networks…")).to_be_focused()

    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    assign = dialog.get_by_label(f"Assign {plain['name']}")
    assign.focus()
    page.keyboard.press("Space")
    expect(assign).to_be_checked()
    page.keyboard.press("Tab")
    expect(dialog.get_by_label(f"Required {plain['name']}")).to_be_focused()
    page.keyboard.press("Enter")  # Enter in the form is OK
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert attached(neutrino, cluster)[plain["name"]] == ("true", "false")
    expect(page.get_by_role("button", name="Manage networks…")).to_be_focused()
