"""Seeding for bench/ui_topology.py: a `neutrino up` (in-memory datapath) filled fast with N VMs on H hosts and M
networks. The provider through its Neutron API (networks with a subnet each, every vNIC's port in bulk, bound to
its host, one agent report per host marking its ports ACTIVE with its tunnel address); the engine's store with
plain SQL (the hosts, the networks imported with their profiles, the VMs, 90 % of them up, two vNICs each bound
to those ports). The engine's host monitor is off (its hosts are made up), so nothing changes under a bench."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from tests.support.servers import free_port, neutrino_process

from neutrino.engine.domain.macpool import int_to_mac
from neutrino.engine.domain.provisioning import NicState, Provisioning, Step
from neutrino.engine.store import tables
from neutrino.engine.store.database import create_engine
from neutrino.neutron_client import AgentReport, PortStatus

PASSWORD = "bench"
BLANK_TEMPLATE = "00000000-0000-0000-0000-000000000000"
AGENT_TYPE = "Linux bridge agent"


class Provider:
    """The embedded provider's Neutron API as its admin."""

    def __init__(self, url: str) -> None:
        auth = httpx.post(
            f"{url}/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {"name": "admin", "domain": {"id": "default"}, "password": PASSWORD}
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                }
            },
        )
        auth.raise_for_status()
        self.http = httpx.Client(
            base_url=f"{url}/v2.0", timeout=120, headers={"X-Auth-Token": auth.headers["X-Subject-Token"]}
        )

    def bulk(self, collection: str, items: list[dict[str, Any]], chunk: int = 250) -> list[dict[str, Any]]:
        made = []
        for i in range(0, len(items), chunk):
            r = self.http.post(f"/{collection}", json={collection: items[i : i + chunk]})
            assert r.status_code == 201, r.text
            made += r.json()[collection]
        return made

    def report(self, host: str, tunnel_ip: str, statuses: list[tuple[str, str]]) -> None:
        report = AgentReport(
            host=host,
            agent_type=AGENT_TYPE,
            configurations={"tunneling_ip": tunnel_ip, "tunnel_types": ["vxlan"]},
            ports=tuple(PortStatus(p, s) for p, s in statuses),
        )
        r = self.http.post("/agent-reports", json={"agent_report": report.to_json()})
        assert r.status_code < 300, r.text


