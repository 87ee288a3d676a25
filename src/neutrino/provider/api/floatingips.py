"""``floatingips`` (Neutron's ``router`` extension): addresses on an external network, each held
by a ``network:floatingip`` port of no project, and associated (``port_id``, optionally
``fixed_ip_address``) with an IPv4 address of a port that a router joins to that network.

The association is stored with the router that carries it (``router_id``: one whose gateway is on
the floating IP's network and which has an interface on the fixed address's subnet; the one whose
interface holds the subnet's gateway address first). ``status`` is ACTIVE while associated
through a router that is administratively up, else DOWN, until a datapath reports its own (with
the builtin backend, DOWN until the L3 agent hosting the router reports it in place).
Neutron's rules kept: only admins choose the address, one floating IP per fixed address and
external network, no association without such a router (404
``ExternalGatewayForFloatingIPNotFound``); deleting the associated port disassociates.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa

from neutrino.provider import errors
from neutrino.provider.api import common, l3
from neutrino.provider.api.networks import visible_row as visible_network
from neutrino.provider.api.ports import insert_service_port
from neutrino.provider.api.ports import visible as visible_port
from neutrino.provider.api.resource import new_id, utcnow
from neutrino.provider.api.tags import Taggable
from neutrino.provider.context import RequestContext
from neutrino.provider.store import tables as t
from neutrino.provider.store.db import UnitOfWork

DECLARATION: common.Declaration = {
    **common.ident(),
    **common.project(),
    "description": {
        "allow_post": True,
        "allow_put": True,
        "default": "",
        "validate": {"type:string": 255},
        "is_filter": True,
        "is_sort_key": True,
    },
    "floating_ip_address": {
        "allow_post": True,
        "default": None,
        "validate": {"type:ip_address_or_none": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    # input only: the external subnet to take the address from
    "subnet_id": {
        "allow_post": True,
        "default": None,
        "validate": {"type:uuid_or_none": None},
        "is_visible": False,
        "column": None,
    },
    "floating_network_id": {
        "allow_post": True,
        "validate": {"type:uuid": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "router_id": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    "port_id": {
        "allow_post": True,
        "allow_put": True,
        "default": None,
        "validate": {"type:uuid_or_none": None},
        "is_filter": True,
        "column": "fixed_port_id",
    },
    "fixed_ip_address": {
        "allow_post": True,
        "allow_put": True,
        "default": None,
        "validate": {"type:ip_address_or_none": None},
        "is_filter": True,
        "is_sort_key": True,
    },
    "status": {"allow_post": False, "is_filter": True, "is_sort_key": True},
    **common.standard(),
}


def _bad(msg: str) -> errors.BadRequest:
    return errors.BadRequest(resource="floatingip", msg=msg)


class FloatingIpService(Taggable):
    collection = "floatingips"
    member = "floatingip"
    declaration = DECLARATION
    table = t.floating_ips
    tag_table = t.floating_ip_tags

    def not_found(self, resource_id: str) -> errors.ProviderError:
        return errors.FloatingIPNotFound(floatingip_id=resource_id)

    def expand(self, uow: UnitOfWork, ctx: RequestContext, rows: Any) -> list[dict[str, Any]]:
        tags = self.tags_of(uow, rows)
        out = []
        for row in rows:
            record = self.record(row)
            record["tags"] = tags[row.id]
            out.append(record)
        return out

    def create(self, uow: UnitOfWork, ctx: RequestContext, data: dict[str, Any]) -> str:
        if data["floating_ip_address"] is not None and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(action="create_floatingip:floating_ip_address")
        if data["fixed_ip_address"] is not None and data["port_id"] is None:
            raise _bad("fixed_ip_address cannot be specified without a port_id")
        network = self._external_network(uow, ctx, data["floating_network_id"])
        fip_id = new_id()
        wanted: dict[str, Any] = {}
        if data["subnet_id"] is not None:
            wanted["subnet_id"] = data["subnet_id"]
        if data["floating_ip_address"] is not None:
            wanted["ip_address"] = data["floating_ip_address"]
        port_id, allocations = insert_service_port(
            uow,
            network,
            project_id="",  # Neutron: the port is never shown to the project
            device_id=fip_id,
            device_owner=l3.FLOATING_IP,
            status="N/A",
            requested=[wanted] if wanted else None,
            ip_version=4,
        )
        ipv4 = [address for _, address in allocations if ipaddress.ip_address(address).version == 4]
        if not ipv4:
            raise errors.ExternalIpAddressExhausted(net_id=network.id)
        now = utcnow()
        uow.execute(
            sa.insert(t.floating_ips).values(
                id=fip_id,
                project_id=data["project_id"],
                description=data["description"],
                floating_network_id=network.id,
                floating_port_id=port_id,
                floating_ip_address=ipv4[0],
                status=l3.DOWN,
                created_at=now,
                updated_at=now,
                revision_number=0,
            )
        )
        uow.note_changed("ports", [port_id])
        if data["port_id"] is not None:
            row = self.get_row(uow, RequestContext.admin(), fip_id)
            association = self._association(uow, ctx, row, data["port_id"], data["fixed_ip_address"])
            uow.execute(sa.update(t.floating_ips).where(t.floating_ips.c.id == fip_id).values(**association))
        return fip_id

    def update(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str, data: dict[str, Any]) -> None:
        uow.lock_rows(t.floating_ips, [resource_id])
        row = self.get_row(uow, ctx, resource_id)
        if not data:
            # Neutron: an update naming nothing disassociates (a floating IP's first API had the
            # association as its only attribute, so a blank update was the way to clear it)
            data = {"port_id": None}
        if data.get("fixed_ip_address") and not data.get("port_id"):
            raise _bad("fixed_ip_address cannot be specified without a port_id")
        values: dict[str, Any] = {}
        if "description" in data:
            values["description"] = data["description"]
        if "port_id" in data:
            if data["port_id"] is None:
                values.update(fixed_port_id=None, fixed_ip_address=None, router_id=None, status=l3.DOWN)
            else:
                values.update(self._association(uow, ctx, row, data["port_id"], data.get("fixed_ip_address")))
        uow.execute(
            sa.update(t.floating_ips)
            .where(t.floating_ips.c.id == resource_id)
            .values(**values, updated_at=utcnow(), revision_number=t.floating_ips.c.revision_number + 1)
        )

    def delete(self, uow: UnitOfWork, ctx: RequestContext, resource_id: str) -> None:
        uow.lock_rows(t.floating_ips, [resource_id])
        l3.delete_floating_ips(uow, [self.get_row(uow, ctx, resource_id)])

    # --- the network and the association ------------------------------------------------------

    @staticmethod
    def _external_network(uow: UnitOfWork, ctx: RequestContext, network_id: str) -> sa.Row[Any]:
        network = visible_network(uow, ctx, network_id)
        if not network.router_external:
            raise _bad(f"Network {network_id} is not a valid external network")
        s = t.subnets.c
        ipv4 = sa.select(s.id).where(s.network_id == network_id, s.ip_version == 4).limit(1)
        if uow.one_or_none(ipv4) is None:
            raise _bad(f"Network {network_id} does not contain any IPv4 subnet")
        return network

    def _association(
        self, uow: UnitOfWork, ctx: RequestContext, fip: sa.Row[Any], port_id: str, fixed_ip: str | None
    ) -> dict[str, Any]:
        """The columns of ``fip`` associated with ``port_id`` (Neutron's ``_get_assoc_data``)."""
        stmt = sa.select(t.ports).where(t.ports.c.id == port_id)
        if (scope := visible_port(ctx)) is not None:
            stmt = stmt.where(scope)
        port = uow.one_or_none(stmt)
        if port is None:
            raise errors.PortNotFound(port_id=port_id)
        if port.project_id != fip.project_id and not ctx.is_admin:
            raise _bad(
                f"Cannot process floating IP association with Port {port_id}, since that port is owned by "
                "a different tenant"
            )
        if port.device_owner == "network:dhcp":
            raise _bad(f"Port {port_id} is unable to be assigned a floating IP")
        subnet_id, address = self._fixed_address(uow, port_id, fixed_ip)
        router = self._router_for(uow, port, subnet_id, fip.floating_network_id)
        if port_id != fip.fixed_port_id or address != fip.fixed_ip_address:
            c = t.floating_ips.c
            taken = uow.one_or_none(
                sa.select(c.id).where(
                    c.fixed_port_id == port_id,
                    c.floating_network_id == fip.floating_network_id,
                    c.fixed_ip_address == address,
                    c.id != fip.id,
                )
            )
            if taken is not None:
                raise errors.FloatingIPPortAlreadyAssociated(
                    port_id=port_id,
                    fip_id=fip.id,
                    floating_ip_address=fip.floating_ip_address,
                    fixed_ip=address,
                    net_id=fip.floating_network_id,
                )
        return {
            "fixed_port_id": port_id,
            "fixed_ip_address": address,
            "router_id": router.id,
            "status": l3.floating_ip_status(uow, router.id, router.admin_state_up),
        }

    @staticmethod
    def _fixed_address(uow: UnitOfWork, port_id: str, fixed_ip: str | None) -> tuple[str, str]:
        """The (subnet, IPv4 address) of the port a floating IP is to reach."""
        a = t.ip_allocations.c
        held = uow.rows(sa.select(a.subnet_id, a.ip_address).where(a.port_id == port_id))
        if fixed_ip is not None:
            address = str(ipaddress.ip_address(fixed_ip))
            if ipaddress.ip_address(address).version != 4:
                raise _bad(
                    f"Cannot process floating IP association with {fixed_ip}, since that is not an IPv4 address"
                )
            match = next((h for h in held if h.ip_address == address), None)
            if match is None:
                raise _bad(f"Port {port_id} does not have fixed ip {fixed_ip}")
            return match.subnet_id, address
        ipv4 = [h for h in held if ipaddress.ip_address(h.ip_address).version == 4]
        if not ipv4:
            raise _bad(f"Cannot add floating IP to port {port_id} that has no fixed IPv4 addresses")
        if len(ipv4) > 1:
            raise _bad(
                f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address "
                "when assigning a floating IP"
            )
        return ipv4[0].subnet_id, ipv4[0].ip_address

    @staticmethod
    def _router_for(
        uow: UnitOfWork, port: sa.Row[Any], subnet_id: str, external_network_id: str
    ) -> sa.Row[Any]:
        """Neutron's ``get_router_for_floatingip``: a router with an interface on the subnet and its
        gateway on the external network; the one holding the subnet's gateway address first."""
        a, rp, r = t.ip_allocations.c, t.router_ports.c, t.routers.c
        gateway = t.ports.alias("gateway")
        candidates = uow.rows(
            sa.select(t.routers, a.ip_address.label("interface_ip"))
            .join(t.router_ports, rp.router_id == r.id)
            .join(t.ip_allocations, a.port_id == rp.port_id)
            .join(gateway, gateway.c.id == r.gw_port_id)
            .where(
                rp.port_type == l3.ROUTER_INTERFACE,
                a.subnet_id == subnet_id,
                gateway.c.network_id == external_network_id,
            )
            .order_by(r.created_at, r.id)
        )
        subnet = uow.one_or_none(sa.select(t.subnets.c.gateway_ip).where(t.subnets.c.id == subnet_id))
        gateway_ip = subnet.gateway_ip if subnet is not None else None
        for candidate in candidates:
            if candidate.interface_ip == gateway_ip:
                return candidate
        if candidates:
            return candidates[0]
        raise errors.ExternalGatewayForFloatingIPNotFound(
            subnet_id=subnet_id, external_network_id=external_network_id, port_id=port.id
        )
