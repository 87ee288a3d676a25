"""The wire formats: XML and JSON renderings of one tree, and parsing them back."""

from __future__ import annotations

import json

import pytest

from neutrino.engine.api import wire
from neutrino.engine.domain.errors import BadRequest

VM: wire.Tree = {
    "href": "/ovirt-engine/api/vms/1",
    "id": "1",
    "name": "vm <1> & co",
    "memory": 1024,
    "stateless": False,
    "cluster": {"href": "/ovirt-engine/api/clusters/2", "id": "2"},
    "vlan": {"id": "10"},
    "usages": {"usage": ["vm", "display"]},
    "link": [
        {"href": "/ovirt-engine/api/vms/1/nics", "rel": "nics"},
        {"href": "/ovirt-engine/api/vms/1/snapshots", "rel": "snapshots"},
    ],
    "absent": None,
}


def test_xml_shape_is_the_real_engines() -> None:
    text = wire.to_xml("vm", VM).decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert '<vm href="/ovirt-engine/api/vms/1" id="1">' in text
    assert "<name>vm &lt;1&gt; &amp; co</name>" in text
    assert "<stateless>false</stateless>" in text
    assert '<cluster href="/ovirt-engine/api/clusters/2" id="2"/>' in text
    assert '<vlan id="10"/>' in text
    assert '<link href="/ovirt-engine/api/vms/1/nics" rel="nics"/>' in text
    assert "absent" not in text


def test_xml_round_trip() -> None:
    root, tree = wire.from_xml(wire.to_xml("vm", VM))
    assert root == "vm"
    assert tree == {
        "href": "/ovirt-engine/api/vms/1",
        "id": "1",
        "name": "vm <1> & co",
        "memory": "1024",
        "stateless": "false",
        "cluster": {"href": "/ovirt-engine/api/clusters/2", "id": "2"},
        "vlan": {"id": "10"},
        "usages": {"usage": ["vm", "display"]},
        "link": VM["link"],
    }


def test_json_round_trip_renders_scalars_as_text() -> None:
    body = wire.to_json(VM)
    parsed = wire.from_json(body)
    assert parsed["memory"] == "1024" and parsed["stateless"] == "false"
    assert parsed["cluster"] == {"href": "/ovirt-engine/api/clusters/2", "id": "2"}
    assert parsed["link"][1]["rel"] == "snapshots"
    assert "absent" not in parsed
    assert json.loads(body) == parsed


@pytest.mark.parametrize(
    "tree",
    [
        VM,
        {},
        {"a": None},
        {"a": [], "b": {}, "c": [{}], "d": [None, 1]},
        {'quote"d': 'say "hi"\\ é ✓ \t\n\u2028', "n": 1.5, "big": 10**20, "no": False, "yes": True},
        {
            "vm": [
                {"id": str(i), "nics": {"nic": [{"plugged": True, "mac": {"address": "x"}}]}}
                for i in range(3)
            ]
        },
    ],
)
def test_json_is_what_jsonable_then_json_dumps_give(tree: dict[str, object]) -> None:
    """One pass (the fast path for thousands of VMs) and the plain two-step form agree, escapes included."""
    expected = json.dumps(wire.jsonable(tree), separators=(",", ":"), ensure_ascii=False).encode()
    assert wire.to_json(tree) == expected


def test_repeated_elements_become_lists_and_as_list_normalises() -> None:
    _, tree = wire.from_xml(b"<usages><usage>vm</usage></usages>")
    assert tree == {"usage": "vm"}
    assert wire.as_list(tree["usage"]) == ["vm"]
    _, tree = wire.from_xml(b"<usages><usage>vm</usage><usage>display</usage></usages>")
    assert wire.as_list(tree["usage"]) == ["vm", "display"]
    assert wire.as_list(None) == []


def test_empty_elements() -> None:
    assert wire.from_xml(b"<network><usages/><description></description></network>")[1] == {
        "usages": "",
        "description": "",
    }
    assert wire.to_xml("permissions", {}).decode().strip().endswith("<permissions/>")


def test_unknown_attributes_do_not_hide_the_text() -> None:
    _, tree = wire.from_xml(b'<vm><name lang="en">vm1</name><memory unit="B">1024</memory></vm>')
    assert tree == {"name": "vm1", "memory": "1024"}


@pytest.mark.parametrize("body", [b"<vm><name>x</name>", b"not xml at all", b"<vm></wrong>"])
def test_malformed_xml_is_a_bad_request_naming_the_problem(body: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        wire.from_xml(body)
    assert err.value.message.startswith("Malformed XML in the request body: ")
    assert len(err.value.message) > len("Malformed XML in the request body: ")


def test_xml_entities_are_not_resolved(tmp_path: object) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE vm [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
        b"<vm><name>&secret;</name></vm>"
    )
    try:
        _, tree = wire.from_xml(body)
    except BadRequest:
        return
    with open("/etc/hostname") as f:
        assert f.read().strip() not in str(tree)


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_json_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="(?i)malformed JSON|not valid UTF-8|expected an object"):
        wire.from_json(body)
