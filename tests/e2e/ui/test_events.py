"""Events tab as the audit log: severity, time, user and entity links; new events arrive live; older ones page by
page; filters become an oVirt search (`severity>=warning`, `event_datacenter=…`, `message=*…*`).

Where the engine's /events does not understand a term yet (its oVirt search grammar is other work), the page must
show the engine's refusal word for word; where it does, the rows must match. Each filter is checked against what
the engine answers to the same search, so the test holds before and after that work lands."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from tests.e2e.ui.conftest import Neutrino, expect, shot, unique


def search_filter(page: Any, neutrino: Neutrino, query: str, check_rows: Any) -> None:
    """Search with the filters already set; the page sends ``query``: either the rows pass ``check_rows``, or
    (an engine that refuses the search) the page says so in the engine's words."""
    page.get_by_role("search", name="Filter events").get_by_role("button", name="Search").click()
    expect(page.get_by_role("search", name="Filter events")).to_contain_text(
        f"Search sent to the engine: {query}"
    )
    answer = neutrino.api.get(f"/events?max=10&search={quote(query)}")
    if answer.status_code == 400:
        detail = answer.json()["detail"].strip("[]")
        expect(page.get_by_role("alert")).to_have_text(f"The engine refused this search: {detail}")
    else:
        assert answer.status_code == 200, answer.text
        table = page.get_by_role("table", name="Events, page 1")
        expect(table).to_be_visible()
        check_rows(table, answer.json().get("event", []))


def test_the_audit_log_live_paged_and_filtered(page: Any, neutrino: Neutrino) -> None:
    prefix = unique("evnet")
    page.get_by_role("navigation", name="Main tabs").get_by_role("link", name="Events").click()
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Search").click()
    table = page.get_by_role("table", name="Events, page 1")
    expect(table).to_be_visible()

    # new provider networks: the provider's auto-sync imports them into Default, each an event that arrives live
    names = [f"{prefix}-{i:02}" for i in range(12)]
    for name in names:
        assert neutrino.neutron.post("/networks", json={"network": {"name": name}}).status_code == 201
    last = table.get_by_role("row").filter(has_text=names[-1])
    expect(last).to_be_visible(timeout=20000)
    expect(last.get_by_text("new", exact=True)).to_be_visible()
    expect(last).to_contain_text("normal")
    expect(last.get_by_role("link", name="data center Default")).to_be_visible()
    expect(last.get_by_role("link", name=f"provider {neutrino.provider['name']}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="new event")).to_be_visible()
    shot(page, "events-live")

    # one of them removed on the provider: a warning, live too
    gone_id = next(n for n in neutrino.neutron.get("/networks").json()["networks"] if n["name"] == names[0])[
        "id"
    ]
    assert neutrino.neutron.delete(f"/networks/{gone_id}").status_code == 204
    # (gone from the provider: "no longer exists", and the auto-sync removes it from Default)
    warnings = table.get_by_role("row").filter(has_text=names[0]).filter(has_text="warning")
    expect(warnings.first).to_be_visible(timeout=20000)

    # older events, a page at a time: page 2 holds other, older events
    first_page = table.get_by_role("row").all_inner_texts()
    page.get_by_role("button", name="Older").click()
    older = page.get_by_role("table", name="Events, page 2")
    expect(older).to_be_visible()
    second_page = older.get_by_role("row").all_inner_texts()
    assert set(first_page[1:]).isdisjoint(second_page[1:]), (first_page, second_page)
    shot(page, "events-page-2")
    page.get_by_role("button", name="Newer").click()
    expect(page.get_by_role("table", name="Events, page 1")).to_be_visible()

    # an entity link leads to its page
    page.get_by_role("table", name="Events, page 1").get_by_role(
        "row", name=re.compile(names[-1])
    ).get_by_role("link", name="data center Default").click()
    expect(page.get_by_role("heading", name="Data center Default")).to_be_visible()
    page.go_back()
    filters = page.get_by_role("search", name="Filter events")
    expect(filters).to_be_visible()

    # filters: severity, entity, message text (an oVirt search)
    filters.get_by_label("Minimum severity").select_option("warning")

    def only_warnings(rows: Any, events: list[dict[str, Any]]) -> None:
        assert events and all(e["severity"] != "normal" for e in events)
        expect(rows.get_by_role("row").filter(has_text=names[0]).first).to_be_visible()
        expect(rows.get_by_text("normal", exact=True)).to_have_count(0)

    search_filter(page, neutrino, "severity>=warning", only_warnings)
    shot(page, "events-warnings")

    filters.get_by_role("button", name="Clear filters").click()
    filters.get_by_label("About").select_option(label="Data center")
    filters.get_by_label("Entity name").fill("Default")
    filters.get_by_label("Message contains").fill(names[5])

    def one_import(rows: Any, events: list[dict[str, Any]]) -> None:
        assert len(events) == 1 and names[5] in events[0]["description"], events
        expect(rows.get_by_role("row")).to_have_count(2)  # the header and the one event
        expect(rows).to_contain_text(names[5])

    search_filter(page, neutrino, f"event_datacenter=Default and message=*{names[5]}*", one_import)
    shot(page, "events-filtered")
