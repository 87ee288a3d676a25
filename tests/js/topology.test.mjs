// The topology view's data shaping and layout (src/neutrino/engine/web/static/views/topology-*.js), run by
// `node --test tests/js/` (tests/unit/test_topology_js.py runs it in the Python suite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  shape, scene, structureKey, find, nicState, vmState, hostState, tunnels,
} from '../../src/neutrino/engine/web/static/views/topology-model.js';
import { layout, SIZE } from '../../src/neutrino/engine/web/static/views/topology-layout.js';

const P = 'prov-1';

// An engine's /ui/topology answer: `hosts` hosts, `vms` VMs (every `downEvery`-th down), `nets` provider networks;
// each VM has one vNIC on network i % nets and one on (i + 1) % nets.
function world({ hosts = 2, vms = 4, nets = 2, downEvery = 0 } = {}) {
  const data = { scope: { kind: 'all', id: null, name: 'All data centers' }, providers: [{ id: P, name: 'osp', error: null }],
    hosts: [], networks: [], vms: [], nics: [], routers: [], floating_ips: [], version: 'v1' };
  for (let i = 0; i < hosts; i++) {
    data.hosts.push({ id: `h${i}`, name: `host-${i}`, status: 'up', status_detail: '', cluster_id: 'c', tunnel_ip: `192.0.2.${i + 1}`,
      agents: [{ provider_id: P, type: 'Linux bridge agent', binary: '', alive: true }] });
  }
  for (let i = 0; i < nets; i++) {
    data.networks.push({ id: `w${i}`, name: `net-${String(i).padStart(2, '0')}`, data_center_id: 'dc', provider_id: P,
      provider_network_id: `pn${i}`, external_missing: false, network_type: 'vxlan', segmentation_id: 100 + i, vlan_id: null,
      mtu: 1450, subnets: [{ id: `s${i}`, name: `sub-${i}`, cidr: `10.${i}.0.0/24`, ip_version: 4, gateway_ip: `10.${i}.0.1` }] });
  }
  for (let i = 0; i < vms; i++) {
    const down = downEvery && i % downEvery === 0;
    data.vms.push({ id: `v${i}`, name: `vm-${String(i).padStart(4, '0')}`, status: down ? 'down' : 'up', host_id: down ? null : `h${i % hosts}`, cluster_id: 'c' });
    for (const [k, net] of [[1, i % nets], [2, (i + 1) % nets]]) {
      data.nics.push({ id: `n${i}-${k}`, name: `nic${k}`, vm_id: `v${i}`, network_id: `w${net}`, mac: '56:6f:00:00:00:01',
        plugged: true, linked: true, provisioning: down ? 'unplugged' : 'plugged', last_error: null, port_id: `port-${i}-${k}`,
        port_status: down ? 'DOWN' : 'ACTIVE', binding_host: down ? null : `host-${i % hosts}`, addresses: [`10.${net}.${Math.floor(i / 250)}.${(i % 250) + 2}`] });
    }
  }
  return data;
}

test('vNIC, VM and host states follow the live data', () => {
  const up = { status: 'up' };
  assert.equal(nicState({ plugged: true, provisioning: 'plugged', port_status: 'ACTIVE', port_id: 'p' }, up), 'active');
  assert.equal(nicState({ plugged: true, provisioning: 'plugged', port_status: 'DOWN', port_id: 'p' }, up), 'down');
  assert.equal(nicState({ plugged: true, provisioning: 'failed', port_status: 'ACTIVE', port_id: 'p' }, up), 'failed');
  assert.equal(nicState({ plugged: true, provisioning: 'preparing', port_status: null, port_id: null }, up), 'pending');
  assert.equal(nicState({ plugged: false, provisioning: 'plugged', port_status: 'ACTIVE', port_id: 'p' }, up), 'unplugged');
  // an engine network's vNIC has no port: it is active when its VM runs it
  assert.equal(nicState({ plugged: true, provisioning: 'plugged', port_status: null, port_id: null }, up), 'active');
  assert.equal(nicState({ plugged: true, provisioning: 'unplugged', port_status: null, port_id: null }, { status: 'down' }), 'down');

  assert.equal(vmState({ status: 'up' }, [{ state: 'active' }, { state: 'unplugged' }]), 'active');
  assert.equal(vmState({ status: 'up' }, [{ state: 'active' }, { state: 'down' }]), 'pending');
  assert.equal(vmState({ status: 'down' }, [{ state: 'down' }]), 'down');
  assert.equal(vmState({ status: 'powering_up' }, []), 'pending');
  assert.equal(vmState({ status: 'down' }, [{ state: 'failed' }]), 'failed');

  assert.equal(hostState({ status: 'up', agents: [{ alive: true }] }), 'active');
  assert.equal(hostState({ status: 'up', agents: [{ alive: false }] }), 'agentdead');
  assert.equal(hostState({ status: 'non_responsive', agents: [] }), 'unreachable');
  assert.equal(hostState({ status: 'maintenance' }), 'down');
  assert.equal(hostState({ status: 'installing' }), 'pending');
});

