"""A provider over HTTPS whose CA the engine does not trust until it is imported with importcertificates."""

from __future__ import annotations

from typing import Any

import ovirtsdk4.types as types

from tests.e2e.providers.conftest import TlsProvider
from tests.e2e.providers.helpers import add_provider, refused, unique


def test_certificates_are_imported_then_trusted(tls_provider: TlsProvider, system: Any) -> None:
    assert tls_provider.pki is not None
    member = tls_provider.new_member()
    name = unique("tls-net")
    with tls_provider.neutron(member) as neutron:
        neutron.post("/networks", json={"network": {"name": name}}).raise_for_status()
    registered = add_provider(system, tls_provider, member)
    service = system.openstack_network_providers_service().provider_service(registered.id)

    code, detail = refused(service.test_connectivity)
    assert code == 400
    assert "Failed to communicate with the external provider" in detail
    assert "TLS" in detail and "certificate verify failed" in detail, detail
    code, detail = refused(lambda: service.networks_service().list())
    assert "certificate verify failed" in detail, detail

    presented = service.certificates_service().list()
    assert [c.content.strip() for c in presented] == [
        tls_provider.pki.server_pem.strip(),
        tls_provider.pki.ca_pem.strip(),
    ]
    assert presented[0].subject and "CN=127.0.0.1" in presented[0].subject
    assert presented[1].organization == "Neutrino Test CA"

    service.import_certificates(certificates=[types.Certificate(content=presented[-1].content)])
    service.test_connectivity()
    assert name in [n.name for n in service.networks_service().list()]


def test_importing_an_unrelated_certificate_does_not_trust_the_endpoint(
    tls_provider: TlsProvider, system: Any, tmp_path: Any
) -> None:
    from tests.support.pki import make_pki

    other = make_pki(tmp_path)
    registered = add_provider(system, tls_provider, tls_provider.new_member())
    service = system.openstack_network_providers_service().provider_service(registered.id)
    service.import_certificates(certificates=[types.Certificate(content=other.ca_pem)])
    code, detail = refused(service.test_connectivity)
    assert code == 400 and "certificate verify failed" in detail, detail
    code, detail = refused(
        lambda: service.import_certificates(certificates=[types.Certificate(content="not a certificate")])
    )
    assert code == 400


def test_importing_only_the_endpoint_certificate_is_enough(tls_provider: TlsProvider, system: Any) -> None:
    """As in oVirt (Java trusts an imported end-entity certificate as an anchor): importing the first certificate
    of the presented chain, not its CA, makes the endpoint trusted."""
    registered = add_provider(system, tls_provider, tls_provider.new_member())
    service = system.openstack_network_providers_service().provider_service(registered.id)
    leaf = service.certificates_service().list()[0]
    assert "CN=127.0.0.1" in (leaf.subject or "")
    service.import_certificates(certificates=[types.Certificate(content=leaf.content)])
    service.test_connectivity()
