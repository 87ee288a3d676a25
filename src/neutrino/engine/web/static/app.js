// The shell: login, the system tree, the main tabs, and a hash router that hands each view a context.

import * as api from './api.js';
import { h, clear, notify, busy } from './ui.js';
import { icon } from './icons.js';
import * as inventory from './views/inventory.js';
import * as networks from './views/networks.js';
import * as providers from './views/providers.js';
import * as vms from './views/vms.js';
import * as hostsView from './views/hosts.js';
import { topology } from './views/topology.js';

const TABS = [
  ['datacenters', 'Data Centers'], ['clusters', 'Clusters'], ['hosts', 'Hosts'], ['networks', 'Networks'],
  ['vnicprofiles', 'vNIC Profiles'], ['vms', 'Virtual Machines'], ['providers', 'Providers'], ['topology', 'Topology'], ['events', 'Events'],
];

const ROUTES = {
  datacenters: inventory.dataCenters,
  clusters: inventory.clusters,
  hosts: hostsView.hosts,
  events: inventory.events,
  networks: networks.networks,
  vnicprofiles: networks.profiles,
  vms: vms.vms,
  providers: providers.providers,
  topology,
};

const $ = (id) => document.getElementById(id);
let generation = 0;
let timers = [];

// Names of the entities other lists refer to, refreshed on each navigation.
const names = { datacenters: new Map(), clusters: new Map(), providers: new Map(), hosts: new Map(), networks: new Map() };
let cache = { datacenters: [], clusters: [], providers: [], networks: [], hosts: [] };

async function loadNames() {
  const [datacenters, clusters, provs, nets, hosts] = await Promise.all([
    api.list('/datacenters', 'data_center'), api.list('/clusters', 'cluster'),
    api.list('/openstacknetworkproviders', 'openstack_network_provider'), api.list('/networks', 'network'),
    api.list('/hosts', 'host'),
  ]);
  cache = { datacenters, clusters, providers: provs, networks: nets, hosts };
  for (const [key, items] of Object.entries(cache)) names[key] = new Map(items.map((i) => [i.id, i.name]));
  return cache;
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { tab: parts[0] || 'datacenters', id: parts[1], sub: parts[2] };
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
  const keyOf = (el) => el.dataset.id || el.dataset.action || el.getAttribute('href') || `${el.tagName}:${el.textContent.trim()}`;
  const candidates = before.key ? [...$(before.zone).querySelectorAll('[data-id], [data-action], a[href], button')]
    .filter((el) => !el.disabled) : [];
  const found = candidates.find((el) => keyOf(el) === before.key && el.textContent.trim() === before.text)
    || candidates.find((el) => keyOf(el) === before.key);
  // what had the focus is gone: the content gets it, so that Tab goes on from there rather than from the top
  (found || $('view')).focus({ preventScroll: true });
}

async function route() {
  if (!api.currentUser()) { showLogin(); return; }
  stopTimers();
  const before = focusKey();
  const mine = ++generation;
  const { tab, id, sub } = parseHash();
  renderTabs(tab);
  const view = $('view');
  clear(view, busy('Loading…'));
  const ctx = {
    tab, id, sub, names, go,
    get cache() { return cache; },
    alive: () => mine === generation,
    poll(fn, ms) { const t = setInterval(() => { if (mine === generation) fn(); }, ms); timers.push(t); return t; },
    async refresh() { await loadNames(); renderTree(); },
  };
  try {
    await loadNames();
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
  clear($('tabs'), TABS.map(([key, label]) => h('a', {
    href: `#/${key}`, 'aria-current': key === current ? 'page' : undefined,
  }, label)));
}

// System ▸ Data Centers ▸ DC ▸ Clusters/Networks, and Providers ▸ provider, each a link to its page.
function renderTree() {
  const here = location.hash || '#/datacenters';
  const link = (href, text, kind) => h('a', { href, class: here === href ? 'current' : undefined }, icon(kind), text);
  const folder = (summary, children, open = true) => h('details', { open },
    h('summary', {}, summary), h('ul', { role: 'group' }, children.map((c) => h('li', {}, c))));
  const leafs = (items) => (items.length ? items : [h('span', { class: 'note leaf' }, 'none')]);
  const few = cache.datacenters.length <= 3;
  const inside = (dc) => here.includes(dc.id)
    || cache.clusters.some((c) => c.data_center?.id === dc.id && (here.includes(c.id)
      || cache.hosts.some((x) => x.cluster?.id === c.id && here.includes(x.id))))
    || cache.networks.some((n) => n.data_center?.id === dc.id && here.includes(n.id));
  const dcs = cache.datacenters.map((dc) => folder(link(`#/datacenters/${dc.id}`, dc.name, 'datacenter'), [
    folder(h('span', {}, icon('folder'), 'Clusters'), leafs(cache.clusters.filter((c) => c.data_center?.id === dc.id)
      .map((c) => clusterNode(c, link))), inside(dc)),
    folder(h('span', {}, icon('folder'), 'Networks'), leafs(cache.networks.filter((n) => n.data_center?.id === dc.id)
      .map((n) => link(`#/networks/${n.id}`, n.name, n.external_provider ? 'extnetwork' : 'network'))), inside(dc)),
  ], few || inside(dc)));
  const provs = cache.providers.map((p) => link(`#/providers/${p.id}`, p.name, p.type === 'neutron' ? 'neutron' : 'provider'));
  clear($('tree'), h('ul', { role: 'tree' }, h('li', {}, folder(link('#/datacenters', 'System', 'system'), [
    folder(link('#/datacenters', 'Data Centers', 'folder'), leafs(dcs)),
    folder(link('#/providers', 'Providers', 'provider'), leafs(provs)),
  ]))));
}

// A cluster, and under it its hosts (each marked with its status) when it has any.
function clusterNode(c, link) {
  const hosts = cache.hosts.filter((x) => x.cluster?.id === c.id).sort((a, b) => a.name.localeCompare(b.name));
  if (!hosts.length) return link(`#/clusters/${c.id}`, c.name, 'cluster');
  return h('details', { open: true }, h('summary', {}, link(`#/clusters/${c.id}`, c.name, 'cluster')),
    h('ul', { role: 'group', 'aria-label': `Hosts of ${c.name}` }, hosts.map((x) => h('li', {},
      link(`#/hosts/${x.id}`, x.name, x.status === 'up' ? 'host' : 'hostdown'),
      x.status === 'up' ? null : h('span', { class: 'sr-only' }, ` (${String(x.status).replaceAll('_', ' ')})`)))));
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

$('logout').addEventListener('click', async () => { await api.logout(); showLogin(); });
window.addEventListener('hashchange', route);
window.addEventListener('neutrino:logged-out', (ev) => showLogin(ev.detail));
window.addEventListener('unhandledrejection', (ev) => notify(ev.reason?.message || String(ev.reason)));
window.addEventListener('error', (ev) => notify(ev.message || 'An unexpected error occurred in the page.'));

if (api.currentUser()) showShell(); else showLogin();
