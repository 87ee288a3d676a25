// Data Centers, Clusters and Events tabs.

import * as api from '../api.js';
import { h, table, dash, badge, formatDate } from '../ui.js';
import { subTabs, general, networkTable, guarded } from './common.js';
import { hostTable } from './hosts.js';
import { clusterNetworks } from './cluster-networks.js';

function byName(items) { return [...items].sort((a, b) => a.name.localeCompare(b.name)); }

export async function dataCenters(ctx) {
  const rows = byName(ctx.cache.datacenters);
  const selected = rows.find((d) => d.id === ctx.id);
  const parts = [h('h2', {}, 'Data Centers'), table({
    label: 'Data centers', rows, selected: ctx.id, onSelect: (d) => ctx.go(`#/datacenters/${d.id}/${ctx.sub || 'networks'}`),
    columns: [
      { title: 'Name', render: (d) => h('a', { href: `#/datacenters/${d.id}` }, d.name) },
      { title: 'Status', render: (d) => dash(d.status) },
      { title: 'Compatibility', render: (d) => (d.version ? `${d.version.major}.${d.version.minor}` : '—') },
      { title: 'Description', render: (d) => dash(d.description), wrap: true },
    ],
  })];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `Data center '${ctx.id}' was not found.`));
  if (selected) {
    const sub = ctx.sub === 'clusters' ? 'clusters' : 'networks';
    const panel = sub === 'clusters'
      ? clusterTable(ctx, ctx.cache.clusters.filter((c) => c.data_center?.id === selected.id))
      : await guarded(async () => networkTable(ctx, byName(await api.list(`/datacenters/${selected.id}/networks`, 'network')),
        { label: `Networks of ${selected.name}` }));
    parts.push(h('h3', {}, `Data center ${selected.name}`),
      subTabs(`#/datacenters/${selected.id}`, [['networks', 'Networks'], ['clusters', 'Clusters']], sub, `Data center ${selected.name}`),
      h('div', { class: 'subpanel' }, panel));
  }
  return parts;
}

function clusterTable(ctx, rows, selected) {
  return table({
    label: 'Clusters', rows: byName(rows), selected, onSelect: (c) => ctx.go(`#/clusters/${c.id}`),
    columns: [
      { title: 'Name', render: (c) => h('a', { href: `#/clusters/${c.id}` }, c.name) },
      { title: 'Data Center', render: (c) => dash(ctx.names.datacenters.get(c.data_center?.id)) },
      { title: 'Compatibility', render: (c) => (c.version ? `${c.version.major}.${c.version.minor}` : '—') },
      { title: 'Description', render: (c) => dash(c.description), wrap: true },
    ],
  });
}

export async function clusters(ctx) {
  const selected = ctx.cache.clusters.find((c) => c.id === ctx.id);
  const parts = [h('h2', {}, 'Clusters'), clusterTable(ctx, ctx.cache.clusters, ctx.id)];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `Cluster '${ctx.id}' was not found.`));
  if (selected) {
    const sub = ['general', 'hosts'].includes(ctx.sub) ? ctx.sub : 'networks';
    const panel = sub === 'hosts'
      ? hostTable(ctx, byName(ctx.cache.hosts.filter((x) => x.cluster?.id === selected.id)), { label: `Hosts of ${selected.name}` })
      : sub === 'general'
      ? general([['Name', selected.name], ['ID', selected.id], ['Data Center', ctx.names.datacenters.get(selected.data_center?.id)],
        ['Description', selected.description], ['CPU architecture', selected.cpu?.architecture]])
      : await guarded(() => clusterNetworks(ctx, selected));
    parts.push(h('h3', {}, `Cluster ${selected.name}`),
      subTabs(`#/clusters/${selected.id}`, [['networks', 'Logical Networks'], ['hosts', 'Hosts'], ['general', 'General']], sub, `Cluster ${selected.name}`),
      h('div', { class: 'subpanel' }, panel));
  }
  return parts;
}

export async function events(ctx) {
  // the engine lists the newest first; the last 500 are enough for a page
  const items = await api.list('/events?max=500', 'event');
  return [h('h2', {}, 'Events'), h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: () => ctx.go(location.hash) }, 'Refresh')), table({
    label: 'Events', rows: items.slice(0, 500), empty: 'No events.',
    columns: [
      { title: 'Time', render: (e) => formatDate(e.time) },
      { title: 'Severity', render: (e) => badge(e.severity || 'normal', e.severity === 'error' ? 'bad' : e.severity === 'warning' ? 'warn' : 'muted') },
      { title: 'Message', render: (e) => e.description, wrap: true },
    ],
  })];
}
