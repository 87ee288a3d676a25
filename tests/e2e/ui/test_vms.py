"""Virtual Machines tab: status and host, Run/Stop/Migrate with progress, the NICs sub-tab with each vNIC's
provisioning (state, port, binding host, last error, steps) updating live, and NIC activate/deactivate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from tests.e2e.ui.conftest import Neutrino, delaying_proxy, expect, shot, unique
from tests.support.servers import agent_process, free_port

RUN_STEPS = ["looking up port", "creating port", "port created", "bound", "plugged"]


def nic_cell(page: Any, column: str) -> Any:
    """The cell of the first NIC's row under the column titled ``column``."""
    panel = page.locator("#view .subpanel")
    expect(panel.locator("thead th", has_text=column)).to_have_count(1)
    titles = panel.locator("thead th").all_inner_texts()
    return panel.locator("tbody tr").first.locator("td").nth(titles.index(column))


def latest_steps(page: Any, nic: str = "nic1") -> Any:
    return page.locator(f"section.steps[data-nic='{nic}'] > .attempt ol.timeline li[data-step]")


def test_vms_with_status_host_nics_run_and_stop(page: Any, neutrino: Neutrino) -> None:
    made = neutrino.vm_with_external_nic()
    vm, nic, net, profile = made["vm"], made["nic"], made["network"], made["profile"]

    page.goto(f"{neutrino.base}/#/vms")
    row = page.locator(f"#view tbody tr[data-id='{vm['id']}']")
    expect(row.locator(".badge")).to_have_text("down")
    row.locator("td").nth(1).click()  # the row, not a link in it
    expect(page).to_have_url(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    nic_row = page.locator("#view .subpanel tbody tr").first
    expect(nic_row).to_contain_text("nic1")
    expect(nic_row).to_contain_text(nic["mac"]["address"])
    expect(nic_row).to_contain_text(profile["name"])
    expect(nic_row.locator(f"a[href='#/networks/{net['id']}']")).to_have_text(net["name"])
    expect(nic_row.locator("a.provider-link")).to_have_text(neutrino.provider["name"])
    expect(nic_cell(page, "Plugged / linked").locator(".plugged")).to_have_text("Yes / Yes")
    expect(nic_cell(page, "Port")).to_contain_text("no port yet")
    expect(page.locator("#view .subpanel")).to_contain_text("No vNIC of this VM has been provisioned yet")
    shot(page, "vm-nics-down")

    page.get_by_role("button", name="Run").click()
    expect(
        page.locator(".message.success", has_text=f"Run {vm['name']}: done; it is up on host")
    ).to_be_visible()
    expect(row.locator(".badge")).to_have_text("up")
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    running = neutrino.api.get(f"/vms/{vm['id']}").json()
    host = neutrino.api.get(f"/hosts/{running['host']['id']}").json()
    expect(row.locator("a.host-link")).to_have_text(host["name"])
    expect(nic_row.locator("a.provider-link")).to_have_text(neutrino.provider["name"])

    # the vNIC's provisioning: its port on the provider, where it is bound, and each step with its time
    provisioning = neutrino.api.get(f"/vms/{vm['id']}/nics/{nic['id']}").json()["provisioning"]
    expect(nic_cell(page, "Provisioning")).to_have_text("plugged")
    expect(nic_cell(page, "Port").locator("code")).to_have_text(provisioning["port_id"][:8])
    expect(nic_cell(page, "Port").locator("code")).to_have_attribute("title", provisioning["port_id"])
    expect(nic_cell(page, "Port").locator(".badge")).to_have_text(re.compile("ACTIVE|DOWN"))
    expect(nic_cell(page, "Binding host")).to_have_text(provisioning["binding_host"])
    expect(nic_cell(page, "Last error")).to_have_text("—")
    steps = latest_steps(page)
    expect(steps.locator(".step-name")).to_have_text(RUN_STEPS)
    expect(steps.locator("time").first).to_have_text(re.compile(r"^\d\d:\d\d:\d\d\.\d{3}$"))
    expect(steps.nth(1).locator(".delta")).to_have_text(re.compile(r"^\+\d+ ms$"))
    shot(page, "vm-nics")
    page.goto(f"{neutrino.base}/#/vms")
    shot(page, "vms")

    # the host is a link to its page
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    row.locator("a.host-link").click()
    expect(page).to_have_url(f"{neutrino.base}/#/hosts/{host['id']}")
    expect(page.locator("#view h3")).to_have_text(f"Host {host['name']}")

    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    page.get_by_role("button", name="Stop").click()
    expect(row.locator(".badge")).to_have_text("down")
    expect(nic_cell(page, "Provisioning")).to_have_text("unplugged")
    expect(steps.last.locator(".step-name")).to_have_text("unplugged")
    assert neutrino.api.get(f"/vms/{vm['id']}").json()["status"] == "down"


def test_provisioning_steps_appear_live_while_a_vm_starts(
    page: Any, neutrino: Neutrino, tmp_path: Path
) -> None:
    dc = neutrino.data_center(unique("dc-slow"))
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    made = neutrino.vm_with_external_nic(cluster)
    vm = made["vm"]
    with agent_process(tmp_path, unique("slow")) as agent, delaying_proxy(agent.port, delay=4) as port:
        neutrino.add_host(unique("slow"), port, agent.token, cluster)
        page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
        page.get_by_role("button", name="Run").click()
        # the host takes its time to plug: meanwhile the page shows the steps the engine has committed so far
        expect(page.get_by_role("status").filter(has_text=f"Starting {vm['name']}…")).to_be_visible()
        expect(page.locator(f"#view tbody tr[data-id='{vm['id']}'] .badge")).to_have_text(
            re.compile("powering up|wait for launch")
        )
        expect(latest_steps(page).locator(".step-name")).to_have_text(RUN_STEPS[:4], timeout=3500)
        expect(nic_cell(page, "Provisioning")).to_have_text("port ready")
        expect(page.locator("section.steps li.pending")).to_have_text("waiting for the host to plug it…")
        expect(page.get_by_role("status").filter(has_text=f"Starting {vm['name']}…")).to_be_visible()
        shot(page, "vm-starting")
        expect(latest_steps(page).locator(".step-name")).to_have_text(RUN_STEPS)
        expect(page.locator(".message.success", has_text=f"Run {vm['name']}: done; it is up")).to_be_visible()
        expect(page.locator(f"#view tbody tr[data-id='{vm['id']}'] .badge")).to_have_text("up")
        expect(nic_cell(page, "Provisioning")).to_have_text("plugged")
        assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200


def test_a_refused_run_names_the_filter_that_excluded_each_host(
    page: Any, neutrino: Neutrino, tmp_path: Path
) -> None:
    dc = neutrino.data_center(unique("dc-refuse"))
    cluster = neutrino.get(f"/datacenters/{dc['id']}/clusters", "cluster")[0]
    vm = neutrino.vm_with_external_nic(cluster)["vm"]
    ghost, narrow = unique("ghost"), unique("narrow")
    neutrino.add_host(ghost, free_port(), "nobody-listens", cluster)
    # an agent that plugs only OPEN_VSWITCH vNICs; the provider's are LINUX_BRIDGE
    with agent_process(tmp_path, narrow, ["--vnic-driver", "OPEN_VSWITCH=noop"]) as agent:
        neutrino.add_host(narrow, agent.port, agent.token, cluster)
        page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
        page.get_by_role("button", name="Run").click()
        error = page.locator(
            ".message.error", has_text=f"Run {vm['name']} failed: Cannot run VM. No host can run the VM:"
        )
        expect(error).to_be_visible()
        # one host a line, each with the filter that excluded it
        expect(error).to_contain_text(f"• {ghost} (Up: the host is not Up)")
        expect(error).to_contain_text(
            f"• {narrow} (VnicNetworks: vNIC nic1: its agent has no vNIC driver for plugin type LINUX_BRIDGE)"
        )
        assert "Traceback" not in error.inner_text()
        shot(page, "vm-run-refused-filters")
        expect(page.locator(f"#view tbody tr[data-id='{vm['id']}'] .badge")).to_have_text("down")
        expect(page.get_by_role("button", name="Run")).to_be_enabled()


def test_a_vnic_that_fails_shows_its_last_error_and_the_failed_step(page: Any, neutrino: Neutrino) -> None:
    made = neutrino.vm_with_external_nic()
    vm, profile = made["vm"], made["profile"]
    missing = "11111111-2222-3333-4444-555555555555"  # a well-formed group the provider does not have
    r = neutrino.api.put(
        f"/vnicprofiles/{profile['id']}",
        json={"custom_properties": {"custom_property": [{"name": "SecurityGroups", "value": missing}]}},
    )
    assert r.status_code == 200, r.text
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    page.get_by_role("button", name="Run").click()
    error = page.locator(".message.error", has_text=f"Run {vm['name']} failed: Cannot run VM. vNIC nic1:")
    expect(error).to_contain_text(f"Security group {missing} does not exist")
    expect(nic_cell(page, "Provisioning")).to_have_text("failed")
    expect(nic_cell(page, "Last error")).to_contain_text(f"Security group {missing} does not exist")
    failed = latest_steps(page).last
    expect(failed.locator(".step-name")).to_have_text("failed")
    expect(failed).to_have_class(re.compile("bad"))
    shot(page, "vm-nic-failed")


def test_migrate_to_a_chosen_host_then_automatically(
    page: Any, neutrino: Neutrino, second_host: dict[str, Any]
) -> None:
    vm = neutrino.vm_with_external_nic()["vm"]
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    hosts = {h["id"]: h["name"] for h in neutrino.get("/hosts", "host")}
    source = neutrino.api.get(f"/vms/{vm['id']}").json()["host"]["id"]
    other = next(
        h["id"]
        for h in neutrino.get("/hosts?search=cluster%3DDefault", "host")
        if h["id"] != source and h["status"] == "up"
    )
    row = page.locator(f"#view tbody tr[data-id='{vm['id']}']")

    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    expect(row.locator("a.host-link")).to_have_text(hosts[source])
    page.get_by_role("button", name="Migrate…").click()
    dialog = page.locator("dialog[open]")
    target = dialog.get_by_label("Destination host")
    expect(target.locator("option").first).to_have_text("Automatic (the scheduler chooses)")
    expect(target.locator(f"option[value='{source}']")).to_have_count(0)  # not where it runs now
    target.select_option(other)
    shot(page, "vm-migrate-dialog")
    dialog.get_by_role("button", name="Migrate").click()
    expect(
        page.locator(
            ".message.success", has_text=f"Migrate {vm['name']}: done; it is up on host {hosts[other]}."
        )
    ).to_be_visible()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(row.locator("a.host-link")).to_have_text(hosts[other])
    expect(nic_cell(page, "Binding host")).to_have_text(
        neutrino.api.get(f"/vms/{vm['id']}/nics").json()["nic"][0]["provisioning"]["binding_host"]
    )
    expect(latest_steps(page).last).to_contain_text(f"migrated to host {hosts[other]}")

    # automatic, from the keyboard: the scheduler picks the only other host, where it came from
    page.get_by_role("button", name="Migrate…").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Destination host")).to_be_focused()
    expect(dialog.get_by_label("Destination host")).to_have_value("")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Migrate")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.locator("a.host-link")).to_have_text(hosts[source])
    assert neutrino.api.get(f"/vms/{vm['id']}").json()["host"]["id"] == source
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200


def test_deactivate_and_activate_a_nic_of_a_running_vm(page: Any, neutrino: Neutrino) -> None:
    made = neutrino.vm_with_external_nic()
    vm, nic = made["vm"], made["nic"]
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    expect(nic_cell(page, "Provisioning")).to_have_text("plugged")
    page.get_by_role("button", name="Deactivate nic1").click()
    expect(page.locator(".message.success", has_text="Deactivate nic1: done.")).to_be_visible()
    expect(nic_cell(page, "Plugged / linked").locator(".plugged")).to_have_text("No / Yes")
    expect(nic_cell(page, "Provisioning")).to_have_text("unplugged")
    expect(latest_steps(page).last.locator(".step-name")).to_have_text("unplugged")
    assert neutrino.api.get(f"/vms/{vm['id']}/nics/{nic['id']}").json()["plugged"] == "false"
    shot(page, "vm-nic-deactivated")

    # from the keyboard: the button keeps its focus across the live refreshes
    button = page.get_by_role("button", name="Activate nic1")
    button.focus()
    page.keyboard.press("Enter")
    expect(nic_cell(page, "Plugged / linked").locator(".plugged")).to_have_text("Yes / Yes")
    expect(nic_cell(page, "Provisioning")).to_have_text("plugged")
    expect(latest_steps(page).last).to_contain_text("hot plugged")
    assert neutrino.api.get(f"/vms/{vm['id']}/nics/{nic['id']}").json()["plugged"] == "true"
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200


def test_the_nics_sub_tab_follows_changes_made_elsewhere(page: Any, neutrino: Neutrino) -> None:
    vm = neutrino.vm_with_external_nic()["vm"]
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    expect(nic_cell(page, "Provisioning")).to_have_text("not provisioned")
    # started by someone else (here: the API): the open sub-tab shows it without a reload
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    expect(nic_cell(page, "Provisioning")).to_have_text("plugged")
    expect(latest_steps(page).locator(".step-name")).to_have_text(RUN_STEPS)
    expect(page.locator(f"#view tbody tr[data-id='{vm['id']}'] .badge")).to_have_text("up")
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200


def test_a_refused_action_shows_the_engines_message(page: Any, neutrino: Neutrino) -> None:
    vm = neutrino.post(
        "/vms",
        {
            "name": unique("gone"),
            "cluster": {"id": neutrino.default_cluster["id"]},
            "template": {"name": "Blank"},
        },
    )
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    expect(page.get_by_role("button", name="Run")).to_be_enabled()
    # removed behind the UI's back: Run is answered with the engine's fault text
    assert neutrino.api.delete(f"/vms/{vm['id']}").status_code == 200
    page.get_by_role("button", name="Run").click()
    error = page.locator(".message.error", has_text=f"Run {vm['name']} failed:")
    expect(error).to_be_visible()
    assert "Traceback" not in error.inner_text()
    shot(page, "vm-run-refused")


def test_a_narrow_window_keeps_the_vms_page_in_width(page: Any, neutrino: Neutrino) -> None:
    vm = neutrino.vm_with_external_nic()["vm"]
    assert neutrino.api.post(f"/vms/{vm['id']}/start", json={}).status_code == 200
    page.set_viewport_size({"width": 560, "height": 900})
    page.goto(f"{neutrino.base}/#/vms/{vm['id']}/nics")
    expect(latest_steps(page)).to_have_count(len(RUN_STEPS))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for attempt in range(3):  # the live view may redraw the list in between (its addresses come in after it)
        try:
            latest_steps(page).first.scroll_into_view_if_needed()
            break
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 2:
                raise
    shot(page, "narrow-vm-nics")
    assert neutrino.api.post(f"/vms/{vm['id']}/stop", json={}).status_code == 200
