"""Providers tab: the list with its connection indicator, the Add dialog's Test, edit, remove and its refusal."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.e2e.ui.conftest import PASSWORD, Neutrino, expect, shot, unique
from tests.support.servers import free_port


def test_the_list_shows_type_url_and_whether_the_provider_answers(page: Any, neutrino: Neutrino) -> None:
    provider = neutrino.provider
    page.goto(f"{neutrino.base}/#/providers")
    row = page.locator(f"#view tbody tr[data-id='{provider['id']}']")
    expect(row).to_contain_text(provider["name"])
    expect(row).to_contain_text("OpenStack Networking")
    expect(row).to_contain_text(provider["url"])
    expect(row.locator(".connection")).to_have_text("Connected")
    shot(page, "providers")


def fill_provider(dialog: Any, neutrino: Neutrino, name: str, url: str, password: str) -> None:
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Description", exact=True).fill("added from the UI")
    dialog.get_by_label("Type", exact=True).select_option("neutron")
    dialog.get_by_label("Provider URL").fill(url)
    dialog.get_by_label("Plugin type", exact=True).select_option("external")
    dialog.get_by_label("Other plugin type").fill("LINUX_BRIDGE")
    dialog.get_by_label("Requires authentication").check()
    dialog.get_by_label("User name").fill("admin")
    dialog.get_by_label("Password", exact=True).fill(password)
    dialog.get_by_label("Authentication URL").fill(f"{url}/v3")
    dialog.get_by_label("Tenant (project) name").fill("admin")
    dialog.get_by_label("User domain name").fill("Default")
    dialog.get_by_label("Project domain name").fill("Default")


def test_add_with_test_before_saving_then_edit_and_remove(page: Any, neutrino: Neutrino) -> None:
    name = unique("prov")
    page.goto(f"{neutrino.base}/#/providers")
    page.get_by_role("button", name="Add…").click()
    dialog = page.locator("dialog[open]")
    status = dialog.locator("footer .status-line")

    # nobody listens there: Test says so before anything is saved
    fill_provider(dialog, neutrino, name, f"http://127.0.0.1:{free_port()}", PASSWORD)
    dialog.get_by_role("button", name="Test").click()
    expect(status).to_contain_text("Connection failed:")

    # the provider's own refusal of a wrong password is shown
    fill_provider(dialog, neutrino, name, neutrino.provider_url, "not-the-password")
    dialog.get_by_role("button", name="Test").click()
    expect(status).to_contain_text("Connection failed:")

    fill_provider(dialog, neutrino, name, neutrino.provider_url, PASSWORD)
    dialog.get_by_role("button", name="Test").click()
    expect(status).to_have_text("Connection succeeded.")
    shot(page, "provider-add-dialog")
    assert not any(
        p["name"] == name for p in neutrino.get("/openstacknetworkproviders", "openstack_network_provider")
    )

    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    added = next(
        p
        for p in neutrino.get("/openstacknetworkproviders", "openstack_network_provider")
        if p["name"] == name
    )
    assert added["external_plugin_type"] == "LINUX_BRIDGE" and added["auto_sync"] == "false"
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{added['id']}/general")
    expect(page.locator("#view dl.general")).to_contain_text("added from the UI")
    expect(page.get_by_role("tree", name="System tree").get_by_role("treeitem", name=name)).to_have_attribute(
        "href", f"#/providers/{added['id']}"
    )
    expect(page.locator(f"#view tbody tr[data-id='{added['id']}'] .connection")).to_have_text("Connected")
    shot(page, "provider-general")

    page.get_by_role("button", name="Edit…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Type", exact=True)).to_be_disabled()
    dialog.get_by_label("Description", exact=True).fill("edited from the UI")
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#view dl.general")).to_contain_text("edited from the UI")

    page.get_by_role("button", name="Remove").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    expect(page.locator(".message.success", has_text=f"Provider '{name}' was removed.")).to_be_visible()
    expect(page.locator(f"#view tbody tr[data-id='{added['id']}']")).to_have_count(0)


def test_removing_a_provider_in_use_shows_the_refusal(page: Any, neutrino: Neutrino) -> None:
    provider = neutrino.provider
    page.goto(f"{neutrino.base}/#/providers/{provider['id']}/general")
    page.get_by_role("button", name="Remove").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    message = page.locator(".message.error")
    expect(message).to_contain_text("Cannot remove provider.")
    # whichever use the engine names first: the Default cluster's default provider, or VMs on its networks
    expect(message).to_contain_text(re.compile("used as default network provider|used by virtual machines"))
    shot(page, "provider-remove-refused")
    assert neutrino.provider["id"] == provider["id"]


def test_the_test_endpoint_needs_the_api_token_and_answers_errors_as_json(neutrino: Neutrino) -> None:
    url = f"{neutrino.base}/ui/providers/test"
    body = {
        "name": "x",
        "type": "neutron",
        "url": neutrino.provider_url,
        "plugin_type": "open_vswitch",
        "requires_authentication": "true",
        "username": "admin",
        "password": PASSWORD,
        "authentication_url": f"{neutrino.provider_url}/v3",
        "tenant_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert neutrino.api.post(url, json=body).json() == {"ok": True}
    assert neutrino.api.post(url, json={**body, "url": "ftp://nowhere"}).json() == {
        "error": "Cannot test provider. The provider URL 'ftp://nowhere' is not an http(s) URL."
    }
    refused = neutrino.api.post(url, json={**body, "password": "wrong"}).json()
    assert refused["error"].startswith(
        "Failed to communicate with the external provider: authentication failed"
    )
    assert neutrino.api.post(url, json={**body, "type": "cloud"}).json() == {
        "error": "Unknown provider type 'cloud'."
    }
    assert (
        neutrino.api.post(url, content=b"[", headers={"Content-Type": "application/json"}).status_code == 400
    )


def test_the_connection_indicator_says_why_a_provider_does_not_answer_and_follows_it(
    page: Any, neutrino: Neutrino
) -> None:
    """A provider nobody answers for is marked Unreachable with the engine's reason; its Networks sub-tab says
    so in place of the list (the rest of the page stays); once it answers, Check connections turns it Connected."""
    real = neutrino.provider
    body = {
        "name": unique("flaky"),
        "type": "neutron",
        "url": f"http://127.0.0.1:{free_port()}",
        "plugin_type": "open_vswitch",
        "requires_authentication": "true",
        "username": "admin",
        "password": PASSWORD,
        "authentication_url": f"{neutrino.provider_url}/v3",
        "tenant_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    flaky = neutrino.post("/openstacknetworkproviders", body)
    try:
        page.goto(f"{neutrino.base}/#/providers")
        row = page.locator(f"#view tbody tr[data-id='{flaky['id']}']")
        expect(row.locator(".connection .dot")).to_have_text("Unreachable")
        expect(row.locator(".connection")).to_contain_text(
            "Failed to communicate with the external provider: cannot connect"
        )
        expect(page.locator(f"#view tbody tr[data-id='{real['id']}'] .connection")).to_have_text("Connected")
        shot(page, "providers-unreachable")

        page.goto(f"{neutrino.base}/#/providers/{flaky['id']}/networks")
        expect(page.locator("#view .subpanel [role=alert]")).to_contain_text(
            "Failed to communicate with the external provider"
        )
        expect(page.get_by_role("table", name="Providers")).to_be_visible()
        expect(page.locator(".subtabs a[aria-current=page]")).to_have_text("Networks")

        # it answers now (pointed at the running provider): the list follows without reloading the page
        r = neutrino.api.put(f"/openstacknetworkproviders/{flaky['id']}", json={"url": neutrino.provider_url})
        assert r.status_code == 200, r.text
        page.get_by_role("button", name="Check connections").click()
        expect(row.locator(".connection")).to_have_text("Connected")
    finally:
        assert neutrino.api.delete(f"/openstacknetworkproviders/{flaky['id']}").status_code == 200
