// The topology picture's model, from the engine's /ui/topology JSON: what each node and edge is, its live
// state, the tunnels between hosts, and where each node's page is. Pure data: no DOM, no drawing library, so
// that it is tested on its own (tests/js/topology.test.mjs).

// Live states: the colour and the glyph of a node or an edge. The legend shows them in this order.
export const STATES = {
  active: {
    label: 'Active',
    text: 'port ACTIVE, VM up with every port ACTIVE, host up',
    glyph: '✓',
    color: '#1b7f3b',
    fill: '#d9f2e1',
    line: '#8dbf9d',
  },
  pending: {
    label: 'In progress',
    text: 'starting or stopping, or up with a port not ACTIVE yet',
    glyph: '…',
    color: '#8a5a00',
    fill: '#fff1cc',
    line: '#c4ad80',
  },
  down: {
    label: 'Down',
    text: 'port DOWN, VM down, host in maintenance',
    glyph: '○',
    color: '#5b6575',
    fill: '#eef0f3',
    line: '#adb2ba',
  },
  unplugged: {
    label: 'Unplugged',
    text: 'vNIC unplugged (hot-unplugged or never plugged)',
    glyph: '⊘',
    color: '#8a93a0',
    fill: '#ffffff',
    line: '#c5c9cf',
  },
  failed: {
    label: 'Failed',
    text: 'provisioning failed, port in ERROR, network missing from its provider',
    glyph: '✕',
    color: '#b3261e',
    fill: '#fbe3e1',
    line: '#d9928e',
  },
  unreachable: {
    label: 'Host non-responsive',
    text: "the engine cannot reach the host's agent",
    glyph: '⚠',
    color: '#b3261e',
    fill: '#fbe3e1',
    line: '#d9928e',
  },
  agentdead: {
    label: 'Agent dead',
    text: "the provider lists the host's network agent as not alive",
    glyph: '✕',
    color: '#7a2a8c',
    fill: '#f3e3f7',
    line: '#bc94c5',
  },
  plain: {
    label: 'Network',
    text: 'a network (no live state of its own)',
    glyph: '',
    color: '#4d6b8c',
    fill: '#dfe7f1',
    line: '#a6b5c5',
  },
};

// The kinds of node and edge, for the legend (the shape each is drawn with) and the list.
export const KINDS = {
  host: { label: 'Host', text: 'a box holding the VMs it runs; "Not running" holds the others' },
  vm: { label: 'VM', text: "a rounded box with its name and its vNICs' addresses" },
  nic: { label: 'vNIC', text: 'a dot on its VM, joined to its network' },
  network: { label: 'Network', text: "its subnets' CIDRs, type and segment" },
  router: { label: 'Router', text: "joined to its subnets' networks (interfaces) and its gateway network" },
  fip: { label: 'Floating IP', text: 'joined to its router and to the vNIC it maps to' },
  tunnel: { label: 'Tunnel', text: 'dashed: two hosts that both carry an overlay network' },
};

const OVERLAYS = new Set(['vxlan', 'geneve', 'gre']);
export const NOT_RUNNING = 'none';

export function nicState(nic, vm) {
  if (!nic.plugged) return 'unplugged';
  if (nic.provisioning === 'failed' || nic.port_status === 'ERROR') return 'failed';
  if (nic.port_status === 'ACTIVE') return 'active';
  if (nic.port_status === 'BUILD' || nic.provisioning === 'preparing' || nic.provisioning === 'port_ready')
    return 'pending';
  // a vNIC on an engine (internal) network has no port: it is as its VM is
  if (!nic.port_id && nic.provisioning === 'plugged' && vm?.status === 'up') return 'active';
  return 'down';
}

export function vmState(vm, nics) {
  if (vm.status === 'not_responding' || vm.status === 'unknown') return 'failed';
  if (nics.some((n) => n.state === 'failed')) return 'failed';
  if (vm.status === 'down') return 'down';
  if (vm.status !== 'up') return 'pending';
  return nics.every((n) => n.state === 'active' || n.state === 'unplugged') ? 'active' : 'pending';
}

export function hostState(host) {
  const status = host.status;
  if (status === 'up') return (host.agents || []).some((a) => !a.alive) ? 'agentdead' : 'active';
  if (status === 'maintenance') return 'down';
  if (['installing', 'connecting', 'initializing'].includes(status)) return 'pending';
  return 'unreachable';
}

