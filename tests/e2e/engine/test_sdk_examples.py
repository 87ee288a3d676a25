"""The examples shipped in the ovirt-engine-sdk-python 4.6.3 source distribution, run unmodified but for their
``sdk.Connection(...)`` arguments (URL, user, password, no CA: the engine answers plain HTTP on 127.0.0.1),
against `neutrino engine` and an agent host.

The sdist is fetched from PyPI at test time (``pip download --no-binary :all:``) into the session's temporary
directory; nothing of it is vendored. The examples run in order, each as its own process in one working
directory, the way their names chain (mydc → mycluster → mynetwork → myvm); the harness seeds only what no
example makes: host ``myhost``, the agent, in ``mycluster``. ``poll_events.py`` runs under a timeout in its own
test while events happen.

Run (touching data centers, clusters, networks, vNIC profiles, hosts, VMs, NICs, snapshots, events, search,
paging and links): see ``EXAMPLES`` and ``poll_events.py``.

Left out, with the reason:

- storage and disks, which Neutrino does not have: add_disks, add_floating_disk, add_vm_disk,
  add_lun_disk_to_vm, add_iscsi_data_storage_domain, add_nfs_data_storage_domain, add_nfs_iso_storage_domain,
  attach_nfs_data_storage_domain, attach_nfs_iso_storage_domain, change_master, data_center_maintenance (puts
  storage domains into maintenance), deactivate_disk_attachment, delete_disks, download_disk,
  download_disk_snapshot, extend_disk, reduce_disk, sparsify_disk, checksum_disk, checksum_image, upload_disk,
  upload_from_ova, upload_ova_as_vm_or_template, image_transfer, cancel_transfer, backup_vm, vm_backup,
  checkpoints, list_disk_snapshots, list_vm_disks, list_storage_domains, set_vm_lease_storage_domain,
  register_vm, import_vm, import_vm_from_ova, import_vm_from_vmware, import_template_from_ova, export_vm,
  export_vm_as_ova, export_template, export_template_as_ova, download_vm_ovf, clone_vm_from_snapshot,
  change_vm_cd (an ISO domain);
- templates other than Blank (made from a VM's disks): add_template, add_vm_from_template_version,
  add_independet_vm, add_vm_with_sysprep (`mytemplate`), add_vm_pool and reprovision_stateless_vm_in_pool
  (pools of a template);
- a guest's boot media and consoles, which need disks or graphics devices: start_vm_with_cloud_init,
  start_vm_with_boot_devices, add_vnc_console, get_display_ticket, remove_numa_nodes_from_vm;
- entities Neutrino does not have: tags (add_tag, assign_tag_to_vm, list_tags, list_tags_of_vm, remove_tag,
  unassign_tag_to_vm), affinity labels (add_affinity_label, assign_affinity_label_to_vm,
  list_affinity_labels), users, groups and permissions (add_role, list_roles, assign_permission,
  assign_permission_to_vms, add_group, add_user_ssh_public_key), instance types (add_instance_type),
  quotas (update_quota_limits), image providers (add_openstack_image_provider, import_glance_image,
  list_glance_images), host NIC bonds (add_bond), fencing agents (add_fence_agent, update_fencing_options),
  host upgrades (upgrade_host), writable MAC pools (add_mac_pool: the engine has one, read-only);
- change_host_cluster: it polls every 5 s around a maintenance and an activation, ten seconds of sleep for
  what remove_host (maintenance, then removal) and the engine's own tests already cover;
- add_host: it enrolls `node40.example.com` with root password `redhat123`, which only a change beyond the
  connection could point at an agent (the harness seeds `myhost` instead);
- connection_builder (a ConnectionBuilder, not a Connection) and fix_dup_nic_macs (Python 2's
  ``dict.iteritems``, and it asks for the password on the terminal).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ovirtsdk4.types as types
import pytest

from tests.e2e.providers.conftest import ENGINE_PASSWORD, Engine, run_engine
from tests.support.servers import RunningAgent

SDIST = "ovirt-engine-sdk-python==4.6.3"
USER = "admin@internal"
SLEEPY = 60  # seconds an example that polls (time.sleep(5) between reads) may take

# in order: each may use what the ones before made
EXAMPLES = (
    "test_connection.py",
    "show_summary.py",
    "disable_compression.py",
    "add_data_center.py",
    "update_data_center.py",
    "add_cluster.py",
    "add_logical_network.py",
    "assign_network_to_cluster.py",
    "list_cluster_networks.py",
    "seed: myhost",
    "list_host_statistics.py",
    "add_vm.py",
    "add_vm_nic.py",
    "pin_vm.py",
    "enable_serial_console.py",
    "set_vm_serial_number.py",
    "add_vm_snapshot.py",
    "list_vm_snapshots.py",
    "list_vms.py",
    "search_vms.py",
    "page_vms.py",
    "follow_vm_links.py",
    "print_vm_mac_duplicates.py",
    "asynchronous_inventory.py",
    "get_vm_ip.py",
    "start_vm.py",
    "stop_vm.py",
    "remove_vm.py",
    "remove_host.py",
)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist's examples/ directory, downloaded from PyPI now."""
    cache = tmp_path_factory.mktemp("sdk-sdist")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            SDIST,
            "--no-binary",
            ":all:",
            "--no-deps",
            "-d",
            str(cache),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    [archive] = sorted(cache.glob("*.tar.gz")) or [None]
    assert done.returncode == 0 and archive is not None, f"pip download {SDIST} failed:\n{done.stderr}"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/examples/" in m.name and m.isfile()]
        tar.extractall(cache, members=members, filter="data")
    [found] = list(cache.glob("*/examples"))
    return found


