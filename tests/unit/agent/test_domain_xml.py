"""The libvirt domain XML: golden files, and libvirt's own schema (``virt-xml-validate``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.vm.domain_xml import domain_xml
from neutrino.agent_api.schema import VmSpec
from tests.conftest import _require

from .helpers import NET_A, ext_nic, int_nic

GOLDEN = Path(__file__).parent / "golden"
VM_UUID = "6f1c2a54-1d0e-4b5e-9a2c-3b7f0e1d2c3a"

CASES: dict[str, list[dict[str, Any]]] = {
    # LINUX_BRIDGE: tap<port[:11]> on brq<net[:11]>
    "linux_bridge": [ext_nic(1) | {"mtu": 1450}],
    # OPEN_VSWITCH without groups: br-int + virtualport interfaceid=<port>
    "open_vswitch": [ext_nic(2, plugin_type="OPEN_VSWITCH")],
    # OPEN_VSWITCH with groups: the hybrid plug on qbr<port[:11]>
    "ovs_hybrid": [
        ext_nic(3, plugin_type="OPEN_VSWITCH", security_groups=["45361d2f-4c45-4b85-8ed1-32f028495c8b"])
    ],
    # an internal network's bridge, and a mix of everything
    "internal": [int_nic(4, "ovirtmgmt")],
    "mixed": [
        ext_nic(1),
        ext_nic(2, plugin_type="OPEN_VSWITCH", security_groups=[]),
        ext_nic(3, plugin_type="OPEN_VSWITCH", security_groups=["sg"]),
        int_nic(4, "red", bridge="br-red"),
    ],
}


def render(case: str) -> str:
    return domain_xml(VmSpec.model_validate({"vm_id": VM_UUID, "name": f"vm-{case}", "nics": CASES[case]}))


@pytest.mark.parametrize("case", sorted(CASES))
def test_domain_xml_matches_the_golden_file(case: str) -> None:
    path = GOLDEN / f"{case}.xml"
    if os.environ.get("NEUTRINO_REGOLD") == "1":
        path.write_text(render(case))
    assert render(case) == path.read_text()


def test_the_golden_files_wire_each_plugin_type_like_the_openstacknet_hook() -> None:
    lb = (GOLDEN / "linux_bridge.xml").read_text()
    ovs = (GOLDEN / "open_vswitch.xml").read_text()
    hybrid = (GOLDEN / "ovs_hybrid.xml").read_text()
    port = ext_nic(1)["external"]["vnic_id"]
    assert f'<target dev="tap{port[:11]}"/>' in lb and f'<source bridge="brq{NET_A[:11]}"/>' in lb
    port2 = ext_nic(2)["external"]["vnic_id"]
    assert '<source bridge="br-int"/>' in ovs and f'<parameters interfaceid="{port2}"/>' in ovs
    assert 'type="openvswitch"' in ovs
    port3 = ext_nic(3)["external"]["vnic_id"]
    assert f'<source bridge="qbr{port3[:11]}"/>' in hybrid and "virtualport" not in hybrid


def _validator() -> str:
    tool = shutil.which("virt-xml-validate")
    _require(
        None
        if tool and shutil.which("xmllint")
        else "virt-xml-validate/xmllint missing (Debian libvirt-clients, libxml2-utils)"
    )
    assert tool is not None
    return tool


def test_every_golden_file_is_a_valid_libvirt_domain() -> None:
    tool = _validator()
    for path in sorted(GOLDEN.glob("*.xml")):
        proc = subprocess.run([tool, str(path), "domain"], capture_output=True, text=True)
        assert proc.returncode == 0, f"{path.name}: {proc.stdout}{proc.stderr}"


def test_the_validator_does_reject_an_invalid_domain(tmp_path: Path) -> None:
    tool = _validator()
    bad = tmp_path / "bad.xml"
    bad.write_text(render("linux_bridge").replace("<model ", "<modle "))
    assert subprocess.run([tool, str(bad), "domain"], capture_output=True).returncode != 0


def test_an_agent_configured_with_another_integration_bridge_wires_ovs_vnics_there() -> None:
    vm = VmSpec.model_validate({"vm_id": VM_UUID, "name": "vm", "nics": CASES["mixed"]})
    xml = domain_xml(vm, integration_bridge="br-vm")
    assert '<source bridge="br-vm"/>' in xml and "br-int" not in xml