function routerState(status) {
  return { ACTIVE: 'active', DOWN: 'down', ERROR: 'failed' }[status] || 'pending';
}

const words = (s) => String(s || '').replaceAll('_', ' ');

// Which tunnels the hosts need: two hosts are joined when both run a VM with a plugged vNIC on the same overlay
// network (VXLAN, Geneve, GRE; a provider network whose type is not known counts as one). Flat and VLAN
// networks, and the engine's own networks, go over the hosts' wires, not tunnels.
export function tunnels(networks, vms, nics, hostStates) {
  const overlay = new Map(
    networks.filter((n) => n.provider_id && (!n.network_type || OVERLAYS.has(n.network_type))).map((n) => [n.id, n]),
  );
  const hostOf = new Map(vms.filter((v) => v.host_id && v.status !== 'down').map((v) => [v.id, v.host_id]));
  const hostsOn = new Map();
  for (const nic of nics) {
    const host = hostOf.get(nic.vm_id);
    if (!host || !nic.plugged || !overlay.has(nic.network_id)) continue;
    if (!hostsOn.has(nic.network_id)) hostsOn.set(nic.network_id, new Set());
    hostsOn.get(nic.network_id).add(host);
  }
  const pairs = new Map();
  for (const [netId, set] of hostsOn) {
    const hosts = [...set].sort();
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        const key = `${hosts[i]}|${hosts[j]}`;
        if (!pairs.has(key)) pairs.set(key, { a: hosts[i], b: hosts[j], networks: [] });
        pairs.get(key).networks.push(overlay.get(netId).name);
      }
    }
  }
  return [...pairs.values()]
    .sort((x, y) => x.a.localeCompare(y.a) || x.b.localeCompare(y.b))
    .map((t) => {
      const states = [hostStates.get(t.a), hostStates.get(t.b)];
      const bad = states.find((s) => s === 'unreachable' || s === 'agentdead');
      return {
        id: `${t.a}|${t.b}`,
        a: t.a,
        b: t.b,
        networks: t.networks.sort(),
        state: bad ? 'failed' : states.every((s) => s === 'active') ? 'active' : 'down',
      };
    });
}

function networkLabel(n) {
  const subnets = (n.subnets || []).map((s) => s.cidr);
  const type = n.network_type
    ? `${n.network_type}${(n.segmentation_id ?? null) !== null ? ` ${n.segmentation_id}` : ''}`
    : (n.vlan_id ?? null) !== null
      ? `VLAN ${n.vlan_id}`
      : n.provider_id
        ? ''
        : 'engine network';
  return [n.name, subnets.join(' · ') || 'no subnet', type].filter(Boolean).join('\n');
}

