"""The shell: login, the system tree, keyboard use, narrow windows, and errors shown as messages."""

from __future__ import annotations

from typing import Any

from tests.e2e.ui.conftest import Neutrino, expect, shot, unique


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
    tree = page.get_by_role("tree", name="System tree")
    system = tree.get_by_role("treeitem", name="System", exact=True)
    expect(system).to_have_attribute("aria-level", "1")
    # Data Centers and Providers are the two children of System
    children = tree.get_by_role("group", name="System").locator("> li > [role=treeitem]")
    expect(children).to_have_text(["Data Centers", "Providers"])
    provider = neutrino.provider
    link = tree.get_by_role("treeitem", name=provider["name"])
    expect(link).to_have_attribute("href", f"#/providers/{provider['id']}")
    expect(link.locator("svg")).to_have_count(1)  # an icon for its type
    tree.get_by_role("treeitem", name="Default", exact=True).click()
    expect(page.get_by_role("heading", name="Data center Default")).to_be_visible()
    expect(page.get_by_role("table", name="Networks of Default")).to_contain_text("ovirtmgmt")
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
    expect(error).to_contain_text(
        "Cannot add Network. The name of the logical network 'ovirtmgmt' is already used"
    )
    assert "Traceback" not in error.inner_text()
    shot(page, "error-in-dialog")
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)

    # a refusal of an action outside a dialog is a message that stays until dismissed
    mgmt = neutrino.named(
        f"/datacenters/{neutrino.default_cluster['data_center']['id']}/networks", "network", "ovirtmgmt"
    )
    page.goto(f"{neutrino.base}/#/networks/{mgmt['id']}")
    page.get_by_role("button", name="Remove").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    message = page.locator(
        ".message.error", has_text="Cannot remove Network. The management network cannot be removed."
    )
    expect(message).to_be_visible()
    expect(page.locator("#view h3")).to_have_text("Network ovirtmgmt")  # the page stays as it was
    message.get_by_role("button", name="Dismiss").click()
    expect(message).to_have_count(0)

    # a session ended elsewhere brings the login back, saying why
    token = page.evaluate("JSON.parse(sessionStorage.getItem('neutrino.session')).token")
    neutrino.api.post(f"{neutrino.base}/ovirt-engine/services/sso-logout", data={"token": token})
    page.locator("#tabs a", has_text="Providers").click()
    expect(page.locator("#login-error")).to_contain_text("session has ended")


def test_every_main_tab_renders_from_the_engine_alone(page: Any, neutrino: Neutrino) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.reload()  # the session survives a reload; every asset of the page is asked for again
    expect(page.locator("#shell")).to_be_visible()
    tabs = [
        "Data Centers",
        "Clusters",
        "Hosts",
        "Networks",
        "vNIC Profiles",
        "Virtual Machines",
        "Providers",
        "Topology",  # d3 too is served by the engine: the picture needs no internet
        "Events",
    ]
    for label in tabs:
        page.locator("#tabs a", has_text=label).click()
        expect(page.locator("#tabs a[aria-current=page]")).to_have_text(label)
        expect(page.locator("#view h2")).to_have_text(label)
        expect(page.locator("#view [role=alert]")).to_have_count(0)
        shot(page, "tab-" + label.lower().replace(" ", "-"))
    # no request leaves the engine: every script, style and icon is served by it (or inline)
    assert any(u.endswith("/ui/static/app.css") for u in requested)
    assert any(u.endswith("/ui/static/vendor/d3/d3.js") for u in requested)
    assert [u for u in requested if not u.startswith((f"{neutrino.base}/", "data:"))] == []


