"""Neutron's collection conventions: filters, fields, sorting, pagination with links."""

from __future__ import annotations

from tests.integration.provider.conftest import Api, unique


def test_filters_fields_sorting_and_pages(api: Api) -> None:
    tag = unique("q")
    made = [api.network(name=f"{tag}-{i}", admin_state_up=(i % 2 == 0)) for i in range(5)]
    ids = {n["id"] for n in made}

    repeated = api.ok(api.c.get("/v2.0/networks", params=[("name", f"{tag}-1"), ("name", f"{tag}-3")]))
    assert sorted(n["name"] for n in repeated["networks"]) == [f"{tag}-1", f"{tag}-3"]
    down = api.ok(api.c.get("/v2.0/networks", params={"admin_state_up": "False", "fields": "id"}))["networks"]
    assert {n["id"] for n in down} & ids == {made[1]["id"], made[3]["id"]}
    assert all(set(n) == {"id"} for n in down)

    names = [f"{tag}-{i}" for i in range(5)]
    params = [("name", n) for n in names]
    desc = api.ok(api.c.get("/v2.0/networks", params=[*params, ("sort_key", "name"), ("sort_dir", "desc")]))
    assert [n["name"] for n in desc["networks"]] == names[::-1]

    seen = []
    page = api.ok(api.c.get("/v2.0/networks", params=[*params, ("sort_key", "name"), ("limit", "2")]))
    while True:
        seen += [n["name"] for n in page["networks"]]
        nxt = [link for link in page.get("networks_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        assert "marker=" in nxt[0]["href"]
        page = api.ok(api.c.get(nxt[0]["href"]))
    assert seen == names
    assert any(link["rel"] == "previous" for link in page["networks_links"])

    back = api.ok(api.c.get("/v2.0/networks", params=[*params, ("sort_key", "name"), ("limit", "2"), ("marker", made[4]["id"]), ("page_reverse", "True")]))  # fmt: skip
    assert [n["name"] for n in back["networks"]] == names[2:4]


def test_port_filters(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.30.0.0/24")
    ports = [api.port(net["id"], device_id=f"dev-{i}") for i in range(3)]
    address = ports[1]["fixed_ips"][0]["ip_address"]
    found = api.ok(api.c.get("/v2.0/ports", params={"fixed_ips": f"ip_address={address}"}))["ports"]
    assert [p["id"] for p in found] == [ports[1]["id"]]
    both = api.ok(api.c.get("/v2.0/ports", params=[("fixed_ips", f"subnet_id={sub['id']}"), ("device_id", "dev-2")]))  # fmt: skip
    assert [p["id"] for p in both["ports"]] == [ports[2]["id"]]
    mine = api.ok(api.c.get("/v2.0/ports", params={"network_id": net["id"], "sort_key": "device_id", "sort_dir": "desc"}))  # fmt: skip
    assert [p["device_id"] for p in mine["ports"]] == ["dev-2", "dev-1", "dev-0"]


def test_bad_queries(api: Api) -> None:
    assert "colour" in api.error(api.c.get("/v2.0/networks", params={"colour": "x"}), 400)
    api.error(api.c.get("/v2.0/networks", params={"sort_key": "subnets"}), 400)
    api.error(api.c.get("/v2.0/networks", params=[("sort_key", "name"), ("sort_dir", "up")]), 400)
    api.error(api.c.get("/v2.0/networks", params={"limit": "-1"}), 400)
    api.error(api.c.get("/v2.0/networks", params={"admin_state_up": "perhaps"}), 400)


def test_discovery_documents(api: Api) -> None:
    versions = api.ok(api.c.get("/"))["versions"]
    assert versions[0]["id"] == "v2.0" and versions[0]["status"] == "CURRENT"
    resources = {r["collection"] for r in api.ok(api.c.get("/v2.0"))["resources"]}
    assert {"networks", "subnets", "ports", "security_groups", "security_group_rules"} <= resources
    aliases = {e["alias"] for e in api.ok(api.c.get("/v2.0/extensions"))["extensions"]}
    assert {
        "provider",
        "binding",
        "security-group",
        "port-security",
        "net-mtu",
        "pagination",
        "sorting",
    } <= aliases
    assert api.ok(api.c.get("/v2.0/extensions/binding"))["extension"]["name"] == "Port Binding"
    api.error(api.c.get("/v2.0/extensions/dvr"), 404)


def test_page_links_follow_neutrons_rules(api: Api) -> None:
    """tempest's href walk: a full page always links ``next`` (the last full page too, its next page is
    empty and the walk's end), a forward page always links ``previous``, and the empty page's
    ``previous`` (no marker) walks back from the collection's end."""
    tag = unique("walk")
    names = [f"{tag}-{i}" for i in range(3)]
    for name in names:
        api.network(name=name)

    def links(page: dict) -> dict[str, str]:
        return {link["rel"]: link["href"] for link in page.get("networks_links", [])}

    page = api.ok(api.c.get("/v2.0/networks", params={"name": names, "sort_key": "name", "limit": "1"}))
    forward = []
    while page["networks"]:
        forward += [n["name"] for n in page["networks"]]
        assert set(links(page)) == {"next", "previous"}
        page = api.ok(api.c.get(links(page)["next"]))
    assert forward == names
    assert set(links(page)) == {"previous"} and "marker" not in links(page)["previous"]
    back = []
    for _ in names:
        page = api.ok(api.c.get(links(page)["previous"]))
        back += [n["name"] for n in page["networks"]]
        assert "next" in links(page)
    assert back == names[::-1]
    short = api.ok(api.c.get("/v2.0/networks", params={"name": names, "limit": "5"}))
    assert set(links(short)) == {"previous"}