// The model the view draws and lists. `data` is /ui/topology's answer.
export function shape(data) {
  const hostById = new Map();
  const hostStates = new Map();
  const hosts = (data.hosts || []).map((x) => {
    const state = hostState(x);
    hostStates.set(x.id, state);
    const agents = x.agents || [];
    const agentText = !agents.length ? 'no agent listed' : agents.every((a) => a.alive) ? 'agent alive' : 'agent dead';
    const host = {
      id: x.id,
      name: x.name,
      kind: 'host',
      state,
      href: `#/hosts/${x.id}`,
      vms: [],
      tunnelIp: x.tunnel_ip || null,
      status: x.status,
      detail: x.status_detail || '',
      agentText,
      text: [words(x.status), agentText, x.tunnel_ip ? `tunnel ${x.tunnel_ip}` : null, x.status_detail || null]
        .filter(Boolean)
        .join(', '),
    };
    hostById.set(x.id, host);
    return host;
  });
  const idle = {
    id: NOT_RUNNING,
    name: 'Not running',
    kind: 'group',
    state: 'down',
    href: null,
    vms: [],
    text: 'VMs on no host',
  };

  const vmById = new Map((data.vms || []).map((v) => [v.id, v]));
  const nicsOf = new Map();
  const nics = (data.nics || []).map((n) => {
    const vm = vmById.get(n.vm_id);
    const nic = {
      id: n.id,
      name: n.name,
      kind: 'nic',
      vmId: n.vm_id,
      networkId: n.network_id,
      state: nicState(n, vm),
      addresses: n.addresses || [],
      portStatus: n.port_status || null,
      portId: n.port_id || null,
      provisioning: n.provisioning,
      lastError: n.last_error || null,
      href: `#/vms/${n.vm_id}/nics`,
    };
    if (!nicsOf.has(n.vm_id)) nicsOf.set(n.vm_id, []);
    nicsOf.get(n.vm_id).push(nic);
    return nic;
  });

  const vms = (data.vms || []).map((v) => {
    const own = nicsOf.get(v.id) || [];
    const addresses = own.flatMap((n) => n.addresses);
    const vm = {
      id: v.id,
      name: v.name,
      kind: 'vm',
      status: v.status,
      state: vmState(v, own),
      nics: own,
      addresses,
      href: `#/vms/${v.id}/nics`,
      hostId: hostById.has(v.host_id) ? v.host_id : NOT_RUNNING,
    };
    (hostById.get(vm.hostId) || idle).vms.push(vm);
    return vm;
  });

  const networks = (data.networks || []).map((n) => ({
    id: n.id,
    name: n.name,
    kind: 'network',
    href: `#/networks/${n.id}`,
    subnets: n.subnets || [],
    providerId: n.provider_id || null,
    providerNetworkId: n.provider_network_id || null,
    state: n.external_missing ? 'failed' : 'plain',
    label: networkLabel(n),
    missing: !!n.external_missing,
    type: n.network_type || null,
  }));
  const routed = routing(data, networks, nics);
  const groups = idle.vms.length ? [...hosts, idle] : hosts;
  return {
    scope: data.scope || { kind: 'all', name: 'All data centers' },
    providers: data.providers || [],
    version: data.version,
    hosts,
    groups,
    vms,
    nics,
    networks: [...networks, ...routed.extraNetworks],
    tunnels: tunnels(data.networks || [], data.vms || [], data.nics || [], hostStates),
    routers: routed.routers,
    floatingIps: routed.floatingIps,
  };
}

// Routers and floating IPs (when the provider has L3). A router's interface or gateway names a provider network:
// the engine's network imported from it when there is one, else a node of its own for the provider's network.
function routing(data, networks, nics) {
  const byProviderNet = new Map(
    networks.filter((n) => n.providerNetworkId).map((n) => [`${n.providerId}|${n.providerNetworkId}`, n.id]),
  );
  const named = new Map((data.provider_networks || []).map((p) => [`${p.provider_id}|${p.id}`, p]));
  const extra = new Map();
  const networkKey = (providerId, netId) => {
    const key = `${providerId}|${netId}`;
    if (byProviderNet.has(key)) return byProviderNet.get(key);
    if (!extra.has(key)) {
      const known = named.get(key);
      const name = known?.name || `network ${String(netId).slice(0, 8)}`;
      extra.set(key, {
        id: `p:${key}`,
        name,
        kind: 'network',
        href: `#/providers/${providerId}/networks`,
        subnets: known?.subnets || [],
        providerId,
        providerNetworkId: netId,
        state: 'plain',
        missing: false,
        type: known?.network_type || null,
        label: networkLabel({ ...known, name, provider_id: providerId, subnets: known?.subnets || [] }),
        external: !!known?.external,
      });
    }
    return extra.get(key).id;
  };
  const routers = (data.routers || []).map((r) => {
    const gw =
      r.gateway && r.gateway.network_id
        ? {
            networkId: networkKey(r.provider_id, r.gateway.network_id),
            ips: r.gateway.ips || [],
          }
        : null;
    const interfaces = (r.interfaces || []).map((i) => ({
      networkId: networkKey(r.provider_id, i.network_id),
      ip: i.ip_address || null,
      subnetId: i.subnet_id || null,
    }));
    return {
      id: r.id,
      name: r.name || r.id.slice(0, 8),
      kind: 'router',
      providerId: r.provider_id,
      state: routerState(r.status),
      status: r.status || null,
      gateway: gw,
      interfaces,
      href: `#/providers/${r.provider_id}/routers/${r.id}`,
    };
  });
  const nicByPort = new Map(nics.filter((n) => n.portId).map((n) => [n.portId, n.id]));
  const floatingIps = (data.floating_ips || []).map((f) => ({
    id: f.id,
    kind: 'fip',
    name: f.floating_ip_address,
    address: f.floating_ip_address,
    fixedIp: f.fixed_ip_address || null,
    routerId: f.router_id || null,
    nicId: nicByPort.get(f.port_id) || null,
    providerId: f.provider_id,
    state: f.port_id ? routerState(f.status) : 'down',
    href: `#/providers/${f.provider_id}/routers${f.router_id ? `/${f.router_id}` : ''}`,
  }));
  return { routers, floatingIps, extraNetworks: [...extra.values()] };
}

