"""The layering rules of ``src/neutrino``: which package may import which, checked on the source with
``ast`` (tests/support/layering.py), so they hold without anyone checking by hand.

A rule reads: modules in PACKAGE (and below it) must not import anything under MUST NOT IMPORT,
except what is under UNLESS. A failure names the file, line, module and import statement.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.layering import (
    THIRD_PARTY,
    Import,
    Rule,
    cycles,
    modules,
    scan,
    stale_allowances,
    violations,
)

SRC = Path(__file__).resolve().parents[2] / "src"

NEUTRINO = "neutrino"
ENGINE, PROVIDER, AGENT = "neutrino.engine", "neutrino.provider", "neutrino.agent"
NEUTRON_CLIENT, AGENT_API = "neutrino.neutron_client", "neutrino.agent_api"  # shared by the programs
ACCESS_LOG = "neutrino.access_log"  # the servers' request log, shared by all three
PRIVATE_FILES = "neutrino.private_files"  # 0700 data dirs, 0600 databases and keys, shared by all three
LOGIN_THROTTLE = "neutrino.login_throttle"  # failed-login throttling, shared by the engine and Keystone
HTTP_INPUT = "neutrino.http_input"  # the servers' input boundary, shared by all three
ROOTS = ("neutrino.up", "neutrino.up_ovn", "neutrino.cli")  # compose the programs: nothing imports them
DOMAIN, STORE, SCHEDULING = f"{ENGINE}.domain", f"{ENGINE}.store", f"{ENGINE}.scheduling"
PROVIDERS, HOSTS, COMMANDS = f"{ENGINE}.provider_clients", f"{ENGINE}.hosts", f"{ENGINE}.commands"
API, WEB = f"{ENGINE}.api", f"{ENGINE}.web"
# the engine's composition root and entry point (app.py, bootstrap.py, cli.py): its layers never import them
ENGINE_ROOTS = (f"{ENGINE}.app", f"{ENGINE}.bootstrap", f"{ENGINE}.cli")
# the standard library's I/O: the domain computes, it does not talk to anything
IO_STDLIB = ("asyncio", "http", "os", "select", "shutil", "socket", "sqlite3", "ssl", "subprocess", "urllib")

# fmt: off
RULES: tuple[Rule, ...] = (
    # package             must not import                                             unless                 why
    # -- the programs and the packages they share
    Rule(ENGINE,          (PROVIDER, AGENT, *ROOTS),                                  (),                    "talks to the provider and the agents over HTTP only"),
    Rule(PROVIDER,        (ENGINE, AGENT, *ROOTS),                                    (),                    "is a server of its own: no engine or agent code"),
    Rule(AGENT,           (ENGINE, PROVIDER, *ROOTS),                                 (),                    "is a program of its own: no engine or provider code"),
    Rule(NEUTRON_CLIENT,  (ENGINE, PROVIDER, AGENT, *ROOTS),                          (),                    "is shared by the engine and the agent"),
    Rule(AGENT_API,       (ENGINE, PROVIDER, AGENT, *ROOTS),                          (),                    "is shared by the engine and the agent"),
    Rule(ACCESS_LOG,      (NEUTRINO, THIRD_PARTY),                                    (ACCESS_LOG,),         "is shared by the three servers: the standard library only"),
    Rule(PRIVATE_FILES,   (NEUTRINO, THIRD_PARTY),                                    (PRIVATE_FILES,),      "is shared by the three programs: the standard library only"),
    Rule(LOGIN_THROTTLE,  (NEUTRINO, THIRD_PARTY),                                    (LOGIN_THROTTLE,),     "is shared by the engine and the provider: the standard library only"),
    Rule(HTTP_INPUT,      (NEUTRINO, THIRD_PARTY),                                    (HTTP_INPUT,),         "is shared by the three servers: the standard library only"),
    # -- inside the engine: domain <- store <- commands <- api and web; app/bootstrap/cli above them all
    Rule(DOMAIN,          (NEUTRINO, THIRD_PARTY, *IO_STDLIB),                        (DOMAIN,),             "holds pure rules: itself and the standard library, no I/O"),
    Rule(SCHEDULING,      (NEUTRINO, THIRD_PARTY),                                    (DOMAIN, SCHEDULING),  "holds pure filters: the domain and the standard library"),
    Rule(STORE,           (NEUTRINO,),                                                (DOMAIN, STORE),       "persists the domain and imports nothing else of ours"),
    Rule(PROVIDERS,       (STORE, HOSTS, COMMANDS, API, WEB, *ENGINE_ROOTS),          (),                    "is a Neutron client that commands use"),
    Rule(HOSTS,           (API, WEB, *ENGINE_ROOTS),                                  (),                    "is below the API: commands and the root use it"),
    Rule(COMMANDS,        (API, WEB, *ENGINE_ROOTS),                                  (),                    "are the use cases: API and web call them, never the reverse"),
    Rule(API,             (STORE, HOSTS, PROVIDERS, SCHEDULING, WEB, *ENGINE_ROOTS),  (f"{STORE}.uow",),     "goes through commands, and uses the store's unit of work only"),
    Rule(WEB,             (STORE, HOSTS, PROVIDERS, SCHEDULING, API, *ENGINE_ROOTS),  (),                    "goes through commands only"),
)
# fmt: on

# Pairs of engine subpackages allowed to import each other: none. The last cycle, commands <-> hosts (the
# monitor's use cases in hosts/monitor.py), went when they moved into commands/. A pair added here, e.g.
# frozenset({"commands", "hosts"}), needs a comment saying why and until when; test_allowed_cycles_are_still_there
# fails once it is gone, so the allowance goes with it.
ALLOWED_ENGINE_CYCLES: frozenset[frozenset[str]] = frozenset()

# Rules for packages that may not be written yet; the others must name a package that exists.
NOT_WRITTEN_YET: set[str] = set()


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return scan(SRC)


def test_the_source_is_where_the_test_looks(imports: list[Import]) -> None:
    names = modules(imports)
    assert {f"{ENGINE}.domain.model", f"{PROVIDER}.app", f"{AGENT}.app"} <= names, sorted(names)[:10]


def test_every_rule_names_a_package_that_exists(imports: list[Import]) -> None:
    names = modules(imports)
    missing = [
        rule.package
        for rule in RULES
        if rule.package not in NOT_WRITTEN_YET and not any(n.startswith(rule.package) for n in names)
    ]
    assert not missing, f"rules about packages that no longer exist (update the table): {missing}"


def test_packages_import_only_what_their_layer_allows(imports: list[Import]) -> None:
    found = violations(imports, RULES)
    assert not found, "layering rules broken:\n" + "\n".join(found)


@pytest.mark.parametrize("parent", [ENGINE, PROVIDER, AGENT, NEUTRINO])
def test_no_import_cycle_between_subpackages(imports: list[Import], parent: str) -> None:
    allowed = ALLOWED_ENGINE_CYCLES if parent == ENGINE else frozenset()
    found = cycles(imports, parent, allowed)
    assert not found, "\n".join(found)


def test_allowed_cycles_are_still_there(imports: list[Import]) -> None:
    gone = stale_allowances(imports, ENGINE, ALLOWED_ENGINE_CYCLES)
    assert not gone, f"these engine cycles are gone: delete them from ALLOWED_ENGINE_CYCLES: {gone}"


# -- the checker can fail: a tiny tree with one breach of each kind ----------------------------------------
def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "src"


def synthetic(tmp_path: Path, extra: dict[str, str] | None = None) -> list[Import]:
    """The imports of a small clean tree (the engine's layers, one module each) plus ``extra``."""
    files = {
        "neutrino/__init__.py": "",
        "neutrino/engine/__init__.py": "",
        "neutrino/engine/domain/__init__.py": "",
        "neutrino/engine/domain/model.py": "import json\nfrom . import errors\nfrom .errors import Bad\n",
        "neutrino/engine/domain/errors.py": "class Bad(Exception): ...\n",
        "neutrino/engine/store/__init__.py": "from neutrino.engine.domain import model\n",
        "neutrino/engine/commands/__init__.py": "",
        "neutrino/engine/commands/run.py": "from neutrino.engine.store import uow\n",
        "neutrino/engine/api/__init__.py": "from neutrino.engine.store.uow import UnitOfWork\n",
    }
    files.update(extra or {})
    return scan(write_tree(tmp_path, files))


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    imports = synthetic(tmp_path)
    assert violations(imports, RULES) == []
    assert cycles(imports, ENGINE) == []


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("neutrino/engine/domain/rules.py", "import sqlalchemy\n", "import sqlalchemy"),
        ("neutrino/engine/domain/rules.py", "from lxml import etree\n", "imports lxml.etree"),
        ("neutrino/engine/domain/rules.py", "import subprocess\n", "import subprocess"),
        (
            "neutrino/engine/domain/rules.py",
            "from ..store import tables\n",
            "imports neutrino.engine.store.tables",
        ),
        ("neutrino/engine/store/repo.py", "def f():\n    from neutrino.engine.commands import run\n", "run"),
        ("neutrino/engine/commands/web.py", "from neutrino.engine.api import app\n", "engine.api.app"),
        ("neutrino/engine/api/vms.py", "from neutrino.engine.store.tables import VMS\n", "store.tables"),
        ("neutrino/engine/scheduling/f.py", "import httpx\n", "import httpx"),
        (
            "neutrino/provider/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from neutrino.engine.domain import model\n",
            "neutrino.engine.domain.model",
        ),  # fmt: skip
        ("neutrino/agent/x.py", "import neutrino.provider.app\n", "import neutrino.provider.app"),
        ("neutrino/neutron_client/x.py", "from neutrino.agent import app\n", "neutrino.agent.app"),
        ("neutrino/agent_api/x.py", "from neutrino.engine.domain import model\n", "engine.domain.model"),
        ("neutrino/engine/commands/x.py", "from neutrino import up\n", "neutrino.up"),
    ],
)
def test_a_forbidden_import_is_named_with_its_module_and_line(
    tmp_path: Path, path: str, text: str, expected: str
) -> None:
    found = violations(synthetic(tmp_path, {path: text}), RULES)
    module = path.removesuffix(".py").replace("/", ".")
    assert len(found) == 1, found
    assert found[0].startswith(f"src/{path}:") and f": {module}: `" in found[0], found
    assert expected in found[0], found


