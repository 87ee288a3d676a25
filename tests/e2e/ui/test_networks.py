"""Provider networks: discover and import, create on the provider, the Provider column, subnets, networks gone
from the provider, and vNIC profiles (SecurityGroups, port mirroring refused on external networks)."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.ui.conftest import Neutrino, expect, shot, unique


def external_network(neutrino: Neutrino, dc: dict[str, Any], name: str) -> dict[str, Any]:
    """A network created on the provider through the engine, in ``dc``."""
    return neutrino.post(
        "/networks",
        {"name": name, "data_center": {"id": dc["id"]}, "external_provider": {"id": neutrino.provider["id"]}},
    )


def test_discover_and_import_into_chosen_data_centers(page: Any, neutrino: Neutrino) -> None:
    provider = neutrino.provider
    dc = neutrino.data_center(unique("dc-import"), clusters=2)
    names = sorted(unique("imp") for _ in range(3))
    for name in names:
        neutrino.provider_network(name)
    # one whose name the data center already uses: its import fails, the others go on
    clash = unique("clash")
    neutrino.post("/networks", {"name": clash, "data_center": {"id": dc["id"]}})
    neutrino.provider_network(clash)

    page.goto(f"{neutrino.base}/#/providers/{provider['id']}/networks")
    for name in [*names, clash]:
        page.locator(f"input[data-network='{name}']").check()
    page.get_by_role("button", name="Import…").click()
    dialog = page.locator("dialog[open]")
    for name in [*names, clash]:
        section = dialog.locator("fieldset", has=page.locator("legend", has_text=name))
        box = section.get_by_label(dc["name"])
        box.check()
    shot(page, "import-dialog")
    dialog.get_by_role("button", name="Import").click()
    expect(dialog.locator("footer .status-line")).to_have_text("3 of 4 imported.", timeout=60000)
    expect(dialog.locator("ul.results li.ok")).to_have_count(3)
    expect(dialog.locator("ul.results li.ok").first).to_contain_text("attached (not required) to 2 clusters")
    expect(dialog.locator("ul.results li.bad")).to_contain_text(f"{clash} → {dc['name']}: Cannot import")
    shot(page, "import-results")
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator("dialog[open]")).to_have_count(0)

    # the list says where each is imported now; the DC has them, attached not-required to every cluster
    for name in names:
        row = page.locator("#view tbody tr", has=page.locator(f"input[data-network='{name}']"))
        expect(row.locator("td").last).to_contain_text(dc["name"])
    dc_networks = {n["name"]: n for n in neutrino.get(f"/datacenters/{dc['id']}/networks", "network")}
    clusters = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")
    assert len(clusters) == 2
    for name in names:
        assert dc_networks[name]["external_provider"]["id"] == provider["id"]
    for cluster in clusters:
        attached = {n["name"]: n for n in neutrino.get(f"/clusters/{cluster['id']}/networks", "network")}
        for name in names:
            assert attached[name]["required"] == "false"
    shot(page, "provider-networks")

    # a data center that has the network is not offered for it again
    page.locator(f"input[data-network='{names[0]}']").check()
    page.get_by_role("button", name="Import…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("legend")).to_have_text([names[0]])
    expect(dialog.get_by_label(dc["name"])).to_have_count(0)
    dialog.get_by_role("button", name="Cancel").click()

    # "choose all" picks every network the provider lists
    page.get_by_label("Choose all networks").check()
    expect(page.locator("input[data-network]:not(:checked)")).to_have_count(0)
    page.get_by_label("Choose all networks").uncheck()
    expect(page.get_by_role("button", name="Import…")).to_be_disabled()


def test_create_a_network_on_the_provider(page: Any, neutrino: Neutrino) -> None:
    provider = neutrino.provider
    dc = neutrino.data_center(unique("dc-new"))
    name = unique("made-in-ui")
    page.goto(f"{neutrino.base}/#/providers/{provider['id']}/networks")
    page.get_by_role("button", name="New network on provider…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Data Center", exact=True).select_option(label=dc["name"])
    expect(dialog.get_by_label("Network provider")).to_have_value(provider["id"])
    dialog.get_by_role("button", name="OK").click()
    expect(
        page.locator(".message.success", has_text=f"Network '{name}' was created on the provider.")
    ).to_be_visible()
    expect(page.locator("#view tbody tr", has=page.locator(f"input[data-network='{name}']"))).to_contain_text(
        dc["name"]
    )
    on_provider = neutrino.neutron.get("/networks", params={"name": name}).json()["networks"]
    assert len(on_provider) == 1
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    assert any(
        n["name"] == name and n["required"] == "false"
        for n in neutrino.get(f"/clusters/{cluster['id']}/networks", "network")
    )


def test_every_network_list_links_the_provider_and_subnets_are_edited_live(
    page: Any, neutrino: Neutrino
) -> None:
    provider = neutrino.provider
    dc = neutrino.data_center(unique("dc-subnets"))
    net = external_network(neutrino, dc, unique("subnetted"))
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    neutrino.post(f"/clusters/{cluster['id']}/networks", {"id": net["id"], "required": "false"})

    for where in ("#/networks", f"#/datacenters/{dc['id']}/networks", f"#/clusters/{cluster['id']}/networks"):
        page.goto(f"{neutrino.base}/{where}")
        row = page.locator("#view tbody tr", has=page.locator(f"a[href='#/networks/{net['id']}']")).first
        expect(row.locator("a.provider-link")).to_have_text(provider["name"])
        expect(row.locator(".badge.ext")).to_have_text("External")
        if where.startswith("#/clusters"):
            shot(page, "cluster-networks")
    page.goto(f"{neutrino.base}/#/networks")
    shot(page, "networks")
    row = page.locator("#view tbody tr", has=page.locator(f"a[href='#/networks/{net['id']}']"))
    row.locator("a.provider-link").click()
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{provider['id']}")

    page.goto(f"{neutrino.base}/#/networks/{net['id']}/subnets")
    page.get_by_role("button", name="Add subnet…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name", exact=True).fill("sub-a")
    dialog.get_by_label("CIDR").fill("10.77.0.0/24")
    dialog.get_by_label("IP version").select_option("v4")
    dialog.get_by_label("Gateway").fill("10.77.0.1")
    dialog.get_by_label("DNS servers").fill("10.77.0.2, 10.77.0.3")
    dialog.get_by_role("button", name="OK").click()
    subnet_row = page.locator("#view tbody tr", has_text="10.77.0.0/24")
    expect(subnet_row).to_contain_text("sub-a")
    expect(subnet_row).to_contain_text("IPv4")
    expect(subnet_row).to_contain_text("10.77.0.1")
    expect(subnet_row).to_contain_text("10.77.0.2, 10.77.0.3")
    shot(page, "subnets")
    on_provider = neutrino.neutron.get("/subnets", params={"cidr": "10.77.0.0/24"}).json()["subnets"]
    assert [s["name"] for s in on_provider] == ["sub-a"]

    # what the engine or the provider refuses comes back as its message, in the dialog, which stays open to fix it
    page.get_by_role("button", name="Add subnet…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    dialog.get_by_label("CIDR").fill("10.78.0.0/24")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator(".error")).to_have_text("Incomplete parameters: 'name' is required.")
    dialog.get_by_label("Name", exact=True).fill("sub-b")
    dialog.get_by_label("CIDR").fill("10.78.0.0/99")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator(".error")).to_have_text(
        "Invalid value for 'cidr': '10.78.0.0/99' is not a network address with a prefix, e.g. 10.0.0.0/24 "
        "('10.78.0.0/99' does not appear to be an IPv4 or IPv6 network)."
    )
    dialog.get_by_label("CIDR").fill("10.78.0.0/24")
    dialog.get_by_label("Gateway").fill("10.99.0.1")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator(".error")).to_have_text(
        "Invalid value for 'gateway': 10.99.0.1 is outside 10.78.0.0/24."
    )
    dialog.get_by_label("Gateway").fill("")
    dialog.get_by_label("CIDR").fill("10.77.0.128/25")  # inside sub-a: the provider refuses the overlap
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator(".error")).to_contain_text("The external provider refused the request:")
    expect(dialog.locator(".error")).to_contain_text("overlaps with another subnet")
    shot(page, "subnet-refused")
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)

    # IPv6: the version follows the CIDR typed
    page.get_by_role("button", name="Add subnet…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name", exact=True).fill("sub-v6")
    dialog.get_by_label("CIDR").fill("fd00:77::/64")
    expect(dialog.get_by_label("IP version")).to_have_value("v6")
    dialog.get_by_label("Gateway").fill("fd00:77::1")
    dialog.get_by_label("DNS servers").fill("fd00:77::53")
    page.keyboard.press("Enter")
    v6_row = page.locator("#view tbody tr", has_text="fd00:77::/64")
    expect(v6_row.locator("td")).to_have_text(["sub-v6", "fd00:77::/64", "IPv6", "fd00:77::1", "fd00:77::53"])
    expect(page.locator("#view .subpanel tbody tr")).to_have_count(2)
    v6_row.click()
    page.get_by_role("button", name="Remove subnet").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    expect(v6_row).to_have_count(0)

    subnet_row.click()
    page.get_by_role("button", name="Remove subnet").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    expect(page.locator("#view td.empty")).to_have_text("The provider has no subnets on this network.")
    assert neutrino.neutron.get("/subnets", params={"cidr": "10.77.0.0/24"}).json()["subnets"] == []


def test_a_network_gone_from_the_provider_is_marked(page: Any, neutrino: Neutrino) -> None:
    dc = neutrino.data_center(unique("dc-gone"))
    net = external_network(neutrino, dc, unique("doomed"))
    ext = neutrino.neutron.get("/networks", params={"name": net["name"]}).json()["networks"][0]
    assert neutrino.neutron.delete(f"/networks/{ext['id']}").status_code == 204
    row = page.locator("#view tbody tr", has=page.locator(f"a[href='#/networks/{net['id']}']"))
    deadline = time.monotonic() + 30  # the engine notices at its next synchronization (every 5 s here)
    while True:
        page.goto(f"{neutrino.base}/#/networks?{time.monotonic()}")
        page.goto(f"{neutrino.base}/#/networks")
        expect(row).to_be_visible()
        if row.locator(".badge.bad").count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(1000)
    expect(row.locator(".badge.bad")).to_have_text("Missing from provider")
    shot(page, "network-missing")
    # its Subnets sub-tab says why there is nothing to show, and the rest of the page stays
    page.goto(f"{neutrino.base}/#/networks/{net['id']}/subnets")
    expect(page.locator("#view .subpanel [role=alert]")).to_have_text(
        f"The provider has no network '{ext['id']}'."
    )
    expect(row.locator(".badge.bad")).to_have_text("Missing from provider")
    expect(page.locator("#view dl.general")).to_have_count(0)
    page.locator(".subtabs a", has_text="General").click()
    expect(page.locator("#view dl.general")).to_contain_text("Missing from provider")


def test_vnic_profile_security_groups_and_no_port_mirroring_on_external(
    page: Any, neutrino: Neutrino
) -> None:
    dc = neutrino.data_center(unique("dc-prof"))
    net = external_network(neutrino, dc, unique("guarded"))
    r = neutrino.neutron.post("/security-groups", json={"security_group": {"name": unique("sg")}})
    assert r.status_code == 201, r.text
    group = r.json()["security_group"]["id"]

    page.goto(f"{neutrino.base}/#/networks/{net['id']}/profiles")
    row = page.locator("#view .subpanel tbody tr", has_text=net["name"])
    row.click()
    page.get_by_role("button", name="Edit profile…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Not set")).to_be_checked()
    dialog.get_by_label("SecurityGroups").fill(group)
    expect(dialog.get_by_label("These groups")).to_be_checked()
    dialog.get_by_role("button", name="OK").click()
    expect(row).to_contain_text(group)
    expect(row.locator("a.provider-link")).to_be_visible()

    # bad input is answered with the engine's message, in the dialog
    row.click()
    page.get_by_role("button", name="Edit profile…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("SecurityGroups")).to_have_value(group)
    dialog.get_by_label("SecurityGroups").fill("not-a-uuid")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator(".error")).to_have_text(
        "Cannot edit VM network interface profile if some of the specified custom properties have illegal values. "
        "The keys are: SecurityGroups (SecurityGroups takes a comma-separated list of security group UUIDs, or nothing; "
        "PortSecurity takes true, false, or nothing)"
    )
    shot(page, "vnic-profile-bad-security-groups")
    # empty: the ports get no security group at all
    dialog.get_by_label("Empty (no security group)").check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(row).to_contain_text("none (empty)")
    props = neutrino.api.get(f"/vnicprofiles/{row.get_attribute('data-id')}").json()["custom_properties"]
    assert props["custom_property"] == [{"name": "SecurityGroups", "value": ""}]
    # not set: the provider's default group
    row.click()
    page.get_by_role("button", name="Edit profile…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Empty (no security group)")).to_be_checked()
    dialog.get_by_label("Not set").check()
    dialog.get_by_role("button", name="OK").click()
    expect(row).to_contain_text("not set")
    assert "custom_properties" not in neutrino.api.get(f"/vnicprofiles/{row.get_attribute('data-id')}").json()
    row.click()
    page.get_by_role("button", name="Edit profile…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("SecurityGroups").fill(group)
    dialog.get_by_role("button", name="OK").click()
    expect(row).to_contain_text(group)

    page.goto(f"{neutrino.base}/#/vnicprofiles")
    row = page.locator("#view tbody tr", has_text=group)
    row.click()
    page.get_by_role("button", name="Edit profile…").click()
    dialog = page.locator("dialog[open]")
    # no port mirroring on an external network: the box is disabled, with the engine's reason next to it
    expect(dialog.get_by_label("Port mirroring")).to_be_disabled()
    expect(dialog).to_contain_text("External network cannot be used when port mirroring is set.")
    shot(page, "vnic-profile-guided")
    dialog.get_by_role("button", name="Cancel").click()
    shot(page, "vnic-profiles")


def test_importing_many_networks_shows_progress_and_can_be_stopped(page: Any, neutrino: Neutrino) -> None:
    provider = neutrino.provider
    dc = neutrino.data_center(unique("dc-many"))
    names = sorted(unique("many") for _ in range(6))
    for name in names:
        neutrino.provider_network(name)
    held: list[Any] = []  # the import calls the page makes, answered one at a time by the test

    def hold(route: Any) -> None:
        held.append(route)

    page.route("**/openstacknetworkproviders/*/networks/*/import", hold)

    def release() -> None:
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        held.pop(0).continue_()

    page.goto(f"{neutrino.base}/#/providers/{provider['id']}/networks")
    for name in names:
        page.locator(f"input[data-network='{name}']").check()
    page.get_by_role("button", name="Import…").click()
    dialog = page.locator("dialog[open]")
    for name in names:
        dialog.locator("fieldset", has=page.locator("legend", has_text=name)).get_by_label(dc["name"]).check()
    dialog.get_by_role("button", name="Import").click()
    status = dialog.locator("footer .status-line")
    bar = dialog.get_by_role("progressbar", name="Import progress")
    for i in range(3):
        expect(status).to_have_text(f"Importing {i + 1} of 6: {names[i]} into {dc['name']}…")
        expect(bar).to_have_js_property("value", i)
        expect(bar).to_have_js_property("max", 6)
        expect(dialog.get_by_role("button", name="Import")).to_be_disabled()
        if i == 2:
            shot(page, "import-progress")
            # Escape while importing stops after the current network instead of leaving it running unseen
            expect(dialog.locator("button[data-action=cancel]")).to_have_text("Stop")
            page.keyboard.press("Escape")
            expect(status).to_have_text("Stopping after the current import…")
            expect(dialog).to_be_visible()
        release()
    expect(status).to_have_text("3 of 6 imported. Stopped: 3 not tried.")
    expect(bar).to_have_js_property("value", 3)
    expect(dialog.locator("ul.results li.ok")).to_have_count(3)
    page.unroute("**/openstacknetworkproviders/*/networks/*/import")
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    imported = {n["name"] for n in neutrino.get(f"/datacenters/{dc['id']}/networks", "network")}
    assert imported >= set(names[:3]) and not imported & set(names[3:])


def test_import_without_public_takes_the_everyone_permission_back(page: Any, neutrino: Neutrino) -> None:
    dc = neutrino.data_center(unique("dc-private"))
    name = unique("private")
    neutrino.provider_network(name)
    page.goto(f"{neutrino.base}/#/providers/{neutrino.provider['id']}/networks")
    page.locator(f"input[data-network='{name}']").check()
    page.get_by_role("button", name="Import…").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("fieldset", has=page.locator("legend", has_text=name)).get_by_label(dc["name"]).check()
    dialog.locator("input[name=public]").uncheck()
    dialog.get_by_role("button", name="Import").click()
    expect(dialog.locator("ul.results li.ok")).to_contain_text(
        "its vNIC profile is not public", timeout=60000
    )
    dialog.get_by_role("button", name="Close").click()
    [net] = [n for n in neutrino.get(f"/datacenters/{dc['id']}/networks", "network") if n["name"] == name]
    [profile] = neutrino.get(f"/networks/{net['id']}/vnicprofiles", "vnic_profile")
    assert profile["public"] == "false"
    assert neutrino.get(f"/vnicprofiles/{profile['id']}/permissions", "permission") == []
