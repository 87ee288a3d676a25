// Pieces several views share: sub-tabs, the general panel, and the one way every list shows networks.

import * as api from '../api.js';
import { h, clear, table, badge, dash, notify, confirmDialog } from '../ui.js';

// A sub-tab's panel whose loading failed shows the engine's message in its place, and the rest of the page stays.
export async function guarded(load) {
  try {
    return await load();
  } catch (err) {
    if (err.status === 401) throw err;
    return h('p', { class: 'error', role: 'alert' }, err.message || String(err));
  }
}

export function subTabs(base, tabs, current, label) {
  return h(
    'nav',
    { class: 'subtabs', 'aria-label': label },
    tabs.map(([key, text]) =>
      h('a', { href: `${base}/${key}`, 'aria-current': key === current ? 'page' : undefined }, text),
    ),
  );
}

export function general(pairs) {
  return h(
    'dl',
    { class: 'general' },
    pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]),
  );
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
      ? badge('Missing from provider', 'bad', 'The provider no longer has this network')
      : null,
  ];
}

// Every list of networks (all, a DC's, a cluster's) shows the same columns, plus `extra` ones.
export function networkTable(ctx, rows, { selected, onSelect, extra = [], label = 'Networks' } = {}) {
  return table({
    label,
    rows,
    selected,
    onSelect,
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

// A host by reference: a link to its page, named as the engine names it.
export function hostLink(ctx, ref) {
  if (!ref || !ref.id) return '';
  return h('a', { href: `#/hosts/${ref.id}`, class: 'host-link' }, ctx.names.hosts.get(ref.id) || ref.id);
}

const HOST_STATUS = { up: 'ok', non_responsive: 'bad', installing: 'warn' };

// A host's status; when it is not Up, why (status_detail) follows it, readable without hovering.
export function hostStatus(x, { detail = true } = {}) {
  const status = x.status || 'unknown';
  const mark = badge(status.replaceAll('_', ' '), HOST_STATUS[status] || 'muted', x.status_detail || undefined);
  if (!detail || status === 'up' || !x.status_detail) return mark;
  return [mark, ' ', h('span', { class: 'status-detail' }, x.status_detail)];
}

// Neutrino's extension on /hosts: what the host's agent can plug, one entry per plugin type.
export function vnicDrivers(x) {
  return x.vnic_drivers?.vnic_driver || [];
}

export function networkTypes(d) {
  const types = String(d.network_types || '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return !types.length || types.includes('*') ? 'any' : types.join(', ');
}

// A part of a page that keeps itself current: `load()` fetches, `view(data)` renders; it re-renders only when
// the data changed, keeps the keyboard focus where it was, and stops when the user navigates away.
// The view gets a handle: `refresh()` looks now, `repaint()` renders again (after a change of its own state).
// `every(data)` says how long to wait before the next look (ms), so a view can look faster while things move.
export async function live(ctx, every, load, view) {
  const root = h('div', { class: 'live' });
  let last = await load();
  let seen = JSON.stringify(last);
  let timer = null;
  let chain = Promise.resolve();
  const wait = () => (typeof every === 'function' ? every(last) : every);
  const paint = () => keepFocus(root, () => clear(root, view(last, handle)));
  // one look at a time: a look asked for while another runs follows it, and its promise resolves after it
  const again = () => (chain = chain.then(look));
  const handle = { refresh: again, repaint: paint };
  async function look() {
    clearTimeout(timer);
    if (!ctx.alive()) return;
    try {
      const data = await load();
      const text = JSON.stringify(data);
      if (ctx.alive() && text !== seen) {
        last = data;
        seen = text;
        paint();
      }
    } catch (err) {
      if (ctx.alive()) notify(err.message);
    }
    clearTimeout(timer);
    if (ctx.alive()) timer = setTimeout(again, wait());
  }
  paint();
  timer = setTimeout(again, wait());
  return root;
}

// Re-rendering in place must not throw the keyboard user out of what they were on.
export function keepFocus(root, replace) {
  const active = document.activeElement;
  const key =
    active && root.contains(active) ? active.dataset.id || active.dataset.action || active.getAttribute('href') : null;
  replace();
  if (!key) return;
  const again = [...root.querySelectorAll('[data-id], [data-action], a[href]')].find(
    (el) => el.dataset.id === key || el.dataset.action === key || el.getAttribute('href') === key,
  );
  if (again) again.focus();
}

export function byName(items) {
  return [...items].sort((a, b) => a.name.localeCompare(b.name));
}

// oVirt's compatibility versions (4.2 to 4.7), newest first
export const VERSIONS = ['4.7', '4.6', '4.5', '4.4', '4.3', '4.2'];

export function versionText(v) {
  return v ? `${v.major}.${v.minor}` : '—';
}

export function versionBody(text) {
  const [major, minor] = text.split('.');
  return { major, minor };
}

// A data center's or cluster's Remove: asks, then shows the engine's answer word for word.
export async function removeEntity(ctx, { title, text, path, done, back, extra, query = () => '' }) {
  if (!(await confirmDialog(title, text, 'Remove', extra))) return;
  try {
    await api.del(`${path}${query()}`);
    notify(done, 'success');
    await ctx.refresh();
    ctx.go(back);
  } catch (err) {
    notify(err.message);
  }
}
