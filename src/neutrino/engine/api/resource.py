"""Collections of the oVirt API: what every resource shares (get/list/search/render), overridden per resource."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neutrino.engine.api.fields import API, INT, Field, parse_fields, render_fields
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain import search
from neutrino.engine.domain.errors import EngineError, NotFound
from neutrino.engine.store.uow import UnitOfWork


class MethodNotAllowed(EngineError):
    pass


@dataclass
class Call:
    """One API request as the resources see it.

    ``uow`` is a read session, opened on first use and closed by the router when the request ends; write
    commands open their own unit of work through ``ctx``.
    """

    ctx: EngineContext
    query: Mapping[str, str]
    parents: tuple[str, ...] = ()
    parent_entities: tuple[Any, ...] = ()  # what ``parents`` name, as the router read them
    _memo: dict[str, Any] = field(default_factory=dict)
    _reader: UnitOfWork | None = None

    @property
    def uow(self) -> UnitOfWork:
        if self._reader is None:
            self._reader = self.ctx.reader().__enter__()
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.__exit__(None, None, None)
            self._reader = None

    def recall(self, key: str) -> Any:
        """A value memoised earlier in this request, or None."""
        return self._memo.get(key)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value computed once per request."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        if value is None:
            return default
        return value.lower() in ("true", "1", "yes", "")

    def follows(self, link: str) -> bool:
        return link in {p.strip() for p in self.query.get("follow", "").split(",")}


class Collection:
    path: ClassVar[str]  # URL segment, e.g. "datacenters"
    plural: ClassVar[str]  # the list's root element, e.g. "data_centers"
    element: ClassVar[str]  # one entity's element, e.g. "data_center"
    type_name: ClassVar[str] = "Entity"
    fields: ClassVar[tuple[Field, ...]] = ()
    links: ClassVar[tuple[str, ...]] = ()
    actions: ClassVar[tuple[str, ...]] = ()
    # actions whose command reads the entity itself and answers a missing one as ``get`` does (404, the same
    # words): the API does not read it once more before acting
    self_checking: ClassVar[frozenset[str]] = frozenset()
    children: ClassVar[dict[str, Collection]] = {}
    # whether GET takes ``search`` (compiled to SQL by the store: ``store.search`` declares the fields)
    searchable: ClassVar[bool] = False
    repo: ClassVar[str] = ""  # the unit of work's repository for get/list

    # --- reading --------------------------------------------------------------------------------

    def base(self, call: Call, entity: Any) -> str:
        return f"{API}/{self.path}"

    def href(self, call: Call, entity: Any) -> str:
        return f"{self.base(call, entity)}/{entity.id}"

    def list(self, call: Call) -> Sequence[Any]:
        return getattr(call.uow, self.repo).list()

    def get(self, call: Call, id_: str) -> Any:
        entity = getattr(call.uow, self.repo).get(id_)
        if entity is None or not self.belongs(call, entity):
            raise NotFound(f"{self.type_name} '{id_}' was not found.")
        return entity

    def belongs(self, call: Call, entity: Any) -> bool:
        """Whether an entity is part of this (possibly nested) collection."""
        return True

    def render(self, call: Call, entity: Any) -> Tree:
        href = self.href(call, entity)
        tree: Tree = {"href": href, "id": str(entity.id)}
        if self.actions:
            tree["actions"] = {"link": [{"href": f"{href}/{a}", "rel": a} for a in self.actions]}
        tree.update(render_fields(self.fields, entity))
        tree.update(self.render_extra(call, entity))
        links = [rel for rel in self.links if rel not in tree]
        if links:
            tree["link"] = [{"href": f"{href}/{rel}", "rel": rel} for rel in links]
        return tree

    def render_extra(self, call: Call, entity: Any) -> Tree:
        return {}

    def render_list(self, call: Call, entities: Sequence[Any]) -> Tree:
        return {self.element: [self.render(call, e) for e in entities]}

    def parse(self, tree: Tree) -> dict[str, Any]:
        return parse_fields(self.fields, tree)

    # --- writing (a resource enables what it supports) ------------------------------------------

    def add(self, call: Call, body: Tree) -> Any:
        raise MethodNotAllowed(f"Adding to '{self.path}' is not supported.")

    def update(self, call: Call, id_: str, body: Tree) -> Any:
        raise MethodNotAllowed(f"Updating '{self.path}' is not supported.")

    def remove(self, call: Call, id_: str) -> None:
        raise MethodNotAllowed(f"Removing from '{self.path}' is not supported.")

    def act(self, call: Call, id_: str, action: str, body: Tree) -> Tree:
        raise MethodNotAllowed(f"Action '{action}' is not supported on '{self.path}'.")

    # --- search and paging ----------------------------------------------------------------------

    def find(self, call: Call) -> Sequence[Any]:
        """What a GET of the collection lists: searched in the database (``search``, ``max``, ``page``,
        ``case_sensitive``) when the collection takes a search, as oVirt's top-level collections do; else its
        list, cut to ``max`` (a ``search`` there is ignored, as oVirt ignores it on nested collections)."""
        size = max_of(call)
        if not self.searchable:
            found = self.list(call)
            return list(found)[:size] if size is not None else found
        query = search.parse(call.query.get("search", ""))
        selection = search.Selection(
            query,
            case_sensitive=call.flag("case_sensitive", default=True),
            filters=self.scope(call),
            after_id=self.after(call),
            size=size,
            page=query.page or 1,
        )
        call.memo("selection", lambda: selection)  # for what the rendering lists with it (a VM's NICs)
        return getattr(call.uow, self.repo).select(selection)

    def scope(self, call: Call) -> dict[str, Any]:
        """Column filters the collection's place in the tree adds to a search (e.g. its data center)."""
        return {}

    def after(self, call: Call) -> int | None:
        """Only entities with a greater integer id (the events' ``from``)."""
        return None


def max_of(call: Call) -> int | None:
    """The ``max`` parameter: a size, or None for everything (absent or negative)."""
    limit = call.query.get("max")
    if limit is None:
        return None
    size = INT.parse(limit, "max")  # a 64-bit integer: SQL's LIMIT takes no more
    return size if size >= 0 else None