test('VMs are grouped by host, the stopped ones under Not running, with their vNICs and addresses', () => {
  const m = shape(world({ hosts: 2, vms: 6, nets: 3, downEvery: 3 }));
  assert.deepEqual(m.groups.map((g) => g.name), ['host-0', 'host-1', 'Not running']);
  assert.deepEqual(m.groups.at(-1).vms.map((v) => v.name), ['vm-0000', 'vm-0003']);
  assert.deepEqual(m.groups[0].vms.map((v) => v.name), ['vm-0002', 'vm-0004']);
  const vm = m.vms.find((v) => v.name === 'vm-0001');
  assert.equal(vm.state, 'active');
  assert.deepEqual(vm.addresses, ['10.1.0.3', '10.2.0.3']);
  assert.deepEqual(vm.nics.map((n) => [n.name, n.networkId, n.state]), [['nic1', 'w1', 'active'], ['nic2', 'w2', 'active']]);
  assert.equal(m.vms.find((v) => v.name === 'vm-0000').state, 'down');
  assert.equal(m.networks[0].label, 'net-00\n10.0.0.0/24\nvxlan 100');
  assert.equal(m.hosts[0].text, 'up, agent alive, tunnel 192.0.2.1');
});

test('tunnels join the hosts that carry the same overlay network, and go bad with a host', () => {
  const data = world({ hosts: 3, vms: 3, nets: 3 });
  // VMs: v0 on host-0 (net 0, 1), v1 on host-1 (1, 2), v2 on host-2 (2, 0)
  let m = shape(data);
  assert.deepEqual(m.tunnels.map((t) => [t.id, t.networks, t.state]),
    [['h0|h1', ['net-01'], 'active'], ['h0|h2', ['net-00'], 'active'], ['h1|h2', ['net-02'], 'active']]);
  // a flat network makes no tunnel; a stopped VM's host carries nothing
  data.networks[1].network_type = 'flat';
  data.vms[2].status = 'down';
  data.hosts[0].status = 'non_responsive';
  m = shape(data);
  assert.deepEqual(m.tunnels, []);
  data.networks[1].network_type = 'vxlan';
  m = shape(data);
  assert.deepEqual(m.tunnels.map((t) => [t.id, t.state]), [['h0|h1', 'failed']]);
  // engine (internal) networks never tunnel
  assert.deepEqual(tunnels([{ id: 'i', provider_id: null, network_type: null, name: 'ovirtmgmt' }],
    [{ id: 'a', host_id: 'h0', status: 'up' }, { id: 'b', host_id: 'h1', status: 'up' }],
    [{ vm_id: 'a', network_id: 'i', plugged: true }, { vm_id: 'b', network_id: 'i', plugged: true }], new Map()), []);
});

