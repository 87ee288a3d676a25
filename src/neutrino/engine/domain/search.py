"""The oVirt search language (the API's ``?search=``), parsed into a small tree; the store compiles it to SQL.

The grammar is ovirt-engine's (``SyntaxChecker``), without the ``Vms:`` prefix the API adds itself::

    query      := [condition] [SORTBY field [ASC|DESC]] [PAGE n]
    condition  := conjunct (OR conjunct)*             -- AND binds tighter than OR; there are no parentheses
    conjunct   := term ([AND] term)*                  -- two terms side by side are ANDed
    term       := [object "."] field operator value   -- name=a*, Clusters.name=x, memory>=1024, severity>=warning
                | object operator value               -- free text on a cross-referenced object: Vms=web
                | value                               -- free text on the entity itself

Operators are ``=``, ``!=``, ``<``, ``>``, ``<=`` and ``>=`` (which ones a field takes is the store's
business: text and enums take ``=``/``!=``). A value is a word (it ends at a space) or a quoted text
(``"a and b"``; ``'...'`` too, which oVirt refuses but Neutrino always accepted); in text, ``*`` matches
anything. Keywords, objects and fields are case-insensitive; values are not (the API's ``case_sensitive``
says how they compare). Anything else is a 400 that quotes what could not be read.

A trailing ``and`` before ``page``/``sortby`` (``name=x and page 2``) is tolerated, as Neutrino always did.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neutrino.engine.domain.errors import BadRequest


class Op(enum.StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="


@dataclass(frozen=True)
class Term:
    """``obj.field op value``; ``field`` is "" for free text, ``obj`` None for the searched entity itself."""

    field: str
    op: Op
    value: str
    obj: str | None = None

    @property
    def label(self) -> str:
        """The term's field as the user wrote it (lower-cased), for messages."""
        return f"{self.obj}.{self.field}" if self.obj and self.field else (self.obj or self.field)


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


Condition = Term | AllOf | AnyOf


@dataclass(frozen=True)
class SortBy:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    where: Condition | None = None
    sort: SortBy | None = None
    page: int | None = None


@dataclass(frozen=True)
class Selection:
    """What a list request selects: its search, and what the request adds — case, the collection's place in
    the tree (column filters), ``from`` (ids after it), ``max`` (a page's size; None: all) and the page."""

    query: Query = Query()
    case_sensitive: bool = True
    filters: Mapping[str, Any] = field(default_factory=dict)
    after_id: int | None = None
    size: int | None = None
    page: int = 1


KEYWORDS = frozenset({"and", "or", "sortby", "page"})
_OPERATOR_CHARS = "=!<>"
_QUOTES = "\"'"


def _error(detail: str) -> BadRequest:
    return BadRequest(f"Invalid value for 'search': {detail}")


class _Reader:
    """A cursor over the search text; words end at a space, an operator or a quote."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_spaces()
        return self.pos >= len(self.text)

    def peek_word(self) -> str:
        """The next bare word, lower-cased, without consuming it ("" at a quote, an operator or the end)."""
        self.skip_spaces()
        end = self.pos
        while end < len(self.text) and not (
            self.text[end].isspace() or self.text[end] in _OPERATOR_CHARS + _QUOTES
        ):
            end += 1
        return self.text[self.pos : end].lower()

    def word(self) -> str:
        found = self.peek_word()
        self.pos += len(found)
        return self.text[self.pos - len(found) : self.pos]

    def operator(self) -> Op | None:
        self.skip_spaces()
        for op in (Op.NE, Op.LE, Op.GE, Op.EQ, Op.LT, Op.GT):  # two-character operators first
            if self.text.startswith(op.value, self.pos):
                self.pos += len(op.value)
                return op
        if self.pos < len(self.text) and self.text[self.pos] in _OPERATOR_CHARS:
            raise _error(f"'{self.rest()}' has an unknown operator (use =, !=, <, >, <= or >=).")
        return None

    def value(self, after: str) -> str:
        """A quoted text, or a word that ends at the next space (it may hold operator characters)."""
        self.skip_spaces()
        if self.pos < len(self.text) and self.text[self.pos] in _QUOTES:
            quote = self.text[self.pos]
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise _error(f"the quoted value after '{after}' is not closed.")
            found = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return found
        end = self.pos
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        found = self.text[self.pos : end]
        if not found:
            raise _error(f"a value is missing after '{after}'.")
        self.pos = end
        return found

    def rest(self) -> str:
        return self.text[self.pos :].strip()


def parse(text: str) -> Query:
    """``name=a* and Clusters.name=x sortby name desc page 2`` -> a Query; BadRequest naming what is wrong."""
    reader = _Reader(text)
    where = None if reader.peek_word() in ("sortby", "page") or reader.at_end() else _disjunction(reader)
    sort = _sort(reader) if reader.peek_word() == "sortby" else None
    page = _page(reader) if reader.peek_word() == "page" else None
    if not reader.at_end():
        raise _error(f"cannot understand '{reader.rest()}'.")
    return Query(where, sort, page)


def _disjunction(reader: _Reader) -> Condition:
    parts = [_conjunction(reader)]
    while reader.peek_word() == "or":
        reader.word()
        parts.append(_conjunction(reader))
    return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))


def _conjunction(reader: _Reader) -> Condition:
    parts = [_term(reader)]
    while not reader.at_end():
        keyword = reader.peek_word()
        if keyword == "and":
            reader.word()
            if reader.peek_word() in ("sortby", "page") or reader.at_end():
                break  # `name=x and page 2`: the `and` joins nothing
        elif keyword in KEYWORDS:
            break
        parts.append(_term(reader))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _term(reader: _Reader) -> Term:
    if reader.at_end():
        raise _error("a condition is missing at the end.")
    if reader.peek_word() in KEYWORDS:
        raise _error(f"a condition is missing before '{reader.rest()}'.")
    if reader.text[reader.pos] in _QUOTES:  # free text, quoted
        return Term("", Op.EQ, reader.value(after="the start"))
    start = reader.pos
    name = reader.word()
    if not name:
        raise _error(f"cannot understand '{reader.rest()}'.")
    op = reader.operator()
    if op is None:  # a bare word: free text on the entity
        reader.pos = start
        return Term("", Op.EQ, reader.value(after=name))
    value = reader.value(after=f"{name}{op.value}")
    obj, dot, field = name.lower().partition(".")
    if dot and not (obj and field):
        raise _error(f"'{name}' is not a field (write object.field, e.g. Clusters.name).")
    return Term(field, op, value, obj) if dot else Term(obj, op, value)


def _sort(reader: _Reader) -> SortBy:
    reader.word()  # sortby
    field = reader.word().lower()
    if not field or field in KEYWORDS:
        raise _error("'sortby' needs a field (e.g. sortby name desc).")
    direction = reader.peek_word()
    if direction in ("asc", "desc"):
        reader.word()
    return SortBy(field, descending=direction == "desc")


def _page(reader: _Reader) -> int:
    reader.word()  # page
    number = reader.word()
    if not number.isdigit() or not 1 <= int(number) <= 1 << 62:  # OFFSET is a 64-bit integer
        raise _error(f"'page' needs a page number from 1 ('{number or reader.rest()}' is not one).")
    return int(number)