function vmLabel(vm) {
  const addresses = vm.addresses.slice(0, 3).join(' ') + (vm.addresses.length > 3 ? ' …' : '');
  return [`${STATES[vm.state].glyph} ${vm.name}`, addresses].filter(Boolean);
}

function hostLabel(g) {
  if (g.kind === 'group') return [`${g.name} (${g.vms.length})`];
  return [`${STATES[g.state].glyph} ${g.name}${g.tunnelIp ? ` · ${g.tunnelIp}` : ''}`, g.text];
}

// What to draw, renderer-neutral: boxes (hosts), edges (with their end points resolved) and nodes, each with its
// kind, state, label lines and the page a click opens; every node at its place from `positions` (the layout).
// Ids are prefixed by kind so that no two kinds collide.
export function scene(model, positions, size) {
  const boxes = [];
  const edges = [];
  const nodes = [];
  const at = (id) => positions.get(id) || { x: 0, y: 0 };
  const node = (id, kind, w, h, label, state, href, extra = {}) => {
    const p = at(id);
    nodes.push({ id, kind, x: p.x, y: p.y, w, h, label, state, href, ...extra });
  };
  const edge = (id, kind, from, to, state, extra = {}) =>
    edges.push({ id, kind, x1: from.x, y1: from.y, x2: to.x, y2: to.y, state, ...extra });
  for (const g of model.groups) {
    const p = at(`h:${g.id}`);
    boxes.push({
      id: `h:${g.id}`,
      kind: g.kind,
      x: p.x,
      y: p.y,
      w: p.w || 0,
      h: p.h || 0,
      label: hostLabel(g),
      state: g.state,
      href: g.href,
    });
  }
  for (const n of model.networks)
    node(`w:${n.id}`, 'network', size.netW, size.netH, n.label.split('\n'), n.state, n.href);
  for (const vm of model.vms) {
    node(`v:${vm.id}`, 'vm', size.vmW, size.vmH, vmLabel(vm), vm.state, vm.href);
    for (const nic of vm.nics) {
      node(`n:${nic.id}`, 'nic', size.nic, size.nic, [], nic.state, nic.href, { name: `${vm.name} ${nic.name}` });
      if (nic.networkId) edge(`e:${nic.id}`, 'attach', at(`n:${nic.id}`), at(`w:${nic.networkId}`), nic.state);
    }
  }
  // a tunnel runs from the bottom of one host's box to the bottom of the other's, arcing below them
  const bottom = (id) => {
    const p = at(`h:${id}`);
    return { x: p.x, y: p.y + (p.h || 0) / 2 };
  };
  for (const t of model.tunnels) {
    const a = bottom(t.a);
    const b = bottom(t.b);
    const arc = 40 + Math.hypot(b.x - a.x, b.y - a.y) * 0.18;
    edge(`t:${t.id}`, 'tunnel', a, b, t.state, {
      cx: (a.x + b.x) / 2,
      cy: Math.max(a.y, b.y) + arc,
      label: t.networks.join(', '),
    });
  }
  for (const r of model.routers) {
    node(`r:${r.id}`, 'router', size.routerW, size.routerH, [`${STATES[r.state].glyph} ${r.name}`], r.state, r.href);
    r.interfaces.forEach((i, k) =>
      edge(`ri:${r.id}:${k}`, 'interface', at(`r:${r.id}`), at(`w:${i.networkId}`), r.state, { label: i.ip || '' }),
    );
    if (r.gateway)
      edge(`rg:${r.id}`, 'gateway', at(`r:${r.id}`), at(`w:${r.gateway.networkId}`), r.state, {
        label: r.gateway.ips.join(' '),
      });
  }
  for (const f of model.floatingIps) {
    node(
      `f:${f.id}`,
      'fip',
      size.fipW,
      size.fipH,
      [`${f.address}${f.fixedIp ? ` → ${f.fixedIp}` : ''}`],
      f.state,
      f.href,
    );
    if (f.routerId && positions.has(`r:${f.routerId}`))
      edge(`fr:${f.id}`, 'fiplink', at(`f:${f.id}`), at(`r:${f.routerId}`), f.state);
    if (f.nicId && positions.has(`n:${f.nicId}`))
      edge(`fn:${f.id}`, 'fiplink', at(`f:${f.id}`), at(`n:${f.nicId}`), f.state);
  }
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const item of [...boxes, ...nodes]) {
    x1 = Math.min(x1, item.x - item.w / 2);
    x2 = Math.max(x2, item.x + item.w / 2);
    y1 = Math.min(y1, item.y - item.h / 2);
    y2 = Math.max(y2, item.y + item.h / 2);
  }
  for (const e of edges) if (e.cy !== undefined) y2 = Math.max(y2, e.cy);
  const bounds = Number.isFinite(x1) ? { x1, y1, x2, y2 } : { x1: 0, y1: 0, x2: 1, y2: 1 };
  return { boxes, edges, nodes, bounds };
}

