// The shell: login, the system tree, the main tabs, and a hash router that hands each view a context.

import * as api from './api.js';
import { h, clear, notify, busy } from './ui.js';
import { renderTree as drawTree } from './tree.js';
import * as datacenters from './views/datacenters.js';
import * as clustersView from './views/clusters.js';
import * as eventsView from './views/events.js';
import * as networks from './views/networks.js';
import * as profilesView from './views/profiles.js';
import * as providers from './views/providers.js';
import * as vms from './views/vms.js';
import * as hostsView from './views/hosts.js';
import { topology } from './views/topology.js';

const TABS = [
  ['datacenters', 'Data Centers'],
  ['clusters', 'Clusters'],
  ['hosts', 'Hosts'],
  ['networks', 'Networks'],
  ['vnicprofiles', 'vNIC Profiles'],
  ['vms', 'Virtual Machines'],
  ['providers', 'Providers'],
  ['topology', 'Topology'],
  ['events', 'Events'],
];

const ROUTES = {
  datacenters: datacenters.dataCenters,
  clusters: clustersView.clusters,
  hosts: hostsView.hosts,
  events: eventsView.events,
  networks: networks.networks,
  vnicprofiles: profilesView.profiles,
  vms: vms.vms,
  providers: providers.providers,
  topology,
};

// views whose first reads need nothing from the shared names start them beside those
const PREFETCH = { vms: vms.prefetch };

const $ = (id) => document.getElementById(id);
let generation = 0;
let timers = [];

// Names of the entities other lists refer to, refreshed on each navigation.
const names = {
  datacenters: new Map(),
  clusters: new Map(),
  providers: new Map(),
  hosts: new Map(),
  networks: new Map(),
};
let cache = { datacenters: [], clusters: [], providers: [], networks: [], hosts: [] };
// when the names were last read; a view that prefetches its own data uses names this fresh without waiting
let namesAt = 0;
const NAMES_FRESH_MS = 30000;

