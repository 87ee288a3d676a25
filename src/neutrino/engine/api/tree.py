"""The shape of the API: which collection lives at which path, and the empty sub-collections the SDK
may follow (answered with an empty list of the right type)."""

from __future__ import annotations

from dataclasses import dataclass, field

from neutrino.engine.api.resource import Collection
from neutrino.engine.api.resources.clusters import ClusterNetworks, ClusterProviders, Clusters
from neutrino.engine.api.resources.datacenters import DataCenters
from neutrino.engine.api.resources.events import Events
from neutrino.engine.api.resources.hosts import Hosts, Templates
from neutrino.engine.api.resources.macpools import MacPools
from neutrino.engine.api.resources.networks import Networks, VnicProfiles
from neutrino.engine.api.resources.permissions import Groups, Roles, VnicProfilePermissions
from neutrino.engine.api.resources.providers import (
    ProviderCertificates,
    ProviderNetworks,
    Providers,
    ProviderSubnets,
)
from neutrino.engine.api.resources.schedulingpolicies import SchedulingPolicies
from neutrino.engine.api.resources.users import Users
from neutrino.engine.api.resources.vms import NICS, SnapshotNics, Snapshots, Vms


@dataclass
class Node:
    collection: Collection
    children: dict[str, Node] = field(default_factory=dict)


def profiles() -> Node:
    return Node(VnicProfiles(), {"permissions": Node(VnicProfilePermissions())})


def cluster_networks() -> Node:
    return Node(ClusterNetworks(), {"vnicprofiles": profiles()})


def clusters() -> Node:
    return Node(
        Clusters(),
        {"networks": cluster_networks(), "externalnetworkproviders": Node(ClusterProviders())},
    )


def build_tree() -> dict[str, Node]:
    return {
        # a network's profiles are reachable wherever the network is listed, as its `vnicprofiles` link says
        "datacenters": Node(
            DataCenters(),
            {
                "networks": Node(Networks(), {"vnicprofiles": profiles()}),
                "clusters": clusters(),
            },
        ),
        "clusters": clusters(),
        "hosts": Node(Hosts()),
        "templates": Node(Templates()),
        "networks": Node(Networks(), {"vnicprofiles": profiles()}),
        "vnicprofiles": profiles(),
        "events": Node(Events()),
        "users": Node(Users()),
        "macpools": Node(MacPools()),
        "schedulingpolicies": Node(SchedulingPolicies()),
        "roles": Node(Roles()),
        "groups": Node(Groups()),
        "openstacknetworkproviders": Node(
            Providers(),
            {
                "networks": Node(ProviderNetworks(), {"subnets": Node(ProviderSubnets())}),
                "certificates": Node(ProviderCertificates()),
            },
        ),
        "vms": Node(
            Vms(), {"nics": Node(NICS), "snapshots": Node(Snapshots(), {"nics": Node(SnapshotNics())})}
        ),
    }


# link rel -> root element of its (empty) list, for sub-collections Neutrino has nothing to show in
EMPTY_LISTS: dict[str, str] = {
    "affinitygroups": "affinity_groups",
    "affinitylabels": "affinity_labels",
    "balances": "balances",
    "agents": "agents",
    "applications": "applications",
    "cdroms": "cdroms",
    "cpuprofiles": "cpu_profiles",
    "devices": "host_devices",
    "diskattachments": "disk_attachments",
    "disks": "disks",
    "enabledfeatures": "cluster_features",
    "floppies": "floppies",
    "glusterhooks": "gluster_hooks",
    "glustervolumes": "gluster_volumes",
    "graphicsconsoles": "graphics_consoles",
    "hooks": "hooks",
    "hostdevices": "host_devices",
    "iscsibonds": "iscsi_bonds",
    "katelloerrata": "katello_errata",
    "mediateddevices": "vm_mediated_devices",
    "networkattachments": "network_attachments",
    "networkfilterparameters": "network_filter_parameters",
    "networkfilters": "network_filters",
    "networklabels": "network_labels",
    "nics": "nics",
    "numanodes": "vm_numa_nodes",
    "permissions": "permissions",
    "qoss": "qoss",
    "quotas": "quotas",
    "reporteddevices": "reported_devices",
    "sessions": "sessions",
    "statistics": "statistics",
    "storagedomains": "storage_domains",
    "storages": "host_storages",
    "tags": "tags",
    "unmanagednetworks": "unmanaged_networks",
    "watchdogs": "watchdogs",
    "externalnetworkproviders": "external_providers",
    "filters": "filters",
    "weights": "weights",
    "events": "events",
    "openstacknetworkproviders": "openstack_network_providers",
}

# top-level collections that exist in oVirt but hold nothing in Neutrino
EMPTY_TOP = ("storagedomains", "disks", "tags", "permissions", "events", "openstacknetworkproviders")
