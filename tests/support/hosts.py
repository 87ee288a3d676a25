"""Enroll a host agent as a host of an engine under test, through the real oVirt SDK."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.servers import RunningAgent


def add_host(
    system: Any,
    agent: RunningAgent,
    cluster_id: str | None = None,
    cluster_name: str | None = None,
    name: str | None = None,
) -> Any:
    """Add ``agent`` as a host (its token is the enrollment secret oVirt calls root_password); it comes Up."""
    import ovirtsdk4.types as types

    cluster = types.Cluster(id=cluster_id) if cluster_id else types.Cluster(name=cluster_name or "Default")
    host = system.hosts_service().add(
        types.Host(
            name=name or f"host-{uuid.uuid4().hex[:8]}",
            address="127.0.0.1",
            port=agent.port,
            root_password=agent.token,
            cluster=cluster,
        )
    )
    assert host.status == types.HostStatus.UP, host.status_detail
    return host
