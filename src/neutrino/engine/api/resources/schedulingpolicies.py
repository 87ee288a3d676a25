"""/schedulingpolicies: oVirt's built-in scheduling policies, read-only, for clusters to name.

Neutrino's scheduler (``engine.scheduling``) is the same whichever a cluster names: it places a VM on the
passing host with the fewest running VMs.
"""

from __future__ import annotations

from typing import Any

from neutrino.engine.api.fields import BOOL, Field
from neutrino.engine.api.resource import Call, Collection
from neutrino.engine.domain.errors import NotFound
from neutrino.engine.domain.options import SCHEDULING_POLICIES


class SchedulingPolicies(Collection):
    path, plural, element = "schedulingpolicies", "scheduling_policies", "scheduling_policy"
    type_name = "Scheduling Policy"
    fields = (
        Field("name", writable=False),
        Field("description", writable=False),
        Field("default_policy", render_fn=lambda p: p is SCHEDULING_POLICIES[0], codec=BOOL, writable=False),
        Field("locked", render_fn=lambda p: True, codec=BOOL, writable=False),
    )
    links = ("balances", "filters", "weights")

    def list(self, call: Call) -> Any:
        return list(SCHEDULING_POLICIES)

    def get(self, call: Call, id_: str) -> Any:
        for policy in SCHEDULING_POLICIES:
            if policy.id == id_:
                return policy
        raise NotFound(f"{self.type_name} '{id_}' was not found.")