@pytest.fixture(scope="module")
def examples_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with run_engine("sqlite", tmp_path_factory.mktemp("engine-examples")) as running:
        yield running


def connected(source: str, url: str) -> str:
    """The example with each ``sdk.Connection(...)``'s URL, user, password and CA replaced (its other
    arguments, such as ``debug``, ``log`` or ``connections``, kept)."""
    tree = ast.parse(source)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Connection"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "sdk"
    ]
    assert calls, "no sdk.Connection(...) in the example"
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    raw = source.encode()
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset), reverse=True):
        kept = [
            ast.get_source_segment(source, kw)
            for kw in call.keywords
            if kw.arg not in ("url", "username", "password", "ca_file", "insecure")
        ]
        args = [f"url={url!r}", f"username={USER!r}", f"password={ENGINE_PASSWORD!r}", *kept]
        start = offsets[call.lineno - 1] + call.col_offset
        end = offsets[call.end_lineno - 1] + call.end_col_offset  # type: ignore[operator]
        raw = raw[:start] + f"sdk.Connection({', '.join(a for a in args if a)})".encode() + raw[end:]
    return raw.decode()


def run_example(examples: Path, workdir: Path, name: str, url: str) -> str:
    script = workdir / name
    script.write_text(connected((examples / name).read_text(), url))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=SLEEPY
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


def seed_host(engine: Engine, agent: RunningAgent) -> None:
    """What add_host.py would make, on the agent: host `myhost` in `mycluster`."""
    conn = engine.connection()
    try:
        conn.system_service().hosts_service().add(
            types.Host(
                name="myhost",
                address="127.0.0.1",
                port=agent.port,
                root_password=agent.token,
                cluster=types.Cluster(name="mycluster"),
            )
        )
    finally:
        conn.close()


def test_the_sdk_examples_run_against_the_engine(
    examples: Path, examples_engine: Engine, host_agent: RunningAgent, tmp_path: Path
) -> None:
    engine = examples_engine
    outputs: dict[str, str] = {}
    timings: dict[str, float] = {}
    for name in EXAMPLES:
        started = time.monotonic()
        if name == "seed: myhost":
            seed_host(engine, host_agent)
        else:
            outputs[name] = run_example(examples, tmp_path, name, engine.url)
        timings[name] = round(time.monotonic() - started, 2)
    print("example timings (s):", timings)

    assert outputs["test_connection.py"].strip() == "Connection works."
    assert "mydc: Updated description" in outputs["update_data_center.py"]
    assert "name: mynetwork" in outputs["list_cluster_networks.py"]
    assert "myvm" in outputs["search_vms.py"] and "myvm" in outputs["page_vms.py"]
    assert "cluster: mycluster" in outputs["follow_vm_links.py"]
    assert "template: Blank" in outputs["follow_vm_links.py"]
    assert "Loaded 1 VMs." in outputs["asynchronous_inventory.py"]
    assert "MAC address" not in outputs["print_vm_mac_duplicates.py"]
    check_left_behind(engine)


def check_left_behind(engine: Engine) -> None:
    """The examples' own traces: mydc with its cluster and network, no VM and no host any more."""
    conn = engine.connection()
    try:
        system = conn.system_service()
        [dc] = system.data_centers_service().list(search="name=mydc")
        assert dc.description == "Updated description"
        [cluster] = system.clusters_service().list(search="name=mycluster")
        assert cluster.cpu.type == "Intel Conroe Family"
        [network] = system.networks_service().list(search="name=mynetwork and datacenter=mydc")
        assert (network.vlan.id, network.mtu) == (100, 1500)
        assert system.vms_service().list(search="name=myvm") == []
        assert system.hosts_service().list(search="name=myhost") == []
    finally:
        conn.close()


def test_poll_events_follows_the_audit_log(examples: Path, examples_engine: Engine, tmp_path: Path) -> None:
    """poll_events.py prints the newest event, then every later one (``from=INDEX``), forever: it runs for a
    while, something happens meanwhile, and what it printed is read."""
    engine = examples_engine
    script = tmp_path / "poll_events.py"
    script.write_text(connected((examples / "poll_events.py").read_text(), engine.url))
    with open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-u", str(script)], cwd=tmp_path, stdout=out, stderr=subprocess.PIPE
        )
    try:
        time.sleep(2)
        conn: Any = engine.connection()
        try:
            conn.system_service().data_centers_service().add(types.DataCenter(name="polled", local=False))
        finally:
            conn.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            lines = (tmp_path / "out.txt").read_text().splitlines()
            if len(lines) >= 2:
                break
            time.sleep(0.5)
        assert proc.poll() is None, (
            f"poll_events.py died:\n{proc.stderr.read().decode() if proc.stderr else ''}"
        )
    finally:
        proc.terminate()
        proc.wait(10)
    lines = (tmp_path / "out.txt").read_text().splitlines()
    ids = [int(line.split(" - ", 1)[0]) for line in lines]
    # the newest event at its start, then (``from=`` its index) only newer ones, listed newest first as oVirt
    # lists them; the script keeps the index of the last one it printed
    assert len(ids) >= 2 and all(i > ids[0] for i in ids[1:]), lines
    assert any("polled" in line for line in lines[1:]), lines
    assert (tmp_path / "index.txt").read_text() == str(ids[-1])
