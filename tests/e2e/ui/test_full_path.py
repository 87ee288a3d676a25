"""The whole path through the browser alone, with no call to the engine's API: a data center and a cluster, a host
(its agent's address, port and token), the provider registered, one of its networks imported and given a subnet,
a VM with a vNIC on it run (its address seen), stopped, the vNIC removed and its port seen gone.

The network it imports exists on the provider beforehand, made there as the provider's operator would (the
`openstack network create` of Neutron's API): the engine is touched only through the UI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.ui.conftest import PASSWORD, Neutrino, expect, shot, unique
from tests.support.servers import agent_process


def ok(dialog: Any) -> None:
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)


def open_network(page: Any, network: str, dc: str) -> None:
    """The network's page, from the Networks tab (the provider's own auto-sync may have put a namesake in Default)."""
    tab(page, "Networks")
    row = page.get_by_role("table", name="Networks").get_by_role("row", name=re.compile(f"^{network} {dc} "))
    row.get_by_role("link", name=network).click()
    expect(page.get_by_role("heading", name=f"Network {network}")).to_be_visible()


def tab(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main tabs").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()


def test_the_whole_path_with_no_api_call(page: Any, neutrino: Neutrino, tmp_path: Path) -> None:
    dc, cluster, host, provider = unique("dc"), unique("cl"), unique("host"), unique("prov")
    network, vm = unique("pathnet"), unique("pathvm")
    r = neutrino.neutron.post(
        "/networks", json={"network": {"name": network}}
    )  # on the provider, not the engine
    assert r.status_code == 201, r.text

    # a data center and its cluster
    tab(page, "Data Centers")
    page.get_by_role("button", name="New data center…").click()
    dialog = page.get_by_role("dialog", name="New data center")
    dialog.get_by_label("Name", exact=True).fill(dc)
    dialog.get_by_label("Description").fill("made in the UI")
    ok(dialog)
    expect(page.get_by_role("heading", name=f"Data center {dc}")).to_be_visible()
    tab(page, "Clusters")
    page.get_by_role("button", name="New cluster…").click()
    dialog = page.get_by_role("dialog", name="New cluster")
    dialog.get_by_label("Name", exact=True).fill(cluster)
    dialog.get_by_label("Data Center").select_option(label=dc)
    ok(dialog)
    expect(page.get_by_role("heading", name=f"Cluster {cluster}")).to_be_visible()
    shot(page, "path-1-cluster")

    with agent_process(tmp_path, host) as agent:
        # a host: its agent's address, port and token
        tab(page, "Hosts")
        page.get_by_role("button", name="New host…").click()
        dialog = page.get_by_role("dialog", name="New host")
        dialog.get_by_label("Name", exact=True).fill(host)
        dialog.get_by_label("Address").fill("127.0.0.1")
        dialog.get_by_label("Agent port").fill(str(agent.port))
        dialog.get_by_label("Cluster").select_option(label=cluster)
        dialog.get_by_label("Agent token").fill(agent.token)
        ok(dialog)
        expect(
            page.get_by_role("status").filter(has_text=f"Host '{host}' was saved; it is up.")
        ).to_be_visible()
        shot(page, "path-2-host")

        # the provider, tested then saved
        tab(page, "Providers")
        page.get_by_role("button", name="Add…").click()
        dialog = page.get_by_role("dialog", name="Add provider")
        dialog.get_by_label("Name", exact=True).fill(provider)
        dialog.get_by_label("Provider URL").fill(neutrino.provider_url)
        dialog.get_by_label("Plugin type", exact=True).select_option("external")
        dialog.get_by_label("Other plugin type").fill("LINUX_BRIDGE")
        dialog.get_by_label("Requires authentication").check()
        dialog.get_by_label("User name").fill("admin")
        dialog.get_by_label("Password", exact=True).fill(PASSWORD)
        dialog.get_by_label("Authentication URL").fill(f"{neutrino.provider_url}/v3")
        dialog.get_by_label("Tenant (project) name").fill("admin")
        dialog.get_by_label("User domain name").fill("Default")
        dialog.get_by_label("Project domain name").fill("Default")
        dialog.get_by_role("button", name="Test").click()
        expect(dialog.get_by_role("status")).to_have_text("Connection succeeded.")
        ok(dialog)
        expect(page.get_by_role("heading", name=f"Provider {provider}")).to_be_visible()

        # its network imported into the data center (and attached, not required, to its cluster)
        page.get_by_role("navigation", name=f"Provider {provider}").get_by_role(
            "link", name="Networks"
        ).click()
        page.get_by_role("checkbox", name=f"Choose {network}").check()
        page.get_by_role("button", name="Import…").click()
        dialog = page.get_by_role("dialog", name=f"Import networks from {provider}")
        dialog.get_by_role("group", name=network).get_by_label(dc).check()
        dialog.get_by_role("button", name="Import").click()
        expect(dialog.get_by_role("status")).to_have_text("1 of 1 imported.")
        expect(dialog.get_by_role("list", name="Import results")).to_contain_text(
            "attached (not required) to 1 cluster"
        )
        dialog.get_by_role("button", name="Close").click()
        shot(page, "path-3-imported")

        # a subnet for it, on the provider, from the network's page
        open_network(page, network, dc)
        page.get_by_role("navigation", name=f"Network {network}").get_by_role("link", name="Subnets").click()
        page.get_by_role("button", name="Add subnet…").click()
        dialog = page.get_by_role("dialog", name="New subnet")
        dialog.get_by_label("Name", exact=True).fill(f"{network}-v4")
        dialog.get_by_label("CIDR").fill("10.91.0.0/24")
        ok(dialog)
        expect(page.get_by_role("table", name="Subnets")).to_contain_text("10.91.0.0/24")

        # a VM in the cluster, and a vNIC on the external network: the picker names its provider
        tab(page, "Virtual Machines")
        page.get_by_role("button", name="New VM…").click()
        dialog = page.get_by_role("dialog", name="New VM")
        dialog.get_by_label("Name", exact=True).fill(vm)
        dialog.get_by_label("Cluster").select_option(label=cluster)
        dialog.get_by_label("Memory (MiB)").fill("512")
        ok(dialog)
        expect(page.get_by_role("heading", name=f"VM {vm}")).to_be_visible()
        page.get_by_role("button", name="New vNIC…").click()
        dialog = page.get_by_role("dialog", name=f"New vNIC for {vm}")
        dialog.get_by_label("Name", exact=True).fill("nic1")
        picker = dialog.get_by_label("Profile")
        expect(picker.locator(f"optgroup[label='{network} — external, provider {provider}']")).to_have_count(
            1
        )
        picker.select_option(label=network)
        shot(page, "path-4-vnic-dialog")
        ok(dialog)
        nics = page.get_by_role("table", name=f"Network interfaces of {vm}")
        expect(nics.get_by_role("row", name=re.compile("nic1"))).to_contain_text(network)

        # run it: the vNIC's address, from its port, and each step of its provisioning
        page.get_by_role("button", name="Run", exact=True).click()
        expect(
            page.get_by_role("status").filter(has_text=f"Run {vm}: done; it is up on host {host}.")
        ).to_be_visible()
        expect(nics.get_by_role("list", name="Addresses of nic1")).to_have_text(
            re.compile(r"^10\.91\.0\.\d+$")
        )
        steps = page.get_by_role("region", name="Provisioning steps of nic1")
        expect(steps.get_by_role("listitem").last).to_contain_text("plugged")
        shot(page, "path-5-running")

        # stop it: the port stays (until the vNIC goes)
        page.get_by_role("button", name="Stop", exact=True).click()
        row = page.get_by_role("table", name="Virtual machines").get_by_role("row", name=re.compile(vm))
        expect(row).to_contain_text("down")
        open_network(page, network, dc)
        page.get_by_role("navigation", name=f"Network {network}").get_by_role("link", name="Ports").click()
        ports = page.get_by_role("table", name=f"Ports of {network}")
        expect(ports).to_contain_text(f"nic1 of {vm}")
        expect(ports).to_contain_text("10.91.0.")
        shot(page, "path-6-port")

        # remove the vNIC: its port is gone from the provider
        page.get_by_role("link", name=f"nic1 of {vm}").click()
        page.get_by_role("button", name="Remove nic1").click()
        page.get_by_role("dialog", name="Remove vNIC").get_by_role("button", name="Remove").click()
        expect(
            page.get_by_role("status").filter(has_text=f"vNIC 'nic1' of {vm} was removed.")
        ).to_be_visible()
        expect(nics).to_contain_text("This VM has no network interfaces.")
        open_network(page, network, dc)
        page.get_by_role("navigation", name=f"Network {network}").get_by_role("link", name="Ports").click()
        expect(page.get_by_role("table", name=f"Ports of {network}")).to_contain_text(
            "No vNIC has a port on this network."
        )
        shot(page, "path-7-port-gone")