def test_the_keyboard_focus_follows_what_was_chosen(page: Any, neutrino: Neutrino) -> None:
    """Choosing a tab, a tree link or a row with Enter redraws the page; the focus stays on what was chosen (or,
    when it is gone, on the content), never falling back to the top of the page."""
    dc = neutrino.data_center(unique("dc-focus"))
    page.goto(f"{neutrino.base}/#/providers")
    page.locator("#tabs a", has_text="Networks").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#view h2")).to_have_text("Networks")
    expect(page.locator("#tabs a[aria-current=page]")).to_be_focused()

    tree = page.get_by_role("tree", name="System tree")
    tree.get_by_role("treeitem", name=dc["name"], exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#view h3")).to_have_text(f"Data center {dc['name']}")
    expect(tree.get_by_role("treeitem", name=dc["name"], exact=True)).to_be_focused()
    expect(tree.get_by_role("treeitem", name=dc["name"], exact=True)).to_have_attribute(
        "aria-current", "page"
    )

    # a new network, from the keyboard alone: the dialog opens on its first field, Enter saves
    page.locator("#tabs a", has_text="Networks").click()
    page.get_by_role("button", name="New…").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.get_by_role("button", name="New…")).to_be_focused()
    page.keyboard.press("Enter")
    name = unique("kbnet")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Description")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Data Center", exact=True)).to_be_focused()
    dialog.get_by_label("Data Center", exact=True).select_option(label=dc["name"])
    dialog.get_by_label("Name", exact=True).press("Enter")
    expect(page.locator("dialog[open]")).to_have_count(0)
    net = neutrino.named(f"/datacenters/{dc['id']}/networks", "network", name)
    expect(page).to_have_url(f"{neutrino.base}/#/networks/{net['id']}")
    expect(page.get_by_role("button", name="New…")).to_be_focused()

    # a row chosen with Enter keeps the focus, now selected
    page.goto(f"{neutrino.base}/#/networks")
    row = page.locator(f"#view tbody tr[data-id='{net['id']}']")
    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#view h3")).to_have_text(f"Network {name}")
    expect(row).to_be_focused()
    expect(row).to_have_attribute("aria-selected", "true")
    # and removing it from the keyboard: the confirmation answers Enter; the content keeps the focus after
    page.get_by_role("button", name="Remove").focus()
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_contain_text(f"Remove network '{name}'?")
    page.keyboard.press("Enter")
    expect(page.locator(".message.success", has_text=f"Network '{name}' was removed.")).to_be_visible()
    expect(row).to_have_count(0)
    expect(page.locator("#view")).to_be_focused()


def test_dialogs_and_lists_fit_a_narrow_window(page: Any, neutrino: Neutrino) -> None:
    page.set_viewport_size({"width": 480, "height": 800})
    page.goto(f"{neutrino.base}/#/providers/{neutrino.provider['id']}/general")
    expect(page.locator("#view dl.general")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # each row is a card, its cells labelled with their column
    cell = page.locator(f"#view tbody tr[data-id='{neutrino.provider['id']}'] td[data-label=Connection]")
    expect(cell).to_have_text("Connected")
    cell.scroll_into_view_if_needed()
    shot(page, "narrow-providers")

    page.get_by_role("button", name="Add…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Requires authentication").check()
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 480, box
    # one field a line: each label above its field
    name_label, name_input = (
        dialog.locator("label", has_text="Name").first,
        dialog.get_by_label("Name", exact=True),
    )
    assert (
        name_label.bounding_box()["y"] + name_label.bounding_box()["height"]
        <= name_input.bounding_box()["y"] + 1
    )
    assert dialog.evaluate(
        "(d) => d.querySelector('.body').scrollWidth <= d.querySelector('.body').clientWidth + 1"
    )
    shot(page, "narrow-provider-dialog")
    page.keyboard.press("Escape")

    page.goto(f"{neutrino.base}/#/clusters/{neutrino.default_cluster['id']}/networks")
    page.get_by_role("button", name="Manage networks…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Assign ovirtmgmt")).to_be_checked()
    assert dialog.evaluate(
        "(d) => d.querySelector('.body').scrollWidth <= d.querySelector('.body').clientWidth + 1"
    )
    shot(page, "narrow-manage-networks")
    dialog.get_by_role("button", name="Cancel").click()
