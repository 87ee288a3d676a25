"""The ``libvirt`` VM backend: writes each VM's domain XML to ``DATA_DIR/domains/<vm>.xml``.

It defines nothing in libvirt (there is no libvirtd here); the file is what a VDSM host would
pass to ``virDomainCreateXML``. Host devices (taps) are libvirt's to create, so ``attach`` and
``detach`` only rewrite the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from neutrino.agent.vm.base import AttachedNic, VmBackend
from neutrino.agent.vm.domain_xml import domain_xml
from neutrino.agent_api.schema import VmSpec


class LibvirtBackend(VmBackend):
    """Domain XML files, one per running VM."""

    name = "libvirt"

    def path(self, vm: VmSpec) -> Path:
        return self.context.data_dir / "domains" / f"{vm.vm_id}.xml"

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "domains_dir": str(self.context.data_dir / "domains")}

    def create(self, vm: VmSpec) -> None:
        self.path(vm).parent.mkdir(parents=True, exist_ok=True)

    def attach(self, vm: VmSpec, nic: AttachedNic) -> None:
        return None

    def detach(self, vm: VmSpec, nic: AttachedNic) -> None:
        return None

    def start(self, vm: VmSpec, nics: list[AttachedNic]) -> None:
        path = self.path(vm)
        path.parent.mkdir(parents=True, exist_ok=True)
        ordered = [n.spec for n in sorted(nics, key=lambda n: n.slot)]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(domain_xml(vm, ordered, self.context.integration_bridge))
        os.replace(tmp, path)

    def destroy(self, vm: VmSpec) -> None:
        self.path(vm).unlink(missing_ok=True)