def test_a_name_that_only_starts_like_a_package_is_not_in_it(tmp_path: Path) -> None:
    imports = synthetic(tmp_path, {"neutrino/engine/domainx/m.py": "import sqlalchemy\n"})
    assert violations(imports, RULES) == []


def test_a_cycle_is_named_with_both_imports_and_an_allowance_hides_only_that_pair(tmp_path: Path) -> None:
    imports = synthetic(
        tmp_path,
        {
            "neutrino/engine/hosts/monitor.py": "from neutrino.engine.commands import run\n",
            "neutrino/engine/commands/sync.py": "from neutrino.engine.hosts.monitor import refresh\n",
        },
    )
    [found] = cycles(imports, ENGINE)
    assert "neutrino.engine.{commands, hosts}" in found
    assert "commands -> hosts:" in found and "from neutrino.engine.hosts.monitor import refresh" in found
    assert (
        "hosts -> commands:" in found
        and "neutrino.engine.hosts.monitor: `from neutrino.engine.commands" in found
    )
    allowed = frozenset({frozenset({"commands", "hosts"})})
    assert cycles(imports, ENGINE, allowed) == []
    assert stale_allowances(imports, ENGINE, allowed) == []

    # a third package joining the cycle is reported despite the allowance
    more = synthetic(
        tmp_path / "more",
        {
            "neutrino/engine/hosts/monitor.py": "from neutrino.engine.commands import run\n",
            "neutrino/engine/commands/sync.py": "from neutrino.engine.web import pages\n",
            "neutrino/engine/web/pages.py": "from neutrino.engine.hosts import monitor\n",
        },
    )
    [found] = cycles(more, ENGINE, allowed)
    assert "neutrino.engine.{commands, hosts, web}" in found


def test_an_allowance_for_a_cycle_that_is_gone_is_reported(tmp_path: Path) -> None:
    imports = synthetic(
        tmp_path, {"neutrino/engine/hosts/monitor.py": "from neutrino.engine.domain import model\n"}
    )
    allowed = frozenset({frozenset({"commands", "hosts"})})
    assert stale_allowances(imports, ENGINE, allowed) == [frozenset({"commands", "hosts"})]
