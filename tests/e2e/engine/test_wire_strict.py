"""The oVirt wire contract's strict corners, checked with raw HTTP (httpx), not through the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.e2e.engine.conftest import RunningEngine
from tests.e2e.engine.helpers import unique
from tests.support.servers import RunningAgent

XML_HEADERS = {"Content-Type": "application/xml", "Accept": "application/xml"}


@pytest.fixture(scope="module")
def http(shared_engine: RunningEngine, shared_connection: Any) -> Iterator[httpx.Client]:
    token = shared_connection.authenticate()
    with httpx.Client(
        base_url=shared_engine.url, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
    ) as client:
        yield client


def xml(response: httpx.Response) -> etree._Element:
    assert response.headers["content-type"].startswith("application/xml"), response.headers
    return etree.fromstring(response.content)


def assert_fault(response: httpx.Response, status: int, *needles: str) -> str:
    assert response.status_code == status, response.text
    root = xml(response)
    assert root.tag == "fault"
    assert root.findtext("reason")
    detail = root.findtext("detail") or ""
    assert detail.startswith("[") and detail.endswith("]"), detail
    for needle in needles:
        assert needle in detail, detail
    return detail


def add_dc(http: httpx.Client) -> etree._Element:
    r = http.post(
        "/datacenters",
        content=f"<data_center><name>{unique('dc')}</name><local>false</local></data_center>",
        headers=XML_HEADERS,
    )
    assert r.status_code == 201, r.text
    return xml(r)


def test_bare_api_root_answers_200_directly(http: httpx.Client) -> None:
    for path in ("", "/"):
        r = http.get(path)
        assert r.status_code == 200
        root = xml(r)
        assert root.tag == "api"
        assert root.find("product_info/name") is not None
        assert root.find("summary/vms/total") is not None


def test_status_codes_and_bodies(http: httpx.Client) -> None:
    created = http.post(
        "/datacenters", content=f"<data_center><name>{unique('dc')}</name></data_center>", headers=XML_HEADERS
    )
    assert created.status_code == 201
    dc = xml(created)
    assert (
        dc.tag == "data_center"
        and dc.get("id")
        and dc.get("href") == f"/ovirt-engine/api/datacenters/{dc.get('id')}"
    )

    got = http.get(f"/datacenters/{dc.get('id')}")
    assert got.status_code == 200 and xml(got).findtext("name") == dc.findtext("name")
    listed = http.get("/datacenters")
    assert listed.status_code == 200 and xml(listed).tag == "data_centers"

    put = http.put(
        f"/datacenters/{dc.get('id')}",
        content="<data_center><description>x</description></data_center>",
        headers=XML_HEADERS,
    )
    assert put.status_code == 200 and xml(put).findtext("description") == "x"

    deleted = http.delete(f"/datacenters/{dc.get('id')}")
    assert deleted.status_code == 200
    assert deleted.headers["content-type"].startswith("application/xml")
    assert_fault(http.get(f"/datacenters/{dc.get('id')}"), 404)


def test_actions_answer_an_action_body(http: httpx.Client, host_agent: RunningAgent) -> None:
    host = http.post(
        "/hosts",
        content=f"<host><name>{unique('h')}</name><address>127.0.0.1</address>"
        f"<port>{host_agent.port}</port><root_password>{host_agent.token}"
        "</root_password><cluster><name>Default</name></cluster></host>",
        headers=XML_HEADERS,
    )
    assert host.status_code == 201 and xml(host).findtext("status") == "up", host.text
    vm = http.post(
        "/vms",
        content=f"<vm><name>{unique('vm')}</name><cluster><name>Default</name></cluster>"
        "<template><name>Blank</name></template></vm>",
        headers=XML_HEADERS,
    )
    assert vm.status_code == 201, vm.text
    vm_id = xml(vm).get("id")
    for action in ("start", "stop", "shutdown"):
        r = http.post(f"/vms/{vm_id}/{action}", content="<action/>", headers=XML_HEADERS)
        assert r.status_code == 200, r.text
        root = xml(r)
        assert root.tag == "action"
        assert root.findtext("status") == "complete"
    assert xml(http.get(f"/vms/{vm_id}")).findtext("status") == "down"
    assert http.delete(f"/vms/{vm_id}").status_code == 200


def test_enums_are_exact_lowercase(http: httpx.Client) -> None:
    dc = add_dc(http)
    assert dc.findtext("status") == "uninitialized"
    nets = xml(http.get(f"/datacenters/{dc.get('id')}/networks"))
    usages = [u.text for u in nets.iterfind("network/usages/usage")]
    assert sorted(usages) == ["management", "vm"]
    cluster = xml(http.get("/clusters", params={"search": "name=Default"})).find("cluster")
    assert cluster is not None and cluster.findtext("cpu/architecture") == "x86_64"


def test_json_when_asked(http: httpx.Client) -> None:
    r = http.get("/datacenters", headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert any(dc["name"] == "Default" for dc in body["data_center"])
    assert all(dc["href"].startswith("/ovirt-engine/api/datacenters/") for dc in body["data_center"])

    name = unique("dc")
    created = http.post(
        "/datacenters",
        content=json.dumps({"name": name, "local": False}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert created.status_code == 201
    assert created.json()["name"] == name and created.json()["local"] == "false"

    missing = http.get("/datacenters/nope", headers={"Accept": "application/json"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")
    assert missing.json()["detail"].startswith("[")

    bad = http.post(
        "/datacenters",
        content="{not json",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]


def test_malformed_xml_is_400_naming_the_problem(http: httpx.Client) -> None:
    before = len(xml(http.get("/datacenters")))
    r = http.post("/datacenters", content="<data_center><name>x</name>", headers=XML_HEADERS)
    assert_fault(r, 400, "Malformed XML")
    assert len(xml(http.get("/datacenters"))) == before


@pytest.mark.parametrize(
    ("path_kind", "body", "element"),
    [
        ("dc", "<data_center><local>maybe</local></data_center>", "local"),
        ("dc", "<data_center><version><major>four</major></version></data_center>", "version.major"),
        ("network", '<network><vlan id="x"/></network>', "vlan.id"),
        ("network", "<network><mtu>big</mtu></network>", "mtu"),
        ("network", "<network><usages><usage>party</usage></usages></network>", "usages.usage"),
        ("nic", "<nic><interface>bogus</interface></nic>", "interface"),
        ("nic", "<nic><plugged>yes</plugged></nic>", "plugged"),
        ("nic", "<nic><mac><address>zz:zz</address></mac></nic>", "mac.address"),
    ],
)
def test_invalid_value_is_400_naming_the_element_and_writes_nothing(
    http: httpx.Client, path_kind: str, body: str, element: str
) -> None:
    dc = add_dc(http)
    if path_kind == "dc":
        path = f"/datacenters/{dc.get('id')}"
    elif path_kind == "network":
        net = xml(http.get(f"/datacenters/{dc.get('id')}/networks")).find("network")
        assert net is not None
        path = f"/networks/{net.get('id')}"
    else:
        vm = xml(
            http.post(
                "/vms",
                content=f"<vm><name>{unique('vm')}</name><cluster><name>Default</name></cluster></vm>",
                headers=XML_HEADERS,
            )
        )
        nic = http.post(
            f"/vms/{vm.get('id')}/nics", content="<nic><name>nic1</name></nic>", headers=XML_HEADERS
        )
        path = f"/vms/{vm.get('id')}/nics/{xml(nic).get('id')}"
    before = http.get(path).content
    # the same body with a valid change first: nothing of it may be written either
    valid_first = (
        body.replace(">", "><description>changed</description>", 1)
        if path_kind != "nic"
        else body.replace("<nic>", "<nic><name>renamed</name>", 1)
    )
    for attempt in (body, valid_first):
        assert_fault(http.put(path, content=attempt, headers=XML_HEADERS), 400, f"'{element}'")
    assert http.get(path).content == before


def test_invalid_value_on_add_writes_nothing(http: httpx.Client) -> None:
    name = unique("dc")
    assert_fault(
        http.post(
            "/datacenters",
            content=f"<data_center><name>{name}</name><local>maybe</local></data_center>",
            headers=XML_HEADERS,
        ),
        400,
        "'local'",
    )
    assert xml(http.get("/datacenters", params={"search": f"name={name}"})).find("data_center") is None


def test_unknown_elements_are_ignored(http: httpx.Client) -> None:
    name = unique("dc")
    r = http.post(
        "/datacenters",
        content=f"<data_center><name>{name}</name><flux_capacitor>on</flux_capacitor>"
        "<storage_format>v5</storage_format></data_center>",
        headers=XML_HEADERS,
    )
    assert r.status_code == 201
    assert xml(r).findtext("name") == name


def test_faults_have_reason_and_bracketed_detail(http: httpx.Client) -> None:
    assert_fault(http.get("/vms/00000000-0000-0000-0000-00000000abcd"), 404)
    assert_fault(http.get("/nothing-here"), 404)
    assert_fault(http.post("/datacenters", content="<data_center/>", headers=XML_HEADERS), 400, "name")
    assert_fault(
        http.post(
            "/datacenters", content="<data_center><name>Default</name></data_center>", headers=XML_HEADERS
        ),
        409,
        "Cannot add Data Center. The Data Center name is already in use.",
    )


def test_acting_on_what_is_not_there_is_404(http: httpx.Client) -> None:
    # the commands of these actions read the entity themselves (the API does not read it first): same fault
    missing = "00000000-0000-0000-0000-00000000abcd"
    for action in ("start", "stop", "shutdown"):
        assert_fault(http.post(f"/vms/{missing}/{action}", content="<action/>", headers=XML_HEADERS), 404,
                     f"VM '{missing}' was not found.")  # fmt: skip
    vm = xml(
        http.post(
            "/vms",
            content=f"<vm><name>{unique('vm')}</name><cluster><name>Default</name></cluster></vm>",
            headers=XML_HEADERS,
        )
    )
    for action in ("activate", "deactivate"):
        assert_fault(
            http.post(f"/vms/{missing}/nics/{missing}/{action}", content="<action/>", headers=XML_HEADERS),
            404,
            f"VM '{missing}' was not found.",
        )
        assert_fault(
            http.post(
                f"/vms/{vm.get('id')}/nics/{missing}/{action}", content="<action/>", headers=XML_HEADERS
            ),
            404,
            f"Interface '{missing}' was not found.",
        )


def test_empty_sub_collections(http: httpx.Client) -> None:
    vm = xml(
        http.post(
            "/vms",
            content=f"<vm><name>{unique('vm')}</name><cluster><name>Default</name></cluster></vm>",
            headers=XML_HEADERS,
        )
    )
    for rel, root in (
        ("permissions", "permissions"),
        ("diskattachments", "disk_attachments"),
        ("reporteddevices", "reported_devices"),
    ):
        r = http.get(f"/vms/{vm.get('id')}/{rel}")
        assert r.status_code == 200
        element = xml(r)
        assert element.tag == root and len(element) == 0
    links = {link.get("rel"): link.get("href") for link in vm.iterfind("link")}
    assert links["nics"] == f"/ovirt-engine/api/vms/{vm.get('id')}/nics"
    for top, root in (("storagedomains", "storage_domains"), ("disks", "disks")):
        element = xml(http.get(f"/{top}"))
        assert element.tag == root and len(element) == 0


def test_head_answers_like_get_without_a_body(http: httpx.Client) -> None:
    for path in ("", "/datacenters", "/vms/nope"):
        got, head = http.get(path), http.head(path)
        assert head.status_code == got.status_code
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.content == b""


def test_unsupported_method_is_a_fault(http: httpx.Client) -> None:
    r = http.request("PATCH", "/datacenters")
    assert r.status_code == 405
    xml(r)
    assert_fault(http.delete("/datacenters"), 405)


def test_text_xml_cannot_carry_is_refused_so_listings_stay_parseable(http: httpx.Client) -> None:
    r = http.post(
        "/datacenters",
        content=json.dumps({"name": "bad\u0001name"}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert r.status_code == 400 and "'name'" in r.json()["detail"]
    etree.fromstring(http.get("/datacenters").content)


def test_negative_memory_is_400_and_writes_nothing(http: httpx.Client) -> None:
    name = unique("vm")
    assert_fault(
        http.post(
            "/vms",
            content=f"<vm><name>{name}</name><cluster><name>Default</name></cluster><memory>-5</memory></vm>",
            headers=XML_HEADERS,
        ),
        400,
        "'memory'",
    )
    assert xml(http.get("/vms", params={"search": f"name={name}"})).find("vm") is None


def test_concurrent_adds_of_one_name_through_the_api(
    http: httpx.Client, shared_engine: RunningEngine
) -> None:
    """Eight clients add one name at once: one 201, seven clean 409 faults, one row."""
    from concurrent.futures import ThreadPoolExecutor

    name = unique("race")
    body = f"<data_center><name>{name}</name></data_center>"

    def add(_: int) -> httpx.Response:
        return http.post("/datacenters", content=body, headers=XML_HEADERS)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(add, range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    for r in responses:
        if r.status_code == 409:
            assert_fault(r, 409)
    assert len(xml(http.get("/datacenters", params={"search": f"name={name}"})).findall("data_center")) == 1


def test_dates_carry_their_offset(http: httpx.Client) -> None:
    vm = xml(
        http.post(
            "/vms",
            content=f"<vm><name>{unique('vm')}</name><cluster><name>Default</name></cluster></vm>",
            headers=XML_HEADERS,
        )
    )
    again = xml(http.get(f"/vms/{vm.get('id')}"))
    for element in (vm, again):
        stamp = element.findtext("creation_time") or ""
        assert stamp.endswith("+00:00"), stamp
