"""Ansible's real ovirt.ovirt modules (ansible 9.13.0: ovirt.ovirt 3.2.0 on ovirtsdk4 4.6.3) against the engine,
its embedded provider and an agent host: `site.yml` run twice — the second run changes nothing — then
`teardown.yml` removes it all. ansible-playbook runs as a subprocess (connection local, this interpreter for the
modules), its results read from the `json` stdout callback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4.types as types

from tests.e2e.ansible.conftest import AnsibleSite
from tests.e2e.lifecycle.helpers import Neutron

HERE = Path(__file__).parent
NAMES = {
    "dc": "ansible-dc",
    "cluster": "ansible-cluster",
    "provider": "ansible-provider",
    "network": "ansible-net",
    "profile": "ansible-secured",
    "host": "ansible-host",
    "vm": "ansible-vm",
}
MIB = 1024 * 1024


def playbook(site: AnsibleSite, tmp_path: Path, name: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Run one playbook; its `json` callback report (plays, tasks, per-host results, stats)."""
    variables = tmp_path / "vars.json"
    variables.write_text(
        json.dumps(
            {
                "engine_url": site.stack.engine_url,
                "engine_password": site.password,
                "provider_url": site.stack.provider_url,
                "provider_password": site.password,
                "host_address": site.host.address,
                "host_token": site.host.token,
                **NAMES,
                **extra,
            }
        )
    )
    inventory = tmp_path / "inventory"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    home = tmp_path / "ansible-home"
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PIPELINING": "1",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            "-e",
            f"@{variables}",
            str(HERE / name),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=tmp_path,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook {name} said:\n{done.stdout}\n{done.stderr}") from None
    failed = [
        f"{task['task']['name']}: {result.get('msg')}"
        for play in report["plays"]
        for task in play["tasks"]
        for result in task["hosts"].values()
        if result.get("failed")
    ]
    assert not failed and done.returncode == 0, f"{name} failed: {failed}\n{done.stderr[-3000:]}"
    return report


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    """Task name -> changed / ok / skipped, for the one host."""
    out = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            result = task["hosts"]["localhost"]
            state = "skipped" if result.get("skipped") else "changed" if result.get("changed") else "ok"
            out[task["task"]["name"]] = state
    return out


def provider_objects(site: AnsibleSite) -> dict[str, str]:
    """A network (with a subnet) and a security group on the provider, in the project the playbook registers
    the provider with (admin): what the playbook imports and puts on its vNIC profile."""
    neutron = Neutron(site.stack.provider_url)
    net = neutron.request("POST", "/v2.0/networks", json={"network": {"name": NAMES["network"]}})["network"]
    neutron.request(
        "POST",
        "/v2.0/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.77.0.0/24", "ip_version": 4}},
    )
    group = neutron.security_group(net["project_id"], "ansible-web")
    return {"provider_network": net["id"], "security_group": group}


def test_the_ovirt_modules_create_everything_then_change_nothing_then_remove_it(
    site: AnsibleSite, tmp_path: Path
) -> None:
    made = provider_objects(site)
    extra = {"security_group": made["security_group"]}

    first = outcomes(playbook(site, tmp_path, "site.yml", extra))
    for task in (
        "Data center",
        "Cluster",
        "The network provider",
        "Import the provider's network and attach it to the cluster",
        "Describe the imported network (its read-only fields sent back as they are)",
        "A vNIC profile with a security group",
        "The host (its agent's token as the root password)",
        "A VM from the Blank template with a NIC, running",
        "A second NIC, hot plugged",
    ):
        assert first[task] == "changed", (task, first)

    check_what_the_engine_keeps(site, made)

    second = playbook(site, tmp_path, "site.yml", extra)
    changed = {name: state for name, state in outcomes(second).items() if state != "ok"}
    assert changed == {}, f"the second run changed or skipped: {changed}"
    assert second["stats"]["localhost"]["changed"] == 0

    teardown = outcomes(playbook(site, tmp_path, "teardown.yml", {}))
    assert teardown["Stop the VM"] == "changed"
    for task, state in teardown.items():
        if task.startswith("Remove"):
            assert state == "changed", (task, teardown)
    check_all_gone(site)