// What changes the drawing's structure (nodes, edges, parents) rather than only colours and labels: when it is
// the same after a refresh, the view only restyles what it has; when not, it lays out again.
export function structureKey(model) {
  const parts = [];
  for (const g of model.groups)
    parts.push(
      `h${g.id}:${g.vms.map((v) => `${v.id}/${v.nics.map((n) => `${n.id}>${n.networkId}`).join(',')}`).join(';')}`,
    );
  for (const n of model.networks) parts.push(`w${n.id}`);
  for (const t of model.tunnels) parts.push(`t${t.id}`);
  for (const r of model.routers)
    parts.push(`r${r.id}:${r.interfaces.map((i) => i.networkId).join(',')}>${r.gateway?.networkId || ''}`);
  for (const f of model.floatingIps) parts.push(`f${f.id}:${f.routerId}>${f.nicId}`);
  return parts.join('|');
}

// Find a node by what a person types: its name first, then an address of a VM.
export function find(model, text) {
  const q = String(text || '')
    .trim()
    .toLowerCase();
  if (!q) return null;
  const all = [
    ...model.vms.map((v) => ({ id: `v:${v.id}`, name: v.name, also: v.addresses })),
    ...model.hosts.map((x) => ({ id: `h:${x.id}`, name: x.name, also: x.tunnelIp ? [x.tunnelIp] : [] })),
    ...model.networks.map((n) => ({ id: `w:${n.id}`, name: n.name, also: n.subnets.map((s) => s.cidr) })),
    ...model.routers.map((r) => ({ id: `r:${r.id}`, name: r.name, also: [] })),
    ...model.floatingIps.map((f) => ({ id: `f:${f.id}`, name: f.address, also: [] })),
  ];
  return (
    all.find((e) => e.name.toLowerCase() === q) ||
    all.find((e) => e.also.some((a) => a.toLowerCase() === q)) ||
    all.find((e) => e.name.toLowerCase().includes(q)) ||
    null
  );
}

// One line a person reads for a node in the list and the status bar.
export function describe(item) {
  const state = STATES[item.state];
  switch (item.kind) {
    case 'nic':
      return `${item.name}: ${item.addresses.join(', ') || 'no address'}; port ${item.portStatus || (item.portId ? 'status unknown' : 'none')}; ${state.label}${item.lastError ? `; ${item.lastError}` : ''}`;
    case 'vm':
      return `${words(item.status)}; ${state.label}`;
    case 'host':
      return `${item.text}; ${state.label}`;
    case 'router':
      return `${item.interfaces.length} interface(s)${item.gateway ? `, gateway ${item.gateway.ips.join(' ') || 'set'}` : ''}; ${state.label}`;
    case 'fip':
      return `${item.fixedIp ? `maps to ${item.fixedIp}` : 'not associated'}; ${state.label}`;
    default:
      return item.missing
        ? 'missing from its provider'
        : (item.subnets || []).map((s) => s.cidr).join(', ') || 'no subnet';
  }
}
