"""The API's shape: every link a collection advertises leads somewhere (a child collection or an empty list)."""

from __future__ import annotations

from collections.abc import Iterator

from neutrino.engine.api.tree import EMPTY_LISTS, EMPTY_TOP, Node, build_tree


def _nodes(nodes: dict[str, Node], path: str = "") -> Iterator[tuple[str, Node]]:
    for name, node in nodes.items():
        here = f"{path}/{name}"
        yield here, node
        yield from _nodes(node.children, f"{here}/{{id}}")


def test_every_link_of_every_entity_leads_somewhere() -> None:
    dangling = [
        f"{path}/{{id}}/{rel}"
        for path, node in _nodes(build_tree())
        for rel in node.collection.links
        if rel not in node.children and rel not in EMPTY_LISTS
    ]
    assert dangling == []


def test_every_top_level_link_of_the_root_leads_somewhere() -> None:
    from neutrino.engine.api.app import ROOT_LINKS

    tree = build_tree()
    assert [r for r in ROOT_LINKS if r not in tree and r not in EMPTY_TOP] == []


def test_empty_top_collections_have_list_roots() -> None:
    assert all(top in EMPTY_LISTS for top in EMPTY_TOP)