def check_what_the_engine_keeps(site: AnsibleSite, made: dict[str, str]) -> None:
    """What the modules set reads back through the SDK as they set it, and the VM runs with its two vNICs."""
    conn = site.stack.connection()
    try:
        system = conn.system_service()
        [cluster] = system.clusters_service().list(search=f"name={NAMES['cluster']}")
        assert (cluster.ballooning_enabled, cluster.ksm.enabled, cluster.ksm.merge_across_nodes) == (
            True,
            True,
            True,
        )
        assert cluster.memory_policy.over_commit.percent == 150  # memory_policy: server
        assert cluster.fencing_policy.skip_if_connectivity_broken.threshold == 50
        assert str(cluster.switch_type) == "legacy" and str(cluster.firewall_type) == "firewalld"
        assert [str(s) for s in cluster.required_rng_sources] == ["urandom"]
        assert conn.follow_link(cluster.scheduling_policy).name == "none"
        pool = conn.follow_link(cluster.mac_pool)
        assert pool.default_pool and pool.ranges[0].from_ == "56:6f:aa:dd:00:00"

        [vm] = system.vms_service().list(search=f"name={NAMES['vm']}")
        assert vm.status == types.VmStatus.UP
        topology = vm.cpu.topology
        assert (topology.sockets, topology.cores, topology.threads) == (2, 2, 1)
        assert str(vm.cpu.mode) == "host_model" and str(vm.cpu.architecture) == "x86_64"
        assert vm.memory == 512 * MIB
        assert (vm.memory_policy.guaranteed, vm.memory_policy.max) == (256 * MIB, 1024 * MIB)
        assert vm.os.type == "other_linux" and str(vm.type) == "server"
        assert str(vm.placement_policy.affinity) == "user_migratable"
        [pinned] = vm.placement_policy.hosts
        [host] = system.hosts_service().list(search=f"name={NAMES['host']}")
        assert pinned.id == host.id == vm.host.id
        assert host.power_management.enabled is False and host.spm.priority == 5

        nics = system.vms_service().vm_service(vm.id).nics_service().list()
        assert sorted(n.name for n in nics) == ["nic1", "nic2"]
        [profile] = [p for p in system.vnic_profiles_service().list() if p.name == NAMES["profile"]]
        assert {n.vnic_profile.id for n in nics} == {profile.id}
        assert host_nics(site, vm.id) == {n.id for n in nics}
        neutron = Neutron(site.stack.provider_url)
        for nic in nics:
            [port] = neutron.ports(device_id=nic.id)
            assert port["network_id"] == made["provider_network"]
            assert port["security_groups"] == [made["security_group"]]
    finally:
        conn.close()


def host_nics(site: AnsibleSite, vm_id: str) -> set[str]:
    """The vNICs the agent host runs the VM with."""
    resp = httpx.get(
        f"http://{site.host.address}:54321/api/v1/vms",
        headers={"Authorization": f"Bearer {site.host.token}"},
        timeout=30.0,
    )
    resp.raise_for_status()
    [vm] = [v for v in resp.json()["vms"] if v["vm_id"] == vm_id]
    return {n["spec"]["nic_id"] for n in vm["nics"]}


def check_all_gone(site: AnsibleSite) -> None:
    conn = site.stack.connection()
    try:
        system = conn.system_service()
        for service in (
            system.data_centers_service(),
            system.clusters_service(),
            system.hosts_service(),
            system.vms_service(),
            system.networks_service(),
        ):
            left = [e.name for e in service.list() if e.name in NAMES.values()]
            assert left == [], left
        providers = system.openstack_network_providers_service().list()
        assert [p.name for p in providers if p.name == NAMES["provider"]] == []
    finally:
        conn.close()
