"""The oVirt search language's grammar (domain.search): what a `?search=` reads as, and what it refuses."""

from __future__ import annotations

import pytest

from neutrino.engine.domain.errors import BadRequest
from neutrino.engine.domain.search import AllOf, AnyOf, Op, Query, SortBy, Term, parse


def t(field: str, value: str, op: Op = Op.EQ, obj: str | None = None) -> Term:
    return Term(field, op, value, obj)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name=vm1", t("name", "vm1")),
        ("  name = vm1  ", t("name", "vm1")),
        ("NAME=Vm*", t("name", "Vm*")),  # fields are case-blind, values are not
        ("name!=a", t("name", "a", Op.NE)),
        ("memory>=1024", t("memory", "1024", Op.GE)),
        ("memory <= 1024", t("memory", "1024", Op.LE)),
        ("memory<1", t("memory", "1", Op.LT)),
        ("memory>1", t("memory", "1", Op.GT)),
        ("severity>=warning", t("severity", "warning", Op.GE)),
        ("description=a=b", t("description", "a=b")),  # a value ends at a space, not at an operator
        ("Clusters.name=Default", t("name", "Default", obj="clusters")),
        ("vm.id=abc", t("id", "abc", obj="vm")),
        ("Vms=web", t("vms", "web")),  # free text on an object: the store tells a field from an object
        ('name="my vm"', t("name", "my vm")),
        ("name='x'", t("name", "x")),
        ('name=""', t("name", "")),
        ("web01", t("", "web01")),  # free text
        ('"web 01"', t("", "web 01")),
    ],
)
def test_one_term(text: str, where: Term) -> None:
    assert parse(text) == Query(where)


def test_and_binds_tighter_than_or() -> None:
    # oVirt has no parentheses: a or b and c is a or (b and c)
    assert parse("name=a or name=b and cluster=c").where == AnyOf(
        (t("name", "a"), AllOf((t("name", "b"), t("cluster", "c"))))
    )
    assert parse("name=a and name=b or cluster=c").where == AnyOf(
        (AllOf((t("name", "a"), t("name", "b"))), t("cluster", "c"))
    )


def test_terms_side_by_side_are_anded() -> None:
    assert parse("name=a cluster=b").where == AllOf((t("name", "a"), t("cluster", "b")))
    assert parse("name=a AND cluster=b Or status=up").where == AnyOf(
        (AllOf((t("name", "a"), t("cluster", "b"))), t("status", "up"))
    )


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ('name="a and b"', [t("name", "a and b")]),
        ("name='a OR b'", [t("name", "a OR b")]),
        ('name = "a and b" and cluster=c1', [t("name", "a and b"), t("cluster", "c1")]),
        ('name="my page 2"', [t("name", "my page 2")]),
        ('name="sortby name"', [t("name", "sortby name")]),
        ("name=band and cluster=android", [t("name", "band"), t("cluster", "android")]),
    ],
)
def test_quoted_values_stay_whole(text: str, terms: list[Term]) -> None:
    where = parse(text).where
    assert (list(where.parts) if isinstance(where, AllOf) else [where]) == terms


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("page 2", Query(page=2)),
        ("name=a* page 3", Query(t("name", "a*"), page=3)),
        ("name=a* and page 3", Query(t("name", "a*"), page=3)),  # Neutrino always took this
        ("sortby name", Query(sort=SortBy("name"))),
        ("sortby name asc", Query(sort=SortBy("name"))),
        ("name=a sortby name DESC", Query(t("name", "a"), SortBy("name", descending=True))),
        (
            "name=Blank sortby version.version_number desc page 1",
            Query(t("name", "Blank"), SortBy("version.version_number", True), 1),
        ),
        ("", Query()),
        ("   ", Query()),
    ],
)
def test_sort_and_page(text: str, query: Query) -> None:
    assert parse(text) == query


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name=", "a value is missing after 'name='"),
        ('name="abc', "the quoted value after 'name=' is not closed"),
        ("and name=x", "a condition is missing before 'and name=x'"),
        ("name=x or", "a condition is missing at the end"),
        ("name=x and or cluster=y", "a condition is missing before 'or cluster=y'"),
        ("name!x", "'!x' has an unknown operator"),
        ("=x", "cannot understand '=x'"),
        (".name=x", "'.name' is not a field"),
        ("clusters.=x", "'clusters.' is not a field"),
        ("page x", "'page' needs a page number from 1 ('x' is not one)"),
        ("page 0", "'page' needs a page number from 1"),
        ("page", "'page' needs a page number"),
        ("sortby", "'sortby' needs a field"),
        ("name=x page 2 name=y", "cannot understand 'name=y'"),
        ("sortby name up", "cannot understand 'up'"),
    ],
)
def test_what_cannot_be_read_is_a_400_quoting_it(text: str, says: str) -> None:
    with pytest.raises(BadRequest, match="Invalid value for 'search'") as err:
        parse(text)
    assert says in err.value.message
