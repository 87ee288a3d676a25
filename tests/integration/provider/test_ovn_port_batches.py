"""Concurrent port requests on the OVN backend: their northbound writes are grouped (one transaction
for the requests that arrive while one is written, ``backend._GroupCommit``), and still each request
answers only once its own port is in the northbound, as its request wrote it."""

# ruff: noqa: F811 (the fixtures api and nb, imported, are the tests' parameters)
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.integration.provider.conftest import Api
from tests.integration.provider.test_ovn_backend import api, as_list, lsp, nb  # noqa: F401 (api, nb: fixtures)
from tests.support.ovn_central import NorthboundServer


def members(nb: NorthboundServer, group: str) -> set[str]:
    (row,) = [r for r in nb.rows("Port_Group") if r["name"] == group]
    uuids = set(as_list(row["ports"]))
    return {r["name"] for r in nb.rows("Logical_Switch_Port") if r["_uuid"] in uuids}


def test_concurrent_creates_updates_and_deletes_each_answer_once_written(
    api: Api, nb: NorthboundServer
) -> None:
    network = api.network()
    api.subnet(network["id"], "10.9.0.0/24")
    api.port(network["id"])  # the project's default group made, alone

    def create(n: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        port = api.port(network["id"], name=f"p{n}", **{"binding:host_id": f"host-{n % 2}"})
        return port, lsp(nb, port["id"])  # read by another client right after the answer

    with ThreadPoolExecutor(12) as pool:
        made = list(pool.map(create, range(24)))
    for port, row in made:
        assert row is not None, f"port {port['name']} answered before its LSP was written"
        ip = port["fixed_ips"][0]["ip_address"]
        assert as_list(row["addresses"]) == [f"{port['mac_address']} {ip}"]
        assert row["options"] == {"requested-chassis": port["binding:host_id"]}
        assert row["external_ids"]["neutron:port_name"] == port["name"]
    ids = {p["id"] for p, _ in made}
    assert ids <= members(nb, "neutron_pg_drop")
    group = "pg_" + made[0][0]["security_groups"][0].replace("-", "_")
    assert ids <= members(nb, group)

    def rename(port: dict[str, Any]) -> dict[str, Any] | None:
        api.ok(api.c.put(f"/v2.0/ports/{port['id']}", json={"port": {"name": port["name"] + "b"}}))
        return lsp(nb, port["id"])

    with ThreadPoolExecutor(12) as pool:
        rows = list(pool.map(rename, [p for p, _ in made]))
    assert [r["external_ids"]["neutron:port_name"] for r in rows if r] == [f"p{n}b" for n in range(24)]

    def delete(port: dict[str, Any]) -> dict[str, Any] | None:
        api.ok(api.c.delete(f"/v2.0/ports/{port['id']}"), 204)
        return lsp(nb, port["id"])

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(delete, [p for p, _ in made])) == [None] * 24
    assert not ids & members(nb, "neutron_pg_drop")
