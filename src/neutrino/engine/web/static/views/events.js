// The Events tab: the engine's audit log as oVirt's API serves it. Filters become an oVirt search
// (`severity>=warning and event_vm=web1 and message=*port*`); older events come page by page (`page N` with `max` the
// page size, newest first); while the first page is shown, newer events arrive live through `from=<newest index>`
// (oVirt's `from` answers the events newer than that index). An engine that refuses a query says why, word for word.

import * as api from '../api.js';
import { h, clear, table, badge, formatDate, busy } from '../ui.js';
import { toolbar } from './common.js';

const PAGE_SIZES = ['10', '25', '50', '100'];
const LIVE_MS = 3000;
const SEVERITIES = ['normal', 'warning', 'error', 'alert'];
const SEVERITY_KIND = { normal: 'muted', warning: 'warn', error: 'bad', alert: 'bad' };
// oVirt's audit-log search fields for the entity an event is about (AuditLogConditionFieldAutoCompleter)
// (+ Neutrino's event_cluster and event_provider, for the entities oVirt's events do not name)
const ENTITY_TERMS = {
  vm: 'event_vm',
  host: 'event_host',
  cluster: 'event_cluster',
  datacenter: 'event_datacenter',
  provider: 'event_provider',
};
const ENTITY_LABELS = {
  '': 'Any entity',
  vm: 'VM',
  host: 'Host',
  cluster: 'Cluster',
  datacenter: 'Data center',
  provider: 'Provider',
};

// kept across visits of the tab
const filters = { severity: '', entity: '', name: '', user: '', text: '', page: 1, size: '50' };

