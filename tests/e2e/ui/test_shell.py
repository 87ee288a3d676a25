"""The shell: login, the system tree, keyboard use, narrow windows, and errors shown as messages."""

from __future__ import annotations

from typing import Any

from tests.e2e.ui.conftest import Neutrino, expect, shot


def test_a_wrong_password_is_refused_with_the_engines_message(browser: Any, neutrino: Neutrino) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.goto(f"{neutrino.base}/")
    pg.fill("#login-form input[name=password]", "wrong")
    pg.click("#login-form button[type=submit]")
    expect(pg.locator("#login-error")).to_contain_text("incorrect")
    expect(pg.locator("#shell")).to_be_hidden()
    shot(pg, "login-refused")
    context.close()


def test_the_system_tree_holds_data_centers_and_providers_side_by_side(page: Any, neutrino: Neutrino) -> None:
    tree = page.locator("#tree")
    system = tree.locator("details").first
    expect(system.locator("> summary")).to_contain_text("System")
    # Data Centers and Providers are the two children of System
    children = system.locator("> ul > li > details > summary")
    expect(children).to_have_text(["Data Centers", "Providers"])
    provider = neutrino.provider
    link = tree.locator(f"a[href='#/providers/{provider['id']}']")
    expect(link).to_have_text(provider["name"])
    expect(link.locator("svg")).to_have_count(1)  # an icon for its type
    default_dc = tree.get_by_role("link", name="Default", exact=True).first
    default_dc.click()
    expect(page.locator("#view h3")).to_have_text("Data center Default")
    expect(page.locator("#view table").nth(1)).to_contain_text("ovirtmgmt")
    shot(page, "tree-datacenter")


def test_rows_and_tabs_work_from_the_keyboard(page: Any, neutrino: Neutrino) -> None:
    provider = neutrino.provider
    page.goto(f"{neutrino.base}/#/providers")
    row = page.locator(f"#view tbody tr[data-id='{provider['id']}']")
    row.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{provider['id']}/general")
    expect(page.locator("#view dl.general")).to_contain_text(provider["url"])
    # the Networks sub-tab is a link: reachable and followed with the keyboard
    page.locator(".subtabs a", has_text="Networks").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{neutrino.base}/#/providers/{provider['id']}/networks")


def test_a_narrow_window_stacks_the_tree_and_keeps_the_page_in_width(page: Any, neutrino: Neutrino) -> None:
    page.set_viewport_size({"width": 560, "height": 900})
    page.goto(f"{neutrino.base}/#/networks")
    expect(page.locator("#view h2")).to_have_text("Networks")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    tree_box, view_box = page.locator("#tree").bounding_box(), page.locator("#view").bounding_box()
    assert tree_box["y"] + tree_box["height"] <= view_box["y"] + 1, "the tree sits above the content"
    shot(page, "narrow-networks")


def test_every_error_is_a_message_never_a_blank_page(page: Any, neutrino: Neutrino) -> None:
    page.goto(f"{neutrino.base}/#/networks/no-such-network")
    expect(page.locator("#view [role=alert]")).to_contain_text("was not found")
    page.goto(f"{neutrino.base}/#/nothing-here")
    expect(page.locator("#view [role=alert]")).to_contain_text("There is no page 'nothing-here'")

    # a fault the engine answers appears in the dialog as its text
    page.goto(f"{neutrino.base}/#/networks")
    page.get_by_role("button", name="New…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name").fill("ovirtmgmt")  # taken in Default
    dialog.get_by_role("button", name="OK").click()
    error = dialog.locator(".error")
    expect(error).to_contain_text("Cannot add Network. The name of the logical network 'ovirtmgmt' is already used")
    assert "Traceback" not in error.inner_text()
    shot(page, "error-in-dialog")
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)

    # a session ended elsewhere brings the login back, saying why
    token = page.evaluate("JSON.parse(sessionStorage.getItem('neutrino.session')).token")
    neutrino.api.post(f"{neutrino.base}/ovirt-engine/services/sso-logout", data={"token": token})
    page.locator("#tabs a", has_text="Providers").click()
    expect(page.locator("#login-error")).to_contain_text("session has ended")


def test_every_main_tab_renders(page: Any, neutrino: Neutrino) -> None:
    tabs = ["Data Centers", "Clusters", "Hosts", "Networks", "vNIC Profiles", "Virtual Machines", "Providers", "Events"]
    for label in tabs:
        page.locator("#tabs a", has_text=label).click()
        expect(page.locator("#tabs a[aria-current=page]")).to_have_text(label)
        expect(page.locator("#view h2")).to_have_text(label)
        expect(page.locator("#view [role=alert]")).to_have_count(0)
        shot(page, "tab-" + label.lower().replace(" ", "-"))
