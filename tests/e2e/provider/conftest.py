"""`neutrino provider` run as a user runs it (a process on 127.0.0.1), for the real OpenStack clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import postgresql_available, postgresql_schema, sqlite_url
from tests.support.servers import free_port, neutrino_process

ADMIN_PASSWORD = "provider-e2e-secret"


@dataclass
class ProviderProcess:
    url: str  # http://127.0.0.1:PORT
    db_url: str

    @property
    def auth_url(self) -> str:
        return f"{self.url}/v3"

    def connect(self, user: str = "admin", password: str = ADMIN_PASSWORD, project: str = "admin") -> Any:
        """An openstacksdk connection with Keystone v3 password auth and nothing else configured."""
        import openstack

        return openstack.connect(
            auth_url=self.auth_url,
            username=user,
            password=password,
            project_name=project,
            user_domain_name="Default",
            project_domain_name="Default",
            identity_api_version="3",
            load_yaml_config=False,
            load_envvars=False,
        )

    def cli_env(
        self, user: str = "admin", password: str = ADMIN_PASSWORD, project: str = "admin"
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_AUTH_URL=self.auth_url,
            OS_USERNAME=user,
            OS_PASSWORD=password,
            OS_PROJECT_NAME=project,
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
        )
        return env


def _require_postgresql() -> None:
    reason = postgresql_available()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)


def _run(url: str, data_dir: Path) -> Iterator[ProviderProcess]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["provider", "--listen", f"127.0.0.1:{port}", "--db", url, "--data-dir", str(data_dir)]
    with neutrino_process(
        args, f"{base}/", data_dir / "provider.log", env={"NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD}
    ):
        yield ProviderProcess(base, url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def provider_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    """One provider process per module and backend (the tests name their resources uniquely)."""
    data_dir = tmp_path_factory.mktemp("provider")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(data_dir)
        else:
            _require_postgresql()
            url = stack.enter_context(postgresql_schema())
        yield from _run(url, data_dir)


@pytest.fixture(scope="module")
def sqlite_provider_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    data_dir = tmp_path_factory.mktemp("provider")
    yield from _run(sqlite_url(data_dir), data_dir)


def unique(prefix: str) -> str:
    """A resource name no other test uses (the provider's database is shared by a module's tests)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def conn(provider_process: ProviderProcess) -> Iterator[Any]:
    """An openstacksdk connection to the provider as admin, for one test module."""
    connection = provider_process.connect()
    yield connection
    connection.close()
