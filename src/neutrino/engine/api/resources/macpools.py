"""/macpools: the engine's MAC address pool, read-only.

Neutrino has one pool, the range the engine was configured with (``--mac-pool-range``, chosen once and kept in
its database); it is oVirt's ``Default`` pool, which every data center and cluster uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from neutrino.engine.api.fields import BOOL, Field
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.api.wire import Tree
from neutrino.engine.domain.errors import NotFound
from neutrino.engine.domain.macpool import MacRange, int_to_mac

DEFAULT_POOL_NAME = "Default"
DEFAULT_POOL_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "neutrino:mac-pool:Default"))


@dataclass(frozen=True)
class MacPoolView:
    range: MacRange
    id: str = DEFAULT_POOL_ID
    name: str = DEFAULT_POOL_NAME
    description: str = "Default MAC pool"
    allow_duplicates: bool = False
    default_pool: bool = True


def _ranges(pool: MacPoolView) -> Tree:
    return {"range": [{"from": int_to_mac(pool.range.start), "to": int_to_mac(pool.range.end)}]}


class MacPools(Collection):
    path, plural, element, type_name = "macpools", "mac_pools", "mac_pool", "MAC Pool"
    fields = (
        Field("name", writable=False),
        Field("description", writable=False),
        Field("allow_duplicates", codec=BOOL, writable=False),
        Field("default_pool", codec=BOOL, writable=False),
        Field("ranges", render_fn=_ranges, writable=False),
    )
    links = ("permissions",)

    def list(self, call: Call) -> Any:
        return [MacPoolView(call.ctx.mac_pool)]

    def get(self, call: Call, id_: str) -> Any:
        if id_ != DEFAULT_POOL_ID:
            raise NotFound(f"{self.type_name} '{id_}' was not found.")
        return MacPoolView(call.ctx.mac_pool)
