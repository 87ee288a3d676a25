"""The client over real sockets on 127.0.0.1: a refused connection, a slow answer, and TLS with a CA file
whose certificates are the only trust (a CA's or the server's own)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from neutrino.engine.domain.errors import ProviderFailure
from neutrino.engine.provider_clients.base import Tagging
from neutrino.engine.provider_clients.neutron import NeutronProvider
from neutrino.neutron_client import Endpoint, NeutronClient, Unreachable
from tests.support.canned import Canned, canned_server
from tests.support.pki import make_pki

NETWORKS = Canned(body={"networks": [{"id": "n1", "name": "red"}]})


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        client = NeutronClient(Endpoint(url=f"http://127.0.0.1:{port}"))
        with pytest.raises(Unreachable, match=f"^cannot connect to http://127.0.0.1:{port}/v2.0/networks"):
            client.list_networks()


def test_no_answer_in_time() -> None:
    with canned_server() as srv:
        srv.on("GET", "/v2.0/networks", Canned(body={"networks": []}, delay=1.5))
        client = NeutronClient(Endpoint(url=srv.url, read_timeout=0.5))
        with pytest.raises(
            Unreachable, match=r"^no answer from http://127.0.0.1:\d+/v2.0/networks within 0.5 s"
        ):
            client.list_networks()


@pytest.mark.parametrize("trusted", ["ca", "server"])
def test_tls_trusts_exactly_the_ca_file(tmp_path: Path, trusted: str) -> None:
    pki = make_pki(tmp_path)
    bundle = tmp_path / "trusted.pem"
    bundle.write_text(pki.ca_pem if trusted == "ca" else pki.server_pem)
    with canned_server(tls=pki) as srv:
        srv.on("GET", "/v2.0/networks", NETWORKS)
        with NeutronClient(Endpoint(url=srv.url, ca_file=str(bundle))) as client:
            assert [n.id for n in client.list_networks()] == ["n1"]


def test_tls_refuses_a_server_the_ca_file_does_not_vouch_for(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    with canned_server(tls=pki) as srv:
        srv.on("GET", "/v2.0/networks", NETWORKS)
        for endpoint in (Endpoint(url=srv.url), Endpoint(url=srv.url, ca_file=str(other.ca_file))):
            with pytest.raises(
                Unreachable, match=f"^TLS verification failed for {srv.url}: .*certificate verify failed"
            ):
                NeutronClient(endpoint).list_networks()
        assert srv.seen == []


@pytest.mark.parametrize("trusted", ["ca", "server"])
def test_tls_refuses_a_certificate_naming_another_host(tmp_path: Path, trusted: str) -> None:
    """Trusting the CA (or the server's own certificate, as an imported anchor) does not waive the host name
    check: a certificate for another host is refused at 127.0.0.1."""
    pki = make_pki(tmp_path, names=("provider.example",))
    bundle = tmp_path / "trusted.pem"
    bundle.write_text(pki.ca_pem if trusted == "ca" else pki.server_pem)
    with canned_server(tls=pki) as srv:
        srv.on("GET", "/v2.0/networks", NETWORKS)
        with pytest.raises(Unreachable, match=f"^TLS verification failed for {srv.url}: .*(mismatch|match)"):
            NeutronClient(Endpoint(url=srv.url, ca_file=str(bundle))).list_networks()
        assert srv.seen == []


def _extensions(*aliases: str) -> Canned:
    return Canned(body={"extensions": [{"alias": a, "name": a} for a in aliases]})


def test_the_engines_tagging_is_read_from_the_extensions_once_per_client() -> None:
    """Issue 18: how the engine's provider client tags ports, by what the provider lists; the answer kept
    (one GET), a provider refusing the call taking no tags, a failing one raising and keeping nothing."""
    cases = [
        (_extensions("standard-attr-tag", "tag-ports-during-bulk-creation"), Tagging.ON_CREATE),
        (_extensions("standard-attr-tag", "binding"), Tagging.AFTER_CREATE),
        (_extensions("binding"), Tagging.NONE),
        (None, Tagging.NONE),  # no /v2.0/extensions at all: 404
    ]
    for reply, expected in cases:
        with canned_server() as srv:
            if reply is not None:
                srv.on("GET", "/v2.0/extensions", reply)
            client = NeutronProvider(Endpoint(url=srv.url))
            assert (client.tagging(), client.tagging()) == (expected, expected)
            assert [s.path for s in srv.seen] == ["/v2.0/extensions"]
    with canned_server() as srv:
        srv.on("GET", "/v2.0/extensions", Canned(500, {"NeutronError": {"message": "boom"}}))
        client = NeutronProvider(Endpoint(url=srv.url))
        for _ in range(2):
            with pytest.raises(ProviderFailure, match="boom"):
                client.tagging()
        srv.on("GET", "/v2.0/extensions", _extensions("standard-attr-tag"))
        assert client.tagging() is Tagging.AFTER_CREATE
        srv.on("PUT", "/v2.0/ports/p1/tags/engine-a", Canned(201, None))
        client.tag_port("p1", "engine-a")
        assert srv.seen[-1].method == "PUT" and srv.seen[-1].path == "/v2.0/ports/p1/tags/engine-a"