def seed(engine_db: Path, provider: Provider, vms: int, networks: int, hosts: int) -> None:
    db = create_engine(f"sqlite:///{engine_db}")
    with db.connect() as conn:
        ids = {
            "provider": conn.execute(sa.select(tables.providers.c.id)).scalar_one(),
            "cluster": conn.execute(
                sa.select(tables.clusters.c.id).where(tables.clusters.c.name == "Default")
            ).scalar_one(),
            "dc": conn.execute(
                sa.select(tables.data_centers.c.id).where(tables.data_centers.c.name == "Default")
            ).scalar_one(),
        }
    nets = provider.bulk("networks", [{"name": f"bench-net-{i:02d}"} for i in range(networks)])
    provider.bulk(
        "subnets",
        [
            {"network_id": n["id"], "cidr": f"10.{100 + i // 100}.{i % 100}.0/24", "ip_version": 4}
            for i, n in enumerate(nets)
        ],
    )
    host_names = [f"bench-host-{h}" for h in range(hosts)]
    plan = []  # (vm index, nic name, nic id, mac, provider network, host or None)
    for i in range(vms):
        host = None if i % 10 == 0 else host_names[i % hosts]
        # consecutive VMs run on different hosts and share their first network: each network spans hosts
        for k, net in ((1, (i // hosts) % networks), (2, (i * 7 + 3) % networks)):
            plan.append(
                (i, f"nic{k}", str(uuid.uuid4()), int_to_mac(0x02BB00000000 + 2 * i + k), nets[net], host)
            )
    ports = provider.bulk(
        "ports",
        [
            {
                "network_id": net["id"],
                "mac_address": mac,
                "name": name,
                "device_id": nic_id,
                "device_owner": "oVirt",
                **({"binding:host_id": host} if host else {}),
            }
            for _, name, nic_id, mac, net, host in plan
        ],
    )
    port_of = {p["device_id"]: p for p in ports}
    for h, name in enumerate(host_names):
        mine = [(port_of[nic_id]["id"], "ACTIVE") for _, _, nic_id, _, _, host in plan if host == name]
        provider.report(name, f"192.0.2.{h + 1}", mine)

    now = datetime.now(UTC)
    host_rows = [
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "address": "127.0.0.1",
            "port": 9,
            "cluster_id": ids["cluster"],
            "status": "up",
            "capabilities": {
                "host_name": name,
                "tunnel_ip": f"192.0.2.{h + 1}",
                "plugin_types": {
                    "LINUX_BRIDGE": {
                        "driver": "noop",
                        "binding_host_id": name,
                        "network_types": ["*"],
                        "security_groups": True,
                    }
                },
            },
            "last_seen": now,
        }
        for h, name in enumerate(host_names)
    ]
    host_id = {r["name"]: r["id"] for r in host_rows}
    net_rows, profile_rows = [], []
    profile_of: dict[str, str] = {}
    for n in nets:
        net_id, profile_id = str(uuid.uuid4()), str(uuid.uuid4())
        net_rows.append(
            {
                "id": net_id,
                "name": n["name"],
                "data_center_id": ids["dc"],
                "mtu": 1450,
                "usages": ["vm"],
                "provider_id": ids["provider"],
                "provider_network_id": n["id"],
            }
        )
        profile_rows.append(
            {
                "id": profile_id,
                "name": n["name"],
                "network_id": net_id,
                "port_mirroring": False,
                "pass_through": False,
                "migratable": False,
                "public": True,
                "custom_properties": {},
            }
        )
        profile_of[n["id"]] = profile_id
    vm_rows = []
    vm_ids = [str(uuid.uuid4()) for _ in range(vms)]
    for i, vm_id in enumerate(vm_ids):
        host = None if i % 10 == 0 else host_names[i % hosts]
        vm_rows.append(
            {
                "id": vm_id,
                "name": f"bench-vm-{i:04d}",
                "cluster_id": ids["cluster"],
                "template_id": BLANK_TEMPLATE,
                "memory": 1 << 30,
                "status": "up" if host else "down",
                "host_id": host_id[host] if host else None,
                "creation_time": now,
                "start_time": now if host else None,
            }
        )
    stamp = now.isoformat(timespec="milliseconds")
    nic_rows = []
    for i, name, nic_id, mac, net, host in plan:
        port = port_of[nic_id]
        steps = (Step("port created", stamp), Step("bound", stamp, host or ""), Step("plugged", stamp))
        record = Provisioning(
            state=NicState.PLUGGED if host else NicState.UNPLUGGED,
            steps=steps if host else (*steps, Step("unplugged", stamp)),
            port_id=port["id"],
            provider_status="ACTIVE" if host else "DOWN",
            binding_host=host,
        )
        nic_rows.append(
            {
                "id": nic_id,
                "name": name,
                "vm_id": vm_ids[i],
                "mac": mac,
                "interface": "virtio",
                "linked": True,
                "plugged": True,
                "vnic_profile_id": profile_of[net["id"]],
                "port_provider_id": ids["provider"],
                "port_id": port["id"],
                "port_network_id": net["id"],
                "provisioning": record,
            }
        )
    with db.begin() as conn:
        conn.execute(sa.insert(tables.hosts), host_rows)
        conn.execute(sa.insert(tables.networks), net_rows)
        conn.execute(sa.insert(tables.vnic_profiles), profile_rows)
        conn.execute(
            sa.insert(tables.network_attachments),
            [
                {
                    "id": str(uuid.uuid4()),
                    "network_id": r["id"],
                    "cluster_id": ids["cluster"],
                    "required": False,
                    "display": False,
                    "migration": False,
                }
                for r in net_rows
            ],
        )
        conn.execute(sa.insert(tables.vms), vm_rows)
        conn.execute(sa.insert(tables.vm_nics), nic_rows)
    db.dispose()


@contextmanager
def seeded_neutrino(directory: Path, vms: int, networks: int, hosts: int) -> Iterator[str]:
    """A seeded `neutrino up` on 127.0.0.1; yields the engine's base URL."""
    engine_port, provider_port, agent_port = free_port(), free_port(), free_port()
    args = [
        "up",
        "--data-dir",
        str(directory / "data"),
        "--engine-listen",
        f"127.0.0.1:{engine_port}",
        "--provider-listen",
        f"127.0.0.1:{provider_port}",
        "--agent-listen",
        f"127.0.0.1:{agent_port}",
        "--datapath",
        "memory",
    ]
    base = f"http://127.0.0.1:{engine_port}"
    env = {"NEUTRINO_ADMIN_PASSWORD": PASSWORD, "NEUTRINO_HOST_MONITOR_INTERVAL": "3600",
           "NEUTRINO_INSECURE_HTTP": "1"}  # fmt: skip
    with neutrino_process(args, f"{base}/ovirt-engine/api", directory / "up.log", env=env):
        seed(
            directory / "data" / "engine" / "engine.db",
            Provider(f"http://127.0.0.1:{provider_port}"),
            vms,
            networks,
            hosts,
        )
        yield base
