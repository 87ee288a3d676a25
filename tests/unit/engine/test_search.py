"""The oVirt search language subset: parsing, and selecting entities with it (name patterns, and, paging)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from neutrino.engine.api.resource import Call, parse_search
from neutrino.engine.api.resources.datacenters import DataCenters
from neutrino.engine.domain.errors import BadRequest


@pytest.mark.parametrize(
    ("text", "terms", "page"),
    [
        ("name=vm1", [("name", "vm1")], None),
        ("name=vm*", [("name", "vm*")], None),
        ("  name = vm1  ", [("name", "vm1")], None),
        ("name=a* and cluster=c1", [("name", "a*"), ("cluster", "c1")], None),
        ("name=a* AND cluster=c1", [("name", "a*"), ("cluster", "c1")], None),
        ("Clusters.name=Default", [("clusters.name", "Default")], None),
        ('name="my vm"', [("name", "my vm")], None),
        ("name='x'", [("name", "x")], None),
        ("name=a* page 2", [("name", "a*")], 2),
        ("name=a* and page 3", [("name", "a*")], 3),
        ("page 4", [], 4),
        ("", [], None),
    ],
)
def test_parse_search(text: str, terms: list[tuple[str, str]], page: int | None) -> None:
    assert parse_search(text) == (terms, page)


@pytest.mark.parametrize("text", ["name", "name!=x", "just words", "name=a or name=b"])
def test_parse_search_rejects_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(BadRequest, match="'search'"):
        parse_search(text)


@dataclass
class Named:
    name: str
    status: Any = None


def select(query: dict[str, str], *names: str) -> list[str]:
    call = Call(ctx=None, query=query)  # type: ignore[arg-type]  # name searches need no context
    return [e.name for e in DataCenters().select(call, [Named(n) for n in names])]


def test_select_by_name_pattern() -> None:
    names = ("alpha", "beta", "alphabet", "Alpine")
    assert select({"search": "name=alpha"}, *names) == ["alpha"]
    assert select({"search": "name=alp*"}, *names) == ["alpha", "alphabet"]
    assert select({"search": "name=*a"}, *names) == ["alpha", "beta"]
    assert select({"search": "name=*"}, *names) == list(names)


def test_select_case_sensitivity() -> None:
    assert select({"search": "name=ALP*"}, "alpha", "Alpine") == []
    assert select({"search": "name=ALP*", "case_sensitive": "false"}, "alpha", "Alpine") == [
        "alpha",
        "Alpine",
    ]


def test_select_pages_with_max() -> None:
    names = [f"dc{i}" for i in range(5)]
    assert select({"max": "2"}, *names) == ["dc0", "dc1"]
    assert select({"search": "name=dc* page 1", "max": "2"}, *names) == ["dc0", "dc1"]
    assert select({"search": "name=dc* page 2", "max": "2"}, *names) == ["dc2", "dc3"]
    assert select({"search": "name=dc* page 3", "max": "2"}, *names) == ["dc4"]
    assert select({"search": "name=dc* page 4", "max": "2"}, *names) == []
    assert select({"max": "-1"}, *names) == names


def test_select_rejects_a_bad_max_and_unknown_fields() -> None:
    with pytest.raises(BadRequest, match="'max'"):
        select({"max": "lots"}, "a")
    with pytest.raises(BadRequest, match="unknown field 'colour'"):
        select({"search": "colour=red"}, "a")


def test_only_star_is_a_wildcard() -> None:
    names = ("vm[1]", "vm1", "vm?", "vmx", "a.b", "axb")
    assert select({"search": "name=vm[1]"}, *names) == ["vm[1]"]
    assert select({"search": "name=vm?"}, *names) == ["vm?"]
    assert select({"search": "name=a.b"}, *names) == ["a.b"]
    assert select({"search": "name=vm*"}, *names) == ["vm[1]", "vm1", "vm?", "vmx"]


@pytest.mark.parametrize(
    ("text", "terms", "page"),
    [
        ('name="a and b"', [("name", "a and b")], None),
        ("name='a AND b'", [("name", "a AND b")], None),
        ('name = "a and b"', [("name", "a and b")], None),
        ('name="a and b" and cluster=c1', [("name", "a and b"), ("cluster", "c1")], None),
        ('cluster=c1 and name="x and y and z"', [("cluster", "c1"), ("name", "x and y and z")], None),
        ('name="a and b" and cluster="c and d"', [("name", "a and b"), ("cluster", "c and d")], None),
        ('name="a and b*" page 2', [("name", "a and b*")], 2),
        ('name="my page 2"', [("name", "my page 2")], None),
        ("name=band and cluster=android", [("name", "band"), ("cluster", "android")], None),
    ],
)
def test_parse_search_keeps_quoted_values_whole(
    text: str, terms: list[tuple[str, str]], page: int | None
) -> None:
    assert parse_search(text) == (terms, page)


def test_parse_search_still_splits_unquoted_values() -> None:
    # an unquoted value ends at the first `and`; the rest is the next clause
    assert parse_search("name=a and b=c") == ([("name", "a"), ("b", "c")], None)
    with pytest.raises(BadRequest, match="cannot understand 'b'"):
        parse_search("name=a and b")


def test_select_by_quoted_name_with_and() -> None:
    names = ("a and b", "a", "b", "a and bc", "x and b")
    assert select({"search": 'name="a and b"'}, *names) == ["a and b"]
    assert select({"search": "name='a and b*'"}, *names) == ["a and b", "a and bc"]
    assert select({"search": 'name="* and b"'}, *names) == ["a and b", "x and b"]
    assert select({"search": 'name="A AND B"', "case_sensitive": "false"}, *names) == ["a and b"]