function quoted(value) {
  return /[\s"']/.test(value) ? `"${value.replaceAll('"', '')}"` : value;
}

// the oVirt search the filters make (without the page)
export function searchOf(f) {
  const terms = [];
  if (f.severity) terms.push(`severity>=${f.severity}`);
  if (f.entity && f.name.trim()) terms.push(`${ENTITY_TERMS[f.entity]}=${quoted(f.name.trim())}`);
  if (f.user.trim()) terms.push(`usrname=${quoted(f.user.trim())}`);
  if (f.text.trim()) terms.push(`message=${quoted(`*${f.text.trim()}*`)}`);
  return terms.join(' and ');
}

function path(f, { page, from } = {}) {
  const search = [searchOf(f), page ? `page ${page}` : ''].filter(Boolean).join(' ');
  const query = new URLSearchParams({ max: f.size });
  if (search) query.set('search', search);
  if (from !== undefined) query.set('from', String(from));
  return `/events?${query}`;
}

// oVirt's events carry an increasing integer index (also their id)
function indexOf(e) {
  const n = Number(e.index ?? e.id);
  return Number.isFinite(n) ? n : null;
}

function newestFirst(items) {
  return [...items].sort(
    (a, b) => (indexOf(b) ?? 0) - (indexOf(a) ?? 0) || String(b.time).localeCompare(String(a.time)),
  );
}

export async function events(ctx) {
  const state = { rows: [], fresh: new Set(), error: '', vms: new Map() };
  const root = h('div', { class: 'events' });
  const live = h('p', { class: 'note live-note', role: 'status' });
  const results = h('div', { class: 'event-results' });

  const load = async () => {
    state.error = '';
    state.fresh.clear();
    clear(results, busy('Loading events…'));
    try {
      const [rows, vms] = await Promise.all([
        api.list(path(filters, { page: filters.page > 1 ? filters.page : undefined }), 'event'),
        api.list('/vms', 'vm').catch(() => []),
      ]);
      state.rows = newestFirst(rows);
      state.vms = new Map(vms.map((v) => [v.id, v.name]));
    } catch (err) {
      if (err.status === 401) throw err;
      state.rows = [];
      state.error = err.message;
    }
    paint();
  };

  // newer events on the first page: `from` the newest index shown; without indexes, the first page again
  const poll = async () => {
    if (!ctx.alive() || filters.page !== 1 || state.error) return;
    const newest = state.rows.length ? indexOf(state.rows[0]) : 0;
    let incoming;
    try {
      incoming =
        newest !== null
          ? await api.list(path(filters, { from: newest }), 'event')
          : await api.list(path(filters), 'event');
    } catch {
      return; // the next look tries again; a refused query was shown when the page loaded
    }
    const seen = new Set(state.rows.map((e) => e.id));
    const added = incoming.filter((e) => !seen.has(e.id) && (newest === null || (indexOf(e) ?? 0) > newest));
    if (!added.length || !ctx.alive()) return;
    for (const e of added) state.fresh.add(e.id);
    state.rows = newestFirst([...added, ...state.rows]).slice(0, Number(filters.size));
    live.textContent = `${added.length} new event${added.length === 1 ? '' : 's'} at ${new Date().toLocaleTimeString()}.`;
    paint();
  };

  const paint = () => clear(results, resultsView(ctx, state, load));

  clear(root, h('h2', {}, 'Events'), filterForm(load), live, results);
  await load();
  ctx.poll(poll, LIVE_MS);
  return root;
}

function filterForm(load) {
  const severity = h(
    'select',
    { name: 'severity', id: 'ev-severity' },
    h('option', { value: '' }, 'Any'),
    SEVERITIES.slice(1).map((s) => h('option', { value: s }, `${s} or worse`)),
  );
  const entity = h(
    'select',
    { name: 'entity', id: 'ev-entity' },
    Object.entries(ENTITY_LABELS).map(([k, v]) => h('option', { value: k }, v)),
  );
  const name = h('input', { name: 'entity_name', id: 'ev-entity-name', placeholder: 'its name, * for any part' });
  const user = h('input', { name: 'user', id: 'ev-user', placeholder: 'e.g. admin' });
  const text = h('input', { name: 'text', id: 'ev-text', type: 'search' });
  const size = h(
    'select',
    { name: 'size', id: 'ev-size' },
    PAGE_SIZES.map((n) => h('option', { value: n }, n)),
  );
  size.value = filters.size;
  severity.value = filters.severity;
  entity.value = filters.entity;
  name.value = filters.name;
  user.value = filters.user;
  text.value = filters.text;
  const syncName = () => {
    name.disabled = !entity.value;
  };
  entity.addEventListener('change', syncName);
  syncName();
  const shown = h('code', { class: 'search-text' }, searchOf(filters) || '(everything)');
  const apply = (ev) => {
    ev.preventDefault();
    Object.assign(filters, {
      severity: severity.value,
      entity: entity.value,
      name: name.value,
      user: user.value,
      text: text.value,
      size: size.value,
      page: 1,
    });
    shown.textContent = searchOf(filters) || '(everything)';
    load();
  };
  const reset = () => {
    severity.value = entity.value = name.value = user.value = text.value = '';
    syncName();
  };
  const field = (label, control) => h('span', { class: 'filter' }, h('label', { for: control.id }, label), control);
  return h(
    'form',
    { class: 'event-filters', role: 'search', 'aria-label': 'Filter events', onsubmit: apply },
    field('Minimum severity', severity),
    field('About', entity),
    field('Entity name', name),
    field('User', user),
    field('Message contains', text),
    field('Per page', size),
    h(
      'span',
      { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Search'),
      ' ',
      h(
        'button',
        {
          type: 'button',
          onclick: (ev) => {
            reset();
            apply(ev);
          },
        },
        'Clear filters',
      ),
    ),
    h('p', { class: 'note' }, 'Search sent to the engine: ', shown),
  );
}

function resultsView(ctx, state, load) {
  const go = (page) => {
    filters.page = page;
    load();
  };
  const pager = toolbar(
    h(
      'button',
      { type: 'button', 'data-action': 'newer', disabled: filters.page <= 1, onclick: () => go(filters.page - 1) },
      'Newer',
    ),
    h('span', { class: 'note page-number' }, `Page ${filters.page}`),
    h(
      'button',
      {
        type: 'button',
        'data-action': 'older',
        disabled: state.rows.length < Number(filters.size),
        onclick: () => go(filters.page + 1),
      },
      'Older',
    ),
    h(
      'span',
      { class: 'note' },
      filters.page === 1 ? 'New events appear as they happen.' : 'Go back to the first page to follow new events.',
    ),
  );
  if (state.error) {
    return [pager, h('p', { class: 'error', role: 'alert' }, `The engine refused this search: ${state.error}`)];
  }
  return [
    pager,
    table({
      label: `Events, page ${filters.page}`,
      rows: state.rows,
      empty: 'No events match.',
      columns: [
        { title: 'Severity', render: (e) => badge(e.severity || 'normal', SEVERITY_KIND[e.severity] || 'muted') },
        {
          title: 'Time',
          render: (e) => [
            h('time', { datetime: e.time }, formatDate(e.time)),
            state.fresh.has(e.id) ? [' ', badge('new', 'ext')] : null,
          ],
        },
        { title: 'Message', render: (e) => e.description, wrap: true },
        { title: 'User', render: (e) => userOf(e) },
        { title: 'About', render: (e) => entityLinks(ctx, state, e), wrap: true },
        { title: 'Code', render: (e) => String(e.code ?? '—') },
      ],
      rowId: (e) => e.id,
    }),
  ];
}

function userOf(e) {
  const u = e.user;
  if (!u) return '—';
  return u.user_name || u.name || h('span', { title: u.id }, String(u.id || '').slice(0, 8) || '—');
}

// links to the entities an event is about, named as the engine names them
function entityLinks(ctx, state, e) {
  const links = [];
  const add = (ref, href, kind, name) => {
    if (!ref?.id) return;
    links.push(
      h(
        'a',
        { href: `${href}/${ref.id}`, class: `entity-link ${kind}` },
        `${kind} ${name || ref.name || ref.id.slice(0, 8)}`,
      ),
    );
  };
  add(e.vm, '#/vms', 'VM', state.vms.get(e.vm?.id));
  add(e.host, '#/hosts', 'host', ctx.names.hosts.get(e.host?.id));
  add(e.cluster, '#/clusters', 'cluster', ctx.names.clusters.get(e.cluster?.id));
  add(e.data_center, '#/datacenters', 'data center', ctx.names.datacenters.get(e.data_center?.id));
  const provider = e.custom_data && ctx.names.providers.get(e.custom_data);
  if (provider)
    links.push(h('a', { href: `#/providers/${e.custom_data}`, class: 'entity-link provider' }, `provider ${provider}`));
  if (!links.length) return '—';
  return links.flatMap((l, i) => (i ? [', ', l] : [l]));
}
