"""Pure domain rules: each takes plain values and raises a domain error when a rule is broken."""

from __future__ import annotations

from collections.abc import Mapping

from neutrino.engine.domain.errors import BadRequest, Conflict, cannot

MAX_NAME = 255


def check_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadRequest(f"Incomplete parameters: '{field}' is required.")
    if len(name) > MAX_NAME:
        raise BadRequest(f"Invalid value for '{field}': longer than {MAX_NAME} characters.")
    return name


def check_memory(memory: int) -> None:
    if memory <= 0:
        raise BadRequest(f"Invalid value for 'memory': {memory} is not a positive number of bytes.")


def check_vlan(vlan_id: int | None) -> None:
    if vlan_id is not None and not 0 <= vlan_id <= 4094:
        raise BadRequest(f"Invalid value for 'vlan.id': {vlan_id} is not between 0 and 4094.")


def check_mtu(mtu: int) -> None:
    if mtu != 0 and not 68 <= mtu <= 65520:
        raise BadRequest(f"Invalid value for 'mtu': {mtu} is not 0 (default) or between 68 and 65520.")


def network_name_in_use(action: str, name: str) -> Conflict:
    return Conflict(
        cannot(
            action,
            "Network",
            f"The name of the logical network '{name}' is already used by an existing logical network in the "
            "same data-center.",
        )
    )


# --- external networks: the seed's "effective limitations" ----------------------------------------


def check_external_attachment(network_is_external: bool, required: bool, display: bool, action: str) -> None:
    """An external network is never required on a cluster, and never its display network."""
    if not network_is_external:
        return
    if required:
        raise BadRequest(
            cannot(action, "Network", "External network cannot be set as required in the cluster.")
        )
    if display:
        raise BadRequest(cannot(action, "Network", "External network cannot be used as a display network."))


EXTERNAL_FIXED = ("vlan_id", "stp", "mtu")


def check_external_edit(
    network_is_external: bool, current: dict[str, object], changes: dict[str, object]
) -> None:
    """The provider owns an external network's configuration: VLAN, STP and MTU cannot be edited in the engine
    (name and description can), and it stays a VM network."""
    if not network_is_external:
        return
    usages = changes.get("usages")
    if usages is not None and "vm" not in usages:  # type: ignore[operator]
        raise BadRequest(cannot("edit", "Network", "An external network cannot be a non-VM network."))
    changed = [k for k in EXTERNAL_FIXED if k in changes and changes[k] != current.get(k)]
    if changed:
        raise BadRequest(
            cannot(
                "edit",
                "Network",
                "External network details (except name and description) cannot be changed "
                f"(attempted: {', '.join('vlan' if k == 'vlan_id' else k for k in changed)}).",
            )
        )


def check_port_mirroring(network_is_external: bool, port_mirroring: bool, action: str) -> None:
    if network_is_external and port_mirroring:
        raise BadRequest(
            cannot(
                action,
                "VM network interface profile",
                "External network cannot be used when port mirroring is set.",
            )
        )


# --- compatibility versions of data centers and clusters (oVirt's VersionSupport, ClusterValidator,
# UpdateStoragePoolCommand) ------------------------------------------------------------------------

Version = tuple[int, int]  # (major, minor)

SUPPORTED_VERSIONS: tuple[Version, ...] = tuple((4, minor) for minor in range(2, 8))  # 4.2 ... 4.7


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def check_version_supported(version: Version, action: str, type_: str) -> None:
    """Only the compatibility versions oVirt supports (4.2 to 4.7)."""
    if version not in SUPPORTED_VERSIONS:
        raise BadRequest(
            cannot(
                action,
                type_,
                f"Selected Compatibility Version is not supported (version {version_text(version)}; supported: "
                f"{version_text(SUPPORTED_VERSIONS[0])} to {version_text(SUPPORTED_VERSIONS[-1])}).",
            )
        )


def check_data_center_version(
    action: str,
    version: Version,
    current: Version | None = None,
    cluster_versions: Mapping[str, Version] | None = None,
    has_non_management_networks: bool = False,
) -> None:
    """A data center's compatibility version, on add (``current`` None) or when an edit changes it.

    Raised: only while every cluster of the data center is at least at the new version
    (``cluster_versions``: cluster name -> version). Lowered: only while the management network is its only
    network. ``action`` is oVirt's verb: "create" or "edit".
    """
    if version == current:
        return
    check_version_supported(version, action, "Data Center")
    if current is None:
        return
    if version < current:
        if has_non_management_networks:
            raise Conflict("Cannot decrease data center compatibility version.")
        return
    lower = [name for name, v in sorted((cluster_versions or {}).items()) if v < version]
    if lower:
        raise Conflict(
            "Cannot update Data Center compatibility version to a value that is greater than its "
            f"Cluster's version. The following clusters should be upgraded {','.join(lower)}."
        )


def check_cluster_version(
    action: str, version: Version, data_center_version: Version | None, current: Version | None = None
) -> None:
    """A cluster's compatibility version, on add (``current`` None) or when an edit changes it: supported,
    and never below its data center's (``data_center_version``; None for a cluster without one).
    ``action`` is oVirt's verb: "create" or "edit"."""
    if version == current:
        return
    check_version_supported(version, action, "Cluster")
    if data_center_version is None or version >= data_center_version:
        return
    if current is None:
        raise BadRequest(
            "Cannot add Cluster with Compatibility Version that is lower than the Data Center "
            "Compatibility Version.\n-Please upgrade your Cluster to a later Compatibility version first."
        )
    if version < current:
        raise BadRequest(
            "Cannot decrease cluster compatibility version beneath data center compatibility version."
        )
