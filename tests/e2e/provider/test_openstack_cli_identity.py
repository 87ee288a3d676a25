"""Contract: the `openstack project/user/role` commands an administrator types, against the provider's
Keystone, and what a reader may then do with the `openstack` CLI (SQLite only: each command is a Python
start; tests/e2e/provider/test_keystone_projects_roles.py covers the API on both backends)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.e2e.provider.conftest import ProviderProcess
from tests.e2e.provider.test_openstack_cli import Cli  # skips this module too when the CLI is missing


@pytest.fixture(scope="module")
def admin_cli(sqlite_provider_process: ProviderProcess) -> Cli:
    return Cli(sqlite_provider_process)


def _as(provider: ProviderProcess, user: str, password: str, project: str) -> Cli:
    other = Cli(provider)
    other.env = provider.cli_env(user, password, project)
    return other


def _failed(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0 and all(w in done.stderr for w in words), done.stderr


def test_an_admin_makes_a_reader_who_reads_only(
    admin_cli: Cli, sqlite_provider_process: ProviderProcess
) -> None:
    cli = admin_cli
    name = f"cli-{uuid.uuid4().hex[:8]}"
    project = cli.json("project", "create", name, "--description", "first")
    assert project["description"] == "first" and project["enabled"] is True
    user = cli.json(
        "user", "create", name, "--password", "pw-1", "--project", name, "--email", "r@example.org"
    )
    assert user["default_project_id"] == project["id"]
    cli.run("role", "add", "--project", name, "--user", name, "reader")
    assigned = cli.json("role", "assignment", "list", "--user", name, "--project", name, "--names")
    assert [(a["Role"], a["User"], a["Project"]) for a in assigned] == [
        ("reader", f"{name}@Default", f"{name}@Default")
    ]

    reader = _as(sqlite_provider_process, name, "pw-1", name)
    token = reader.json("token", "issue")
    assert token["project_id"] == project["id"] and token["user_id"] == user["id"]
    assert reader.json("network", "list") == []
    _failed(
        reader.run("network", "create", name, check=False), "(rule:create_network) is disallowed by policy"
    )

    cli.run("project", "set", "--name", name + "-2", "--description", "second", name)
    shown = cli.json("project", "show", name + "-2")
    assert (shown["id"], shown["description"]) == (project["id"], "second")
    cli.run("user", "set", "--disable", name)
    _failed(reader.run("token", "issue", check=False), "401")
    cli.run("user", "delete", name)
    cli.run("project", "delete", name + "-2")
