"""Collections of the oVirt API: what every resource shares (get/list/search/render), overridden per resource."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neutrino.engine.api.fields import API, Field, parse_fields, render_fields
from neutrino.engine.api.wire import Tree
from neutrino.engine.commands.common import EngineContext
from neutrino.engine.domain.errors import BadRequest, EngineError, NotFound
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
    _names: dict[str, dict[str, str]] = field(default_factory=dict)
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

    def names(self, repo_name: str) -> dict[str, str]:
        """id -> name of every entity of a repository, read once per request (for search and rendering)."""
        if repo_name not in self._names:
            repo = getattr(self.uow, repo_name)
            self._names[repo_name] = {e.id: e.name for e in repo.list()}
        return self._names[repo_name]


SearchKey = Callable[[Call, Any], str | Sequence[str] | None]


class Collection:
    path: ClassVar[str]  # URL segment, e.g. "datacenters"
    plural: ClassVar[str]  # the list's root element, e.g. "data_centers"
    element: ClassVar[str]  # one entity's element, e.g. "data_center"
    type_name: ClassVar[str] = "Entity"
    fields: ClassVar[tuple[Field, ...]] = ()
    links: ClassVar[tuple[str, ...]] = ()
    actions: ClassVar[tuple[str, ...]] = ()
    children: ClassVar[dict[str, Collection]] = {}
    search_keys: ClassVar[dict[str, SearchKey]] = {}
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
        tree: Tree = {"href": href, "id": entity.id}
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

    def select(self, call: Call, entities: Sequence[Any]) -> Sequence[Any]:
        """Apply the ``search`` query (``name=a* and cluster=x``, ``page N``) and ``max``."""
        text = call.query.get("search", "").strip()
        page = None
        if text:
            terms, page = parse_search(text)
            case = call.flag("case_sensitive", default=True)
            entities = [e for e in entities if all(self._matches(call, e, k, v, case) for k, v in terms)]
        limit = call.query.get("max")
        if limit is not None:
            try:
                size = int(limit)
            except ValueError:
                raise BadRequest(f"Invalid value for 'max': '{limit}' is not an integer.") from None
            if size >= 0:
                start = (page - 1) * size if page else 0
                entities = list(entities)[start : start + size]
        return entities

    def _matches(self, call: Call, entity: Any, key: str, pattern: str, case: bool) -> bool:
        getter = self.search_keys.get(key) or ({"name": _name} | dict(self.search_keys)).get(key)
        if getter is None:
            known = ", ".join(sorted({"name", *self.search_keys}))
            raise BadRequest(f"Invalid value for 'search': unknown field '{key}' (known: {known}).")
        values = getter(call, entity)
        if values is None:
            return False
        regex = wildcard(pattern, case)
        return any(regex.match(value) for value in ([values] if isinstance(values, str) else values))


def wildcard(pattern: str, case_sensitive: bool = True) -> re.Pattern[str]:
    """oVirt's search patterns: ``*`` matches anything, every other character only itself (``?``, ``[`` too)."""
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(rf"\A{body}\Z", re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def _name(call: Call, entity: Any) -> str:
    return str(entity.name)


_TERM = re.compile(r"^\s*([\w.]+)\s*=\s*(\"[^\"]*\"|'[^']*'|\S*)\s*$")
_PAGE = re.compile(r"^\s*page\s+(\d+)\s*$", re.IGNORECASE)
# a quoted value (kept whole: `name="a and b"` is one clause) or the `and` between two clauses
_QUOTED_OR_AND = re.compile(r"=\s*(?:\"[^\"]*\"|'[^']*')|(\s+and\s+)", re.IGNORECASE)


def _clauses(text: str) -> list[str]:
    """Split ``A and B`` at each ``and`` that is not inside a quoted value."""
    parts, start = [], 0
    for m in _QUOTED_OR_AND.finditer(text):
        if m.group(1) is not None:
            parts.append(text[start : m.start()])
            start = m.end()
    return [*parts, text[start:]]


def parse_search(text: str) -> tuple[list[tuple[str, str]], int | None]:
    """``name=a* and Clusters.name=x page 2`` -> ([("name","a*"), ("clusters.name","x")], 2)."""
    page = None
    m = re.search(r"\s*\bpage\s+(\d+)\s*$", text, re.IGNORECASE)
    if m:
        page = int(m.group(1))
        text = re.sub(r"\s+and\s*$", "", text[: m.start()], flags=re.IGNORECASE)  # `name=x and page 2`
    terms = []
    for part in _clauses(text.strip()) if text.strip() else []:
        if _PAGE.match(part):
            page = int(_PAGE.match(part).group(1))  # type: ignore[union-attr]
            continue
        tm = _TERM.match(part)
        if not tm:
            raise BadRequest(f"Invalid value for 'search': cannot understand '{part.strip()}'.")
        key, value = tm.group(1).lower(), tm.group(2)
        if value[:1] in "\"'" and value[-1:] == value[:1]:
            value = value[1:-1]
        terms.append((key, value))
    return terms, page