test('routers join their interfaces\' and gateway\'s networks; floating IPs join the router and the vNIC', () => {
  const data = world({ hosts: 1, vms: 1, nets: 2 });
  data.provider_networks = [{ id: 'pub', provider_id: P, name: 'public', external: true, network_type: 'flat',
    subnets: [{ id: 'sp', cidr: '203.0.113.0/24' }] }];
  data.routers = [{ id: 'r1', name: 'edge', status: 'ACTIVE', provider_id: P,
    gateway: { network_id: 'pub', ips: ['203.0.113.10'] },
    interfaces: [{ network_id: 'pn0', subnet_id: 's0', ip_address: '10.0.0.1' }, { network_id: 'pn9', subnet_id: 's9', ip_address: '10.9.0.1' }] }];
  data.floating_ips = [{ id: 'f1', provider_id: P, floating_ip_address: '203.0.113.20', fixed_ip_address: '10.0.0.2',
    port_id: 'port-0-1', router_id: 'r1', floating_network_id: 'pub', status: 'ACTIVE' }];
  const m = shape(data);
  const [r] = m.routers;
  assert.equal(r.state, 'active');
  assert.deepEqual(r.interfaces.map((i) => [i.networkId, i.ip]), [['w0', '10.0.0.1'], [`p:${P}|pn9`, '10.9.0.1']]);
  assert.equal(r.gateway.networkId, `p:${P}|pub`);
  const names = m.networks.map((n) => n.name);
  assert.ok(names.includes('public') && names.includes('network pn9'), names.join());
  assert.equal(m.networks.find((n) => n.name === 'public').label, 'public\n203.0.113.0/24\nflat');
  assert.equal(m.floatingIps[0].nicId, 'n0-1');
  const drawn = scene(m, layout(m), SIZE);
  const ids = new Set([...drawn.nodes, ...drawn.edges].map((e) => e.id));
  for (const id of ['r:r1', 'ri:r1:0', 'ri:r1:1', 'rg:r1', 'f:f1', 'fr:f1', 'fn:f1', `w:p:${P}|pub`]) assert.ok(ids.has(id), id);
  const gateway = drawn.edges.find((e) => e.id === 'rg:r1');
  assert.equal(gateway.label, '203.0.113.10');
  const pos = layout(m);
  assert.ok(pos.get('r:r1').y < pos.get('w:w0').y, 'routers above networks');
  assert.ok(pos.get('f:f1').y < pos.get('r:r1').y, 'floating IPs above their router');
});

test('scene: every edge ends on a drawn node, every VM sits in its host\'s box, every node links to its page', () => {
  const m = shape(world({ hosts: 3, vms: 20, nets: 4, downEvery: 5 }));
  const drawn = scene(m, layout(m), SIZE);
  const nodes = new Map([...drawn.nodes, ...drawn.boxes].map((n) => [n.id, n]));
  const at = (x, y) => [...nodes.values()].some((n) => n.kind !== 'host' && n.kind !== 'group' && n.x === x && n.y === y);
  for (const e of drawn.edges.filter((x) => x.kind === 'attach')) {
    assert.ok(at(e.x1, e.y1) && at(e.x2, e.y2), e.id);
  }
  for (const g of m.groups) {
    const box = nodes.get(`h:${g.id}`);
    for (const vm of g.vms) {
      const n = nodes.get(`v:${vm.id}`);
      assert.ok(Math.abs(n.x - box.x) + n.w / 2 <= box.w / 2 && Math.abs(n.y - box.y) + n.h / 2 <= box.h / 2, `${vm.name} in ${g.name}`);
    }
  }
  assert.equal(nodes.get('v:v1').href, '#/vms/v1/nics');
  assert.equal(nodes.get('n:n1-1').href, '#/vms/v1/nics');
  assert.equal(nodes.get('w:w0').href, '#/networks/w0');
  assert.equal(nodes.get('h:h0').href, '#/hosts/h0');
  assert.equal(nodes.get('v:v1').state, 'active');
  assert.deepEqual(nodes.get('v:v1').label, ['✓ vm-0001', '10.1.0.3 10.2.0.3']);
  assert.equal(nodes.get('v:v0').state, 'down');
  const t = drawn.edges.find((e) => e.kind === 'tunnel');
  assert.ok(t.cy > Math.max(t.y1, t.y2), 'tunnels arc below the boxes');
  const { bounds } = drawn;
  for (const n of nodes.values()) assert.ok(n.x >= bounds.x1 && n.x <= bounds.x2 && n.y >= bounds.y1 && n.y <= bounds.y2, n.id);
});

