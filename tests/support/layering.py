"""Which package imports which, read from the source with :mod:`ast` (nothing is imported, so no
module's import-time work runs), and the checks :mod:`tests.unit.test_layering` applies to it.

Every ``import``/``from ... import`` statement counts, wherever it stands: at module level, inside
a function, or under ``if TYPE_CHECKING:`` (a type is a dependency too). Imports made from strings
(``importlib.import_module("...")``, as ``neutrino.cli`` does for its sub-commands) are not seen.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# In a rule's ``must_not_import``: any module outside the standard library and the project.
THIRD_PARTY = "<any library outside the standard library>"


@dataclass(frozen=True)
class Import:
    """One name an import statement brings in: ``from a.b import c`` gives target ``a.b.c`` (a module
    or a name in ``a.b``: the rules match on package prefixes, so either reads the same)."""

    module: str  # the importing module, e.g. neutrino.engine.store.uow
    target: str  # absolute, relative imports resolved
    path: Path
    line: int
    statement: str  # as written

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.module}: `{self.statement}`"


@dataclass(frozen=True)
class Rule:
    """Modules in ``package`` (itself or below it) must not import anything under the prefixes in
    ``must_not_import``, except what is under a prefix in ``unless``."""

    package: str
    must_not_import: tuple[str, ...]
    unless: tuple[str, ...] = ()
    why: str = ""

    def forbids(self, imp: Import) -> bool:
        if not within(imp.module, self.package):
            return False
        if any(within(imp.target, allowed) for allowed in self.unless):
            return False
        return any(_matches(imp.target, pattern) for pattern in self.must_not_import)


def within(module: str, package: str) -> bool:
    """``module`` is ``package`` or one of its submodules (dotted boundaries: ``a.bc`` is not in ``a.b``)."""
    return module == package or module.startswith(package + ".")


def is_third_party(module: str, project: str = "neutrino") -> bool:
    top = module.split(".", 1)[0]
    return top != project and top not in sys.stdlib_module_names


def _matches(target: str, pattern: str) -> bool:
    if pattern == THIRD_PARTY:
        return is_third_party(target)
    return within(target, pattern)


# -- reading the tree -------------------------------------------------------------------------------
def module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scan(src: Path, package: str = "neutrino") -> list[Import]:
    """Every import in every module of ``package`` under the source root ``src`` (paths in the
    results are relative to the parent of ``src``, as ``src/neutrino/...``)."""
    found: list[Import] = []
    for path in sorted((src / package.replace(".", "/")).rglob("*.py")):
        shown = path.relative_to(src.parent)
        found.extend(_imports(path, shown, module_name(path, src), is_package=path.name == "__init__.py"))
    return found


def _imports(path: Path, shown: Path, module: str, is_package: bool) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module if is_package else module.rpartition(".")[0]  # what `from . import` means
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, shown, node.lineno, ast.unparse(node))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, here, shown)
            for alias in node.names:
                target = base if alias.name == "*" else f"{base}.{alias.name}"
                yield Import(module, target, shown, node.lineno, ast.unparse(node))


def _resolve(node: ast.ImportFrom, here: str, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    parts = here.split(".")
    if node.level - 1 >= len(parts):
        raise ValueError(f"{path}:{node.lineno}: relative import goes above the top package")
    parent = parts[: len(parts) - (node.level - 1)]
    return ".".join(parent + ([node.module] if node.module else []))


def modules(imports: Iterable[Import]) -> set[str]:
    return {imp.module for imp in imports}


# -- the checks ---------------------------------------------------------------------------------------
def violations(imports: Iterable[Import], rules: Iterable[Rule]) -> list[str]:
    """One line per import a rule forbids: where it is, what it imports, and the rule's reason."""
    rules = list(rules)
    found = []
    for imp in imports:
        for rule in rules:
            if rule.forbids(imp):
                found.append(f"{imp.where()} imports {imp.target}: {rule.package} {rule.why}")
    return found


def unit_of(module: str, parent: str) -> str | None:
    """The subpackage (or top-level module) of ``parent`` that ``module`` belongs to, or None."""
    if not module.startswith(parent + "."):
        return None
    return module[len(parent) + 1 :].split(".", 1)[0]


def dependencies(imports: Iterable[Import], parent: str) -> dict[tuple[str, str], list[Import]]:
    """(importing unit, imported unit) → the imports that make that edge, between the subpackages of
    ``parent``."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in imports:
        source, target = unit_of(imp.module, parent), unit_of(imp.target, parent)
        if source is not None and target is not None and source != target:
            edges[(source, target)].append(imp)
    return edges


def strongly_connected(edges: Collection[tuple[str, str]]) -> list[frozenset[str]]:
    """The groups of units that reach each other (Tarjan), only those of two or more."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def cycles(imports: Iterable[Import], parent: str, allowed: Collection[frozenset[str]] = ()) -> list[str]:
    """A message per group of ``parent``'s subpackages that import each other, naming every import
    inside the group; a group that is exactly one of ``allowed`` is not reported."""
    edges = dependencies(imports, parent)
    found = []
    for group in strongly_connected(edges.keys()):
        if group in allowed:
            continue
        inside = sorted((kv for kv in edges.items() if set(kv[0]) <= group), key=lambda kv: kv[0])
        lines = [
            f"{a} -> {b}:\n    " + "\n    ".join(dict.fromkeys(i.where() for i in imps))
            for (a, b), imps in inside
        ]
        found.append(
            f"import cycle between {parent}.{{{', '.join(sorted(group))}}}:\n  " + "\n  ".join(lines)
        )
    return found


def stale_allowances(
    imports: Iterable[Import], parent: str, allowed: Collection[frozenset[str]]
) -> list[frozenset[str]]:
    """The allowed cycles that no longer exist (whose units no longer reach each other)."""
    groups = strongly_connected(dependencies(imports, parent).keys())
    return [pair for pair in allowed if not any(pair <= group for group in groups)]
