"""The rows of the topology picture that grow with the inventory (VMs and their vNICs), read as plain rows of
the columns the picture shows: one statement each, no entities, no identity map, and of a vNIC's provisioning
record only the three fields shown, picked out of its JSON by the database (parsing each record's steps cost
more than the rest together at 1,000 vNICs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from neutrino.engine.domain.provisioning import NicState
from neutrino.engine.store.tables import vm_nics, vms

STATES = frozenset(s.value for s in NicState)


class VmRow(NamedTuple):
    id: str
    name: str
    status: str
    host_id: str | None
    cluster_id: str


class NicRow(NamedTuple):
    id: str
    name: str
    vm_id: str
    vnic_profile_id: str | None
    plugged: bool
    port_provider_id: str | None
    port_id: str | None
    state: (
        str  # a NicState value ("none" for a record an engine of another version wrote in a way unknown here)
    )
    last_error: str | None
    provider_status: str | None


class TopologyRows:
    def __init__(self, session: Session) -> None:
        self.session = session

    def vms(self, cluster_ids: Sequence[str] | None = None) -> list[VmRow]:
        """The VMs (of these clusters), by name."""
        c = vms.c
        stmt = sa.select(c.id, c.name, c.status, c.host_id, c.cluster_id).order_by(c.name)
        if cluster_ids is not None:
            stmt = stmt.where(c.cluster_id.in_(cluster_ids))
        return [
            VmRow(r.id, r.name, str(r.status), r.host_id, r.cluster_id) for r in self.session.execute(stmt)
        ]

    def nics(
        self, *, vm_ids: Sequence[str] | None = None, profile_ids: Sequence[str] | None = None
    ) -> list[NicRow]:
        """The vNICs (of these VMs, or using these profiles), by VM and name."""
        c = vm_nics.c
        record = sa.type_coerce(c.provisioning, sa.JSON)
        stmt = sa.select(
            c.id,
            c.name,
            c.vm_id,
            c.vnic_profile_id,
            c.plugged,
            c.port_provider_id,
            c.port_id,
            record["state"].as_string(),
            record["last_error"].as_string(),
            record["provider_status"].as_string(),
        ).order_by(c.vm_id, c.name)
        if vm_ids is not None:
            stmt = stmt.where(c.vm_id.in_(vm_ids))
        if profile_ids is not None:
            stmt = stmt.where(c.vnic_profile_id.in_(profile_ids))
        return [
            NicRow(
                id=r[0],
                name=r[1],
                vm_id=r[2],
                vnic_profile_id=r[3],
                plugged=r[4],
                port_provider_id=r[5],
                port_id=r[6],
                state=r[7] if r[7] in STATES else NicState.NONE.value,
                last_error=r[8],
                provider_status=r[9],
            )
            for r in self.session.execute(stmt)
        ]
