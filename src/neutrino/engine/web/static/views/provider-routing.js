// A provider's Routers sub-tab: its routers (gateway, SNAT, interfaces, static routes) and floating IPs, read live
// through the engine's provider client (GET /ui/providers/{id}/routing) and shown read only: routing is managed on
// the provider. A provider without L3 (no 'router' extension) says so instead.

import * as api from '../api.js';
import { h, table, dash, badge, yesNo } from '../ui.js';
import { general } from './common.js';

const STATUS_KIND = { ACTIVE: 'ok', DOWN: 'bad', ERROR: 'bad', BUILD: 'warn' };

function status(s) {
  return s ? badge(s, STATUS_KIND[s] || 'warn') : '—';
}

// a provider network by its name on the provider, with a link to the engine's network that imports it
function networkText(net) {
  if (!net) return '—';
  const name = net.name || net.id;
  if (!net.engine) return name;
  return h(
    'a',
    { href: `#/networks/${net.engine.id}` },
    net.engine.name === name ? name : `${net.engine.name} (${name})`,
  );
}

export async function providerRouting(ctx, p) {
  const data = await api.get(`/ui/providers/${p.id}/routing`);
  if (!data.routing) return h('p', { class: 'note', role: 'status' }, data.reason);
  if (data.error) return h('p', { class: 'error', role: 'alert' }, data.error);
  const base = `#/providers/${p.id}/routers`;
  const chosen = data.routers.find((r) => r.id === ctx.item);
  const parts = [
    h(
      'p',
      { class: 'note' },
      `Read from ${p.name} as the engine's provider client sees it. Routers and floating IPs are managed on the provider.`,
    ),
    h('h4', {}, `Routers (${data.routers.length})`),
    table({
      label: 'Routers',
      rows: data.routers,
      selected: ctx.item,
      empty: 'The provider has no routers.',
      onSelect: (r) => ctx.go(`${base}/${r.id}`),
      columns: [
        { title: 'Name', render: (r) => h('a', { href: `${base}/${r.id}` }, r.name || r.id) },
        { title: 'Status', render: (r) => status(r.status) },
        { title: 'Gateway network', render: (r) => networkText(r.gateway?.network) },
        { title: 'Gateway addresses', render: (r) => dash(r.gateway?.ips.join(', ')), wrap: true },
        { title: 'Interfaces', render: (r) => String(r.interfaces.length) },
      ],
    }),
  ];
  if (ctx.item && !chosen) parts.push(h('p', { class: 'error', role: 'alert' }, `Router '${ctx.item}' was not found.`));
  if (chosen) parts.push(routerDetail(base, chosen, data.floating_ips));
  parts.push(
    h('h4', {}, `Floating IPs (${data.floating_ips.length})`),
    fipTable(base, data.floating_ips, 'Floating IPs', 'The provider has no floating IPs.'),
  );
  return parts;
}

function routerDetail(base, r, fips) {
  const snat = r.gateway
    ? r.gateway.snat === null
      ? 'Yes (the provider always translates)'
      : yesNo(r.gateway.snat)
    : '—';
  return h(
    'section',
    { 'aria-label': `Router ${r.name || r.id}` },
    h('h4', {}, `Router ${r.name || r.id}`),
    general([
      ['Name', r.name],
      ['Status', status(r.status)],
      ['Administrative state', r.admin_state_up ? 'Up' : 'Down'],
      ['Gateway network', networkText(r.gateway?.network)],
      ['Gateway addresses', r.gateway?.ips.join(', ')],
      ['Source NAT', snat],
      ['Project', r.project_id],
      ['ID', r.id],
    ]),
    h('h5', {}, 'Interfaces'),
    table({
      label: `Interfaces of router ${r.name || r.id}`,
      rows: r.interfaces,
      rowId: (i) => `${i.port_id}:${i.subnet_id}`,
      empty: 'The router has no interfaces.',
      columns: [
        { title: 'Network', render: (i) => networkText(i.network) },
        { title: 'Subnet', render: (i) => dash(i.cidr || i.subnet_id) },
        { title: 'Address', render: (i) => i.ip_address },
        { title: 'Status', render: (i) => status(i.status) },
        { title: 'Port', render: (i) => i.port_id },
      ],
    }),
    h('h5', {}, 'Static routes'),
    table({
      label: `Static routes of router ${r.name || r.id}`,
      rows: r.routes,
      rowId: (x) => `${x.destination}>${x.nexthop}`,
      empty: 'No static routes.',
      columns: [
        { title: 'Destination', render: (x) => x.destination },
        { title: 'Next hop', render: (x) => x.nexthop },
      ],
    }),
    h('h5', {}, 'Floating IPs through this router'),
    fipTable(
      base,
      fips.filter((f) => f.router?.id === r.id),
      `Floating IPs of router ${r.name || r.id}`,
      'No floating IP goes through this router.',
    ),
  );
}

function fipTable(base, rows, label, empty) {
  return table({
    label,
    rows,
    empty,
    columns: [
      { title: 'Address', render: (f) => f.floating_ip_address },
      { title: 'Status', render: (f) => status(f.status) },
      { title: 'Network', render: (f) => networkText(f.network) },
      { title: 'Fixed address', render: (f) => dash(f.fixed_ip_address) },
      {
        title: 'vNIC',
        render: (f) =>
          f.vnic
            ? h('a', { href: `#/vms/${f.vnic.vm_id}/nics` }, `${f.vnic.vm_name || f.vnic.vm_id} · ${f.vnic.name}`)
            : f.port_id
              ? `port ${f.port_id}`
              : 'Not associated',
      },
      {
        title: 'Router',
        render: (f) => (f.router ? h('a', { href: `${base}/${f.router.id}` }, f.router.name || f.router.id) : '—'),
      },
    ],
  });
}