async function loadNames() {
  const [datacenters, clusters, provs, nets, hosts] = await Promise.all([
    api.list('/datacenters', 'data_center'),
    api.list('/clusters', 'cluster'),
    api.list('/openstacknetworkproviders', 'openstack_network_provider'),
    api.list('/networks', 'network'),
    api.list('/hosts', 'host'),
  ]);
  cache = { datacenters, clusters, providers: provs, networks: nets, hosts };
  namesAt = Date.now();
  for (const [key, items] of Object.entries(cache)) names[key] = new Map(items.map((i) => [i.id, i.name]));
  return cache;
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { tab: parts[0] || 'datacenters', id: parts[1], sub: parts[2], item: parts[3] };
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function stopTimers() {
  for (const t of timers) clearInterval(t);
  timers = [];
}

// Where the keyboard focus was, so that it can be put back on the same thing once the page is drawn again: the
// row, tab, tree link or button the user pressed Enter on is replaced by its new self.
function focusKey() {
  const el = document.activeElement;
  const zone = el && ['tabs', 'tree', 'view'].find((id) => $(id).contains(el));
  if (!zone || el === $('view')) return zone ? { zone } : null;
  const key = el.dataset.id || el.dataset.action || el.getAttribute('href');
  return { zone, key: key || `${el.tagName}:${el.textContent.trim()}`, text: el.textContent.trim() };
}

function restoreFocus(before) {
  if (!before) return;
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return; // focus is on something still there
  const keyOf = (el) =>
    el.dataset.id || el.dataset.action || el.getAttribute('href') || `${el.tagName}:${el.textContent.trim()}`;
  const candidates = before.key
    ? [...$(before.zone).querySelectorAll('[data-id], [data-action], a[href], button')].filter((el) => !el.disabled)
    : [];
  const found =
    candidates.find((el) => keyOf(el) === before.key && el.textContent.trim() === before.text) ||
    candidates.find((el) => keyOf(el) === before.key);
  // what had the focus is gone: the content gets it, so that Tab goes on from there rather than from the top
  (found || $('view')).focus({ preventScroll: true });
}

async function route() {
  if (!api.currentUser()) {
    showLogin();
    return;
  }
  stopTimers();
  const before = focusKey();
  const mine = ++generation;
  const { tab, id, sub, item } = parseHash();
  renderTabs(tab);
  const view = $('view');
  clear(view, busy('Loading…'));
  const ctx = {
    tab,
    id,
    sub,
    item,
    names,
    // a view that finished some work goes where it wants only if the user has not gone elsewhere meanwhile
    go: (hash) => {
      if (mine === generation) go(hash);
    },
    get cache() {
      return cache;
    },
    alive: () => mine === generation,
    poll(fn, ms) {
      const t = setInterval(() => {
        if (mine === generation) fn();
      }, ms);
      timers.push(t);
      return t;
    },
    async refresh() {
      await loadNames();
      renderTree();
    },
  };
  try {
    // a view's own first reads may start now, while the names every view shares are read
    ctx.prefetched = PREFETCH[tab]?.(ctx) || null;
    // such a view does not wait for names read less than NAMES_FRESH_MS ago: they are read again behind it
    if (ctx.prefetched && Date.now() - namesAt < NAMES_FRESH_MS) {
      loadNames()
        .then(() => mine === generation && renderTree())
        .catch(() => {});
    } else {
      await loadNames();
    }
    if (mine !== generation) return;
    renderTree();
    const render = ROUTES[tab];
    if (!render) throw new Error(`There is no page '${tab}'.`);
    const content = await render(ctx);
    if (mine !== generation) return;
    clear(view, content);
    // a chosen entity's sub-tabs may sit below a long list: bring them into sight
    if (id) view.querySelector('h3')?.scrollIntoView({ block: 'start' });
  } catch (err) {
    if (mine !== generation) return;
    clear(view, h('p', { class: 'error', role: 'alert' }, err.message || String(err)));
  }
  restoreFocus(before);
}

function renderTabs(current) {
  clear(
    $('tabs'),
    TABS.map(([key, label]) =>
      h(
        'a',
        {
          href: `#/${key}`,
          'aria-current': key === current ? 'page' : undefined,
        },
        label,
      ),
    ),
  );
}

// System ▸ Data Centers ▸ DC ▸ Clusters (▸ hosts) / Networks, and Providers ▸ provider, each a link to its page.
function renderTree() {
  const here = location.hash || '#/datacenters';
  const byName = (items) => [...items].sort((a, b) => a.name.localeCompare(b.name));
  const inside = (dc) =>
    here.includes(dc.id) ||
    cache.clusters.some(
      (c) =>
        c.data_center?.id === dc.id &&
        (here.includes(c.id) || cache.hosts.some((x) => x.cluster?.id === c.id && here.includes(x.id))),
    ) ||
    cache.networks.some((n) => n.data_center?.id === dc.id && here.includes(n.id));
  const few = cache.datacenters.length <= 3;
  const hostNode = (x) => ({
    key: `host:${x.id}`,
    href: `#/hosts/${x.id}`,
    text: x.name,
    kind: x.status === 'up' ? 'host' : 'hostdown',
    extra: x.status === 'up' ? null : ` (${String(x.status).replaceAll('_', ' ')})`,
  });
  const clusterNode = (c) => ({
    key: `cluster:${c.id}`,
    href: `#/clusters/${c.id}`,
    text: c.name,
    kind: 'cluster',
    open: true,
    children: byName(cache.hosts.filter((x) => x.cluster?.id === c.id)).map(hostNode),
  });
  const dcNode = (dc) => ({
    key: `dc:${dc.id}`,
    href: `#/datacenters/${dc.id}`,
    text: dc.name,
    kind: 'datacenter',
    open: few || inside(dc),
    children: [
      {
        key: `dc-clusters:${dc.id}`,
        href: `#/datacenters/${dc.id}/clusters`,
        text: 'Clusters',
        kind: 'folder',
        open: inside(dc),
        children: byName(cache.clusters.filter((c) => c.data_center?.id === dc.id)).map(clusterNode),
      },
      {
        key: `dc-networks:${dc.id}`,
        href: `#/datacenters/${dc.id}/networks`,
        text: 'Networks',
        kind: 'folder',
        open: inside(dc),
        children: byName(cache.networks.filter((n) => n.data_center?.id === dc.id)).map((n) => ({
          key: `network:${n.id}`,
          href: `#/networks/${n.id}`,
          text: n.name,
          kind: n.external_provider ? 'extnetwork' : 'network',
        })),
      },
    ],
  });
  const providerNode = (p) => ({
    key: `provider:${p.id}`,
    href: `#/providers/${p.id}`,
    text: p.name,
    kind: p.type === 'neutron' ? 'neutron' : 'provider',
  });
  const system = {
    key: 'system',
    href: '#/',
    text: 'System',
    kind: 'system',
    open: true,
    children: [
      {
        key: 'datacenters',
        href: '#/datacenters',
        text: 'Data Centers',
        kind: 'folder',
        open: true,
        children: byName(cache.datacenters).map(dcNode),
      },
      {
        key: 'providers',
        href: '#/providers',
        text: 'Providers',
        kind: 'provider',
        open: true,
        children: byName(cache.providers).map(providerNode),
      },
    ],
  };
  drawTree($('tree'), [system], 'System tree');
}

function showLogin(message) {
  stopTimers();
  generation++;
  $('shell').hidden = true;
  $('logout').hidden = true;
  $('user').textContent = '';
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-form').elements.password.focus();
}

function showShell() {
  $('login').hidden = true;
  $('shell').hidden = false;
  $('logout').hidden = false;
  $('user').textContent = api.currentUser();
  route();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target.elements;
  $('login-error').textContent = '';
  try {
    await api.login(f.username.value.trim(), f.password.value);
    f.password.value = '';
    showShell();
  } catch (err) {
    $('login-error').textContent = err.message;
  }
});

$('logout').addEventListener('click', async () => {
  await api.logout();
  showLogin();
});
window.addEventListener('hashchange', route);
window.addEventListener('neutrino:logged-out', (ev) => showLogin(ev.detail));
window.addEventListener('unhandledrejection', (ev) => notify(ev.reason?.message || String(ev.reason)));
window.addEventListener('error', (ev) => notify(ev.message || 'An unexpected error occurred in the page.'));

if (api.currentUser()) showShell();
else showLogin();
