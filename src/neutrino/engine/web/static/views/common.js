// Pieces several views share: sub-tabs, the general panel, and the one way every list shows networks.

import * as api from '../api.js';
import { h, table, badge, dash } from '../ui.js';

export function subTabs(base, tabs, current, label) {
  return h('nav', { class: 'subtabs', 'aria-label': label },
    tabs.map(([key, text]) => h('a', { href: `${base}/${key}`, 'aria-current': key === current ? 'page' : undefined }, text)));
}

export function general(pairs) {
  return h('dl', { class: 'general' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]));
}

export function toolbar(...items) {
  return h('div', { class: 'toolbar', role: 'toolbar' }, items);
}

export function providerLink(ctx, ref) {
  if (!ref || !ref.id) return '';
  return h('a', { href: `#/providers/${ref.id}`, class: 'provider-link' }, ctx.names.providers.get(ref.id) || ref.id);
}

export function networkMarks(n) {
  return [
    n.external_provider ? badge('External', 'ext', 'Its networking comes from an external provider') : null,
    ' ',
    api.truthy(n.external_network_missing)
      ? badge('Missing from provider', 'bad', 'The provider no longer has this network') : null,
  ];
}

// Every list of networks (all, a DC's, a cluster's) shows the same columns, plus `extra` ones.
export function networkTable(ctx, rows, { selected, onSelect, extra = [], label = 'Networks' } = {}) {
  return table({
    label, rows, selected, onSelect,
    empty: 'No networks.',
    columns: [
      { title: 'Name', render: (n) => h('a', { href: `#/networks/${n.id}` }, n.name) },
      { title: 'Data Center', render: (n) => dash(ctx.names.datacenters.get(n.data_center?.id)) },
      { title: 'Provider', render: (n) => providerLink(ctx, n.external_provider) || '—' },
      { title: 'External', render: (n) => networkMarks(n) },
      ...extra,
      { title: 'MTU', render: (n) => (n.mtu && n.mtu !== '0' ? n.mtu : 'default') },
      { title: 'Description', render: (n) => dash(n.description), wrap: true },
    ],
  });
}

export function selectOf(items, { value, placeholder, name } = {}) {
  const sel = h('select', { name });
  if (placeholder) sel.append(h('option', { value: '' }, placeholder));
  for (const item of items) sel.append(h('option', { value: item.id }, item.name));
  if (value) sel.value = value;
  return sel;
}

// Attach a network to every cluster of its data center as a non-required network; returns the count.
export async function attachToClusters(networkId, dcId) {
  const clusters = await api.list(`/datacenters/${dcId}/clusters`, 'cluster');
  for (const c of clusters) {
    const attached = await api.list(`/clusters/${c.id}/networks`, 'network');
    if (attached.some((n) => n.id === networkId)) continue;
    await api.post(`/clusters/${c.id}/networks`, { id: networkId, required: 'false' });
  }
  return clusters.length;
}