test('a state change keeps the structure; a VM moving host changes it', () => {
  const data = world({ hosts: 2, vms: 4, nets: 2, downEvery: 4 });
  const before = structureKey(shape(data));
  data.nics[2].port_status = 'DOWN';
  assert.equal(structureKey(shape(data)), before);
  data.vms[0].status = 'up';
  data.vms[0].host_id = 'h1';
  assert.notEqual(structureKey(shape(data)), before);
});

test('find a node by name, address or CIDR', () => {
  const m = shape(world({ hosts: 2, vms: 4, nets: 2 }));
  assert.equal(find(m, 'VM-0002').id, 'v:v2');
  assert.equal(find(m, '10.1.0.4').id, 'v:v2');
  assert.equal(find(m, '10.0.0.0/24').id, 'w:w0');
  assert.equal(find(m, 'host-1').id, 'h:h1');
  assert.equal(find(m, 'nothing-like-it'), null);
});

test('layout: a few networks over one small host sit side by side, not in a column', () => {
  const m = shape(world({ hosts: 1, vms: 1, nets: 3 }));
  const pos = layout(m);
  const ys = new Set(m.networks.map((n) => pos.get(`w:${n.id}`).y));
  assert.equal(ys.size, 1);
});

test('layout: deterministic, nothing overlaps, networks above hosts, 500 VMs and 50 networks in well under 1 s', () => {
  const data = world({ hosts: 5, vms: 500, nets: 50, downEvery: 10 });
  const t0 = performance.now();
  const m = shape(data);
  const pos = layout(m);
  const drawn = scene(m, pos, SIZE);
  const ms = performance.now() - t0;
  // a few tens of ms on a quiet machine, cold; the bench measures the whole page (< 1 s)
  assert.ok(ms < 300, `shape, layout and scene took ${ms.toFixed(1)} ms`);
  assert.equal(drawn.boxes.length + drawn.nodes.length, 6 + 500 + 1000 + 50);
  assert.deepEqual([...layout(m)], [...pos]);
  const vms = m.vms.map((v) => pos.get(`v:${v.id}`));
  assert.ok(vms.every(Boolean));
  const seen = new Set(vms.map((p) => `${p.x},${p.y}`));
  assert.equal(seen.size, vms.length, 'two VMs at one place');
  // VMs of one host are a cell apart at least
  for (const g of m.groups) {
    const xs = g.vms.map((v) => pos.get(`v:${v.id}`));
    for (let i = 1; i < xs.length; i++) {
      const d = Math.max(Math.abs(xs[i].x - xs[i - 1].x), Math.abs(xs[i].y - xs[i - 1].y));
      assert.ok(d >= Math.min(SIZE.cellW, SIZE.cellH), `${g.name}: VMs ${i - 1} and ${i} overlap`);
    }
  }
  const nets = m.networks.map((n) => pos.get(`w:${n.id}`));
  const netXs = new Set(nets.map((p) => `${p.x},${p.y}`));
  assert.equal(netXs.size, nets.length, 'two networks at one place');
  const lowestNet = Math.max(...nets.map((p) => p.y));
  const highestVm = Math.min(...vms.map((p) => p.y));
  assert.ok(lowestNet + SIZE.netH < highestVm - SIZE.vmH, 'networks above the hosts');
  // the picture is about as wide as a screen, not a long strip
  const xs = [...pos.values()].filter((p) => p.x !== undefined).map((p) => p.x);
  const ys = [...pos.values()].filter((p) => p.y !== undefined).map((p) => p.y);
  const aspect = (Math.max(...xs) - Math.min(...xs)) / (Math.max(...ys) - Math.min(...ys));
  assert.ok(aspect > 0.6 && aspect < 4, `aspect ${aspect.toFixed(2)}`);
});
