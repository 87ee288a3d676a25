"""What the engine keeps about a provider survives its restart: the (encrypted) password and the imported
certificates still let it talk to the provider."""

from __future__ import annotations

from pathlib import Path

import ovirtsdk4.types as types
import pytest

from tests.e2e.providers.conftest import TlsProvider, database, start_engine
from tests.e2e.providers.helpers import add_provider, unique


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_provider_still_works_after_an_engine_restart(
    tls_provider: TlsProvider, tmp_path: Path, backend: str
) -> None:
    member = tls_provider.new_member()
    name = unique("kept")
    with tls_provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {"name": name}}).raise_for_status()
    with database(backend, tmp_path) as db_url:
        with start_engine(backend, db_url, tmp_path) as engine:
            conn = engine.connection()
            try:
                system = conn.system_service()
                registered = add_provider(system, tls_provider, member)
                service = system.openstack_network_providers_service().provider_service(registered.id)
                presented = service.certificates_service().list()
                service.import_certificates(certificates=[types.Certificate(content=presented[-1].content)])
                service.test_connectivity()
            finally:
                conn.close()
        with start_engine(backend, db_url, tmp_path) as engine:
            conn = engine.connection()
            try:
                service = (
                    conn.system_service()
                    .openstack_network_providers_service()
                    .provider_service(registered.id)
                )
                service.test_connectivity()
                assert name in [n.name for n in service.networks_service().list()]
            finally:
                conn.close()
