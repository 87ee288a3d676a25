"""The provider's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

Invariants carried by constraints:
- one address per subnet: primary key (subnet_id, ip_address) on ``ip_allocations``;
- one MAC per network: unique (network_id, mac_address) on ``ports``;
- one segment per (type, physical network, id): primary key on ``segment_allocations``
  (empty string, not NULL, for "no physical network", since NULLs never collide);
- one default security group per project: primary key on ``default_security_groups``;
- a port serves at most one router: primary key (port_id) on ``router_ports``;
- one floating IP per (external network, port, fixed address): unique on ``floating_ips``, and one
  floating IP per floating port.

``ports.status`` and ``ports.binding_*`` are what a host agent will later report and update.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def _standard() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("revision_number", sa.Integer, nullable=False, server_default="0"),
    ]


# --- identity ----------------------------------------------------------------------------------

projects = sa.Table(
    "projects",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("default_project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="SET NULL")),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    #: schema 0010: what ``openstack user create --email/--description`` sets (None: never set)
    sa.Column("email", sa.String(255)),
    sa.Column("description", sa.Text),
)

role_assignments = sa.Table(
    "role_assignments",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role", sa.String(64), primary_key=True),
)

provider_meta = sa.Table(
    "provider_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: Keystone's revocation events (schema 0005): tokens of ``user_id`` / ``project_id`` / with ``audit_id``
#: (each when set) issued at or before ``issued_before`` (epoch seconds) are dead. A row is useless, and
#: purged, after ``expires_at``: every token it can match has expired by then.
revocation_events = sa.Table(
    "revocation_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(64), index=True),
    sa.Column("project_id", sa.String(64), index=True),
    sa.Column("audit_id", sa.String(64), index=True),
    sa.Column("issued_before", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# --- networking --------------------------------------------------------------------------------

networks = sa.Table(
    "networks",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False),
    sa.Column("mtu", sa.Integer, nullable=False),
    sa.Column("port_security_enabled", sa.Boolean, nullable=False),
    sa.Column("network_type", sa.String(32), nullable=False),
    sa.Column("physical_network", sa.String(64)),
    sa.Column("segmentation_id", sa.Integer),
    #: Neutron's ``router:external`` (schema 0003): routers' gateways and floating IPs live here
    sa.Column("router_external", sa.Boolean, nullable=False, server_default=sa.false()),
    #: dns-integration (schema 0008): the network's DNS domain, with its trailing dot ("" none)
    sa.Column("dns_domain", sa.String(255), nullable=False, server_default=""),
    *_standard(),
)

segment_allocations = sa.Table(
    "segment_allocations",
    metadata,
    sa.Column("network_type", sa.String(32), primary_key=True),
    sa.Column("physical_network", sa.String(64), primary_key=True),
    sa.Column("segmentation_id", sa.Integer, primary_key=True),
    sa.Column(
        "network_id",
        sa.String(36),
        sa.ForeignKey("networks.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
)

#: subnet_allocation (schema 0009): address space subnets are allocated from. ``ip_version`` follows from
#: the prefixes; ``default_quota`` (NULL: none) counts a project's allocations in /32 (IPv4) or /64 (IPv6)
#: units; at most one ``is_default`` pool per IP version (checked under a lock, not a constraint).
subnetpools = sa.Table(
    "subnetpools",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("ip_version", sa.Integer, nullable=False),
    sa.Column("default_prefixlen", sa.Integer, nullable=False),
    sa.Column("min_prefixlen", sa.Integer, nullable=False),
    sa.Column("max_prefixlen", sa.Integer, nullable=False),
    sa.Column("default_quota", sa.Integer),
    sa.Column("shared", sa.Boolean, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    *_standard(),
)

#: A pool's prefixes, compacted (no two overlap or could merge), as Neutron's ``subnetpoolprefixes``.
subnetpool_prefixes = sa.Table(
    "subnetpool_prefixes",
    metadata,
    sa.Column(
        "subnetpool_id", sa.String(36), sa.ForeignKey("subnetpools.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("cidr", sa.String(64), primary_key=True),
)

subnets = sa.Table(
    "subnets",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("network_id", sa.String(36), sa.ForeignKey("networks.id"), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("ip_version", sa.Integer, nullable=False),
    sa.Column("cidr", sa.String(64), nullable=False),
    sa.Column("gateway_ip", sa.String(64)),
    sa.Column("allocation_pools", sa.JSON, nullable=False),
    sa.Column("dns_nameservers", sa.JSON, nullable=False),
    sa.Column("host_routes", sa.JSON, nullable=False),
    sa.Column("enable_dhcp", sa.Boolean, nullable=False),
    sa.Column("ipv6_ra_mode", sa.String(32)),
    sa.Column("ipv6_address_mode", sa.String(32)),
    #: subnet_allocation (schema 0009): the pool the CIDR was allocated from (NULL: given by the client)
    sa.Column("subnetpool_id", sa.String(36), sa.ForeignKey("subnetpools.id"), index=True),
    *_standard(),
)

ports = sa.Table(
    "ports",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("network_id", sa.String(36), sa.ForeignKey("networks.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("mac_address", sa.String(32), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("device_id", sa.String(255), nullable=False, server_default="", index=True),
    sa.Column("device_owner", sa.String(255), nullable=False, server_default=""),
    sa.Column("port_security_enabled", sa.Boolean, nullable=False),
    sa.Column("binding_host_id", sa.String(255), nullable=False, server_default=""),
    sa.Column("binding_profile", sa.JSON, nullable=False),
    sa.Column("binding_vif_type", sa.String(64), nullable=False),
    sa.Column("binding_vif_details", sa.JSON, nullable=False),
    sa.Column("binding_vnic_type", sa.String(64), nullable=False),
    #: dns-integration, dns-domain-ports (schema 0008)
    sa.Column("dns_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("dns_domain", sa.String(255), nullable=False, server_default=""),
    *_standard(),
    sa.UniqueConstraint("network_id", "mac_address", name="uq_ports_network_id_mac_address"),
)

ip_allocations = sa.Table(
    "ip_allocations",
    metadata,
    sa.Column("subnet_id", sa.String(36), sa.ForeignKey("subnets.id"), primary_key=True),
    sa.Column("ip_address", sa.String(64), primary_key=True),
    sa.Column(
        "port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("network_id", sa.String(36), nullable=False),
    #: address minus the subnet's network address, when it fits (NULL for far IPv6 addresses such
    #: as EUI-64 ones): lets the allocator find the next address with one indexed MAX().
    sa.Column("ip_offset", sa.BigInteger),
    sa.Index("ix_ip_allocations_subnet_id_ip_offset", "subnet_id", "ip_offset"),
    sa.Index("ix_ip_allocations_ip_address", "ip_address"),  # ?fixed_ips=ip_address=... (schema 0002)
)

security_groups = sa.Table(
    "security_groups",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("stateful", sa.Boolean, nullable=False, server_default=sa.true()),
    *_standard(),
)

default_security_groups = sa.Table(
    "default_security_groups",
    metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column(
        "security_group_id",
        sa.String(36),
        sa.ForeignKey("security_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
)

security_group_rules = sa.Table(
    "security_group_rules",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column(
        "security_group_id",
        sa.String(36),
        sa.ForeignKey("security_groups.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("ethertype", sa.String(8), nullable=False),
    sa.Column("protocol", sa.String(40)),
    sa.Column("port_range_min", sa.Integer),
    sa.Column("port_range_max", sa.Integer),
    sa.Column("remote_ip_prefix", sa.String(255)),
    sa.Column("remote_group_id", sa.String(36), sa.ForeignKey("security_groups.id", ondelete="CASCADE")),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    *_standard(),
)

port_security_groups = sa.Table(
    "port_security_groups",
    metadata,
    sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "security_group_id", sa.String(36), sa.ForeignKey("security_groups.id"), primary_key=True, index=True
    ),
)

# --- agents (schema 0002) ----------------------------------------------------------------------

agents = sa.Table(
    "agents",
    metadata,
    _id(),
    sa.Column("agent_type", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False, server_default=""),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("availability_zone", sa.String(255)),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("configurations", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat_timestamp", sa.DateTime, nullable=False),
    sa.UniqueConstraint("agent_type", "host", name="uq_agents_agent_type_host"),
)

# --- routing (schema 0003) ---------------------------------------------------------------------

routers = sa.Table(
    "routers",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    #: ext-gw-mode; meaningful while the router has a gateway (``gw_port_id``)
    sa.Column("enable_snat", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("gw_port_id", sa.String(36), sa.ForeignKey("ports.id"), unique=True),
    *_standard(),
)

#: Every port a router owns: its gateway (``network:router_gateway``) and its interfaces
#: (``network:router_interface``), as Neutron's ``routerports``.
router_ports = sa.Table(
    "router_ports",
    metadata,
    sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "router_id",
        sa.String(36),
        sa.ForeignKey("routers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("port_type", sa.String(255), nullable=False),
)

#: extraroute: static routes of a router
router_routes = sa.Table(
    "router_routes",
    metadata,
    sa.Column("router_id", sa.String(36), sa.ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("nexthop", sa.String(64), primary_key=True),
)

floating_ips = sa.Table(
    "floating_ips",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("floating_network_id", sa.String(36), sa.ForeignKey("networks.id"), nullable=False, index=True),
    #: the port (``network:floatingip``, no project) holding the address on the external network
    sa.Column("floating_port_id", sa.String(36), sa.ForeignKey("ports.id"), nullable=False, unique=True),
    sa.Column("floating_ip_address", sa.String(64), nullable=False),
    #: the association: a port, one of its addresses, and the router that joins them (all or none)
    sa.Column("fixed_port_id", sa.String(36), sa.ForeignKey("ports.id"), index=True),
    sa.Column("fixed_ip_address", sa.String(64)),
    sa.Column("router_id", sa.String(36), sa.ForeignKey("routers.id"), index=True),
    sa.Column("status", sa.String(16), nullable=False),
    *_standard(),
    sa.UniqueConstraint(
        "floating_network_id", "fixed_port_id", "fixed_ip_address", name="uq_floating_ips_fixed"
    ),
)

# --- L3 agents' routers (schema 0004, builtin backend) -----------------------------------------

#: Which L3 agent hosts a router (Neutron's ``routerl3agentbindings``, legacy routers: one agent
#: each). A binding to an agent that is gone or not alive is the scheduler's to move.
router_l3_agent_bindings = sa.Table(
    "router_l3_agent_bindings",
    metadata,
    sa.Column("router_id", sa.String(36), sa.ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "l3_agent_id",
        sa.String(36),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# --- extensions (schema 0005) ------------------------------------------------------------------


def _tag_table(name: str, parent: str) -> sa.Table:
    """standard-attr-tag: one row per (resource, tag); gone with the resource (ON DELETE CASCADE).
    The index on ``tag`` serves the ``tags``/``tags-any`` filters."""
    return sa.Table(
        name,
        metadata,
        sa.Column(
            "resource_id", sa.String(36), sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("tag", sa.String(255), primary_key=True),
        sa.Index(f"ix_{name}_tag", "tag"),
    )


network_tags = _tag_table("network_tags", "networks")
subnet_tags = _tag_table("subnet_tags", "subnets")
port_tags = _tag_table("port_tags", "ports")
security_group_tags = _tag_table("security_group_tags", "security_groups")
router_tags = _tag_table("router_tags", "routers")
floating_ip_tags = _tag_table("floating_ip_tags", "floating_ips")
subnetpool_tags = _tag_table("subnetpool_tags", "subnetpools")  # schema 0009

#: allowed-address-pairs: addresses (or CIDRs) a port's guest may also use, each with a MAC (the
#: port's when the client gave none); one row per distinct pair, as Neutron's primary key.
port_allowed_address_pairs = sa.Table(
    "port_allowed_address_pairs",
    metadata,
    sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("mac_address", sa.String(32), primary_key=True),
    sa.Column("ip_address", sa.String(64), primary_key=True),
)

#: extra_dhcp_opt (schema 0008): DHCP options a port's guest gets besides the subnet's
port_extra_dhcp_opts = sa.Table(
    "port_extra_dhcp_opts",
    metadata,
    sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("opt_name", sa.String(64), primary_key=True),
    sa.Column("ip_version", sa.Integer, primary_key=True),
    sa.Column("opt_value", sa.String(255), nullable=False),
)

# --- quotas and RBAC (schema 0007) -------------------------------------------------------------

#: quotas: a project's limits that differ from the configured defaults (-1: unlimited).
quotas = sa.Table(
    "quotas",
    metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(255), primary_key=True),
    sa.Column("limit", sa.Integer, nullable=False),
)

#: rbac-policies: who else may use a network (``access_as_shared``) or route to it
#: (``access_as_external``); ``target_project`` is a project id or ``*``. ``networks.shared`` and
#: ``networks.router_external`` mirror what the policies say (a wildcard shared policy; any
#: external one) for the code that reads those flags.
rbac_policies = sa.Table(
    "rbac_policies",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column(
        "object_id",
        sa.String(36),
        sa.ForeignKey("networks.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("action", sa.String(255), nullable=False),
    sa.Column("target_project", sa.String(255), nullable=False, index=True),
    sa.UniqueConstraint(
        "target_project", "object_id", "action", name="uq_rbac_policies_target_object_action"
    ),
)
