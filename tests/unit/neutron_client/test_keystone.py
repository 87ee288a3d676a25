"""Keystone through keystoneauth1: v3 and v2.0 logins, the token reused, renewed before it expires and once
after a 401, Neutron found in the catalog, and each way it fails."""

from __future__ import annotations

import datetime

import pytest
from keystoneauth1 import exceptions as ksa_exc

from neutrino.neutron_client import (
    AuthFailed,
    Credentials,
    Endpoint,
    InvalidEndpoint,
    KeystoneError,
    NeutronClient,
)
from tests.support.canned import Canned
from tests.support.neutron_transport import Call

from .fake_cloud import KEYSTONE, NEUTRON, PASSWORD, FakeCloud

NETWORKS = Canned(body={"networks": [{"id": "n1", "name": "red"}]})


@pytest.fixture
def cloud() -> FakeCloud:
    cloud = FakeCloud()
    cloud.on("GET", "/networks", NETWORKS)
    return cloud


def test_v3_login_once_then_the_token_is_reused(cloud: FakeCloud) -> None:
    client, adapter = cloud.client(
        Endpoint(
            url=NEUTRON,
            credentials=Credentials(
                f"{KEYSTONE}/v3",
                "alice",
                PASSWORD,
                "demo",
                user_domain_name="Users",
                project_domain_name="Ops",
            ),
        )
    )
    client.list_networks()
    client.list_networks()
    [login] = cloud.logins
    assert login == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "alice", "password": PASSWORD, "domain": {"name": "Users"}}},
            },
            "scope": {"project": {"name": "demo", "domain": {"name": "Ops"}}},
        }
    }
    assert [c.token for c in cloud.neutron_calls(adapter)] == ["tok-1", "tok-1"]


def test_a_refused_token_is_renewed_once(cloud: FakeCloud) -> None:
    client, adapter = cloud.client()
    client.list_networks()
    cloud.revoke()  # e.g. the provider restarted
    assert [n.id for n in client.list_networks()] == ["n1"]
    assert len(cloud.logins) == 2
    assert [c.token for c in cloud.neutron_calls(adapter)] == ["tok-1", "tok-1", "tok-2"]


def test_a_token_neutron_keeps_refusing_is_an_error_not_a_loop(cloud: FakeCloud) -> None:
    client, adapter = cloud.client()
    cloud.accept_tokens = False
    with pytest.raises(AuthFailed, match=r"^authentication failed \(HTTP 401\): The request you have made"):
        client.list_networks()
    assert len(cloud.logins) == 2 and len(cloud.neutron_calls(adapter)) == 2


def test_a_token_about_to_expire_is_renewed_before_use(cloud: FakeCloud) -> None:
    cloud.token_life = datetime.timedelta(seconds=60)  # keystoneauth renews when less than 120 s are left
    client, _ = cloud.client()
    client.list_networks()
    client.list_networks()
    assert len(cloud.logins) == 2


def test_wrong_credentials(cloud: FakeCloud) -> None:
    client, adapter = cloud.client(
        Endpoint(url=NEUTRON, credentials=Credentials(f"{KEYSTONE}/v3", "alice", "wrong", "demo"))
    )
    with pytest.raises(AuthFailed, match=r"HTTP 401 from Keystone\): check user, password and project") as e:
        client.list_networks()
    assert isinstance(e.value.__cause__, ksa_exc.Unauthorized)
    assert cloud.neutron_calls(adapter) == []


def test_v2_0_login(cloud: FakeCloud) -> None:
    client, adapter = cloud.client(
        Endpoint(url=NEUTRON, credentials=Credentials(f"{KEYSTONE}/v2.0/", "alice", PASSWORD, "demo"))
    )
    client.list_networks()
    assert adapter.calls[0].url == f"{KEYSTONE}/v2.0/tokens"
    assert cloud.logins == [
        {"auth": {"passwordCredentials": {"username": "alice", "password": PASSWORD}, "tenantName": "demo"}}
    ]
    assert cloud.neutron_calls(adapter)[0].token == "tok-1"


@pytest.mark.parametrize(
    ("interface", "url"), [("public", f"{NEUTRON}/v2.0/networks"), ("internal", "http://neutron.internal:9696/v2.0/networks")]
)  # fmt: skip
def test_neutron_is_found_in_the_catalog(cloud: FakeCloud, interface: str, url: str) -> None:
    credentials = Credentials(f"{KEYSTONE}/v3", "alice", PASSWORD, "demo")
    client, adapter = cloud.client(Endpoint(credentials=credentials, interface=interface))
    client.list_networks()
    client.list_networks()
    assert [c.url for c in cloud.neutron_calls(adapter)] == [url, url]


@pytest.mark.parametrize(
    ("catalog", "text"),
    [
        ([{"type": "identity", "name": "keystone", "endpoints": [{"interface": "public", "url": KEYSTONE}]}],
         "public endpoint for network service not found"),
        ([], "The service catalog is empty"),
    ],
)  # fmt: skip
def test_a_catalog_without_neutron(cloud: FakeCloud, catalog: list[dict[str, object]], text: str) -> None:
    cloud.catalog = catalog
    client, _ = cloud.client(Endpoint(credentials=Credentials(f"{KEYSTONE}/v3", "alice", PASSWORD, "demo")))
    with pytest.raises(
        KeystoneError,
        match=f"^Keystone's catalog at http://keystone.test:5000/v3 has no network endpoint: {text}",
    ):
        client.list_networks()


def test_keystone_failing_otherwise_is_no_authentication_failure(cloud: FakeCloud) -> None:
    def broken(call: Call) -> Canned:
        if call.url.startswith(KEYSTONE):
            return Canned(500, {"error": {"code": 500, "message": "database gone"}})
        return cloud(call)

    client, adapter = cloud.client()
    adapter.handler = broken
    with pytest.raises(KeystoneError, match="InternalServerError: database gone") as e:
        client.list_networks()
    assert not isinstance(e.value, AuthFailed)


def test_endpoints_that_cannot_work() -> None:
    with pytest.raises(InvalidEndpoint, match="'http://k:5000/identity' ends neither in /v3 nor in /v2.0"):
        NeutronClient(Endpoint(url=NEUTRON, credentials=Credentials("http://k:5000/identity", "a", "b")))
    with pytest.raises(ValueError, match="needs a url or credentials"):
        NeutronClient(Endpoint())
    with pytest.raises(InvalidEndpoint, match="the CA file '/nonexistent.pem' cannot be used"):
        NeutronClient(Endpoint(url="https://neutron.test", ca_file="/nonexistent.pem"))


def test_the_password_stays_out_of_reprs() -> None:
    endpoint = Endpoint(url=NEUTRON, credentials=Credentials(f"{KEYSTONE}/v3", "alice", PASSWORD, "demo"))
    assert PASSWORD not in repr(endpoint)
