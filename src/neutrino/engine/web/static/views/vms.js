// The Virtual Machines tab: status and host, Run / Stop / Migrate with progress, and the sub-tabs of a VM
// (its NICs with their live provisioning, see vm-nics.js; General). The page looks again every 5 s, every
// 2 s while a VM's NICs are shown, and every 0.5 s while a VM moves or an action of this page runs.

import * as api from '../api.js';
import { h, table, dash, badge, busy, notify, openDialog, row, formatDate } from '../ui.js';
import { subTabs, general, toolbar, hostLink, live } from './common.js';
import { nicPanel } from './vm-nics.js';
import { vmDialog, removeVm, isRunning } from './vm-dialogs.js';

const MOVING = new Set([
  'wait_for_launch',
  'powering_up',
  'powering_down',
  'migrating',
  'restoring_state',
  'image_locked',
]);
const STATUS_KIND = { up: 'ok', down: 'muted', not_responding: 'bad', unknown: 'bad' };
const SUBS = [
  ['nics', 'Network Interfaces'],
  ['general', 'General'],
];
// The list is read a page at a time (oVirt's search: `sortby name page N` with `max`), so the page costs the same
// with 50 VMs or 5,000; a name filter narrows it. Both are kept while the user moves from VM to VM.
const PAGE_SIZE = 50;
const listing = { page: 1, filter: '' };

// what a VM shows while an action of this page runs on it
const DOING = {
  start: ['powering_up', 'Starting'],
  stop: ['powering_down', 'Stopping'],
  migrate: ['migrating', 'Migrating'],
};

function statusBadge(status) {
  return badge((status || 'unknown').replaceAll('_', ' '), STATUS_KIND[status] || 'warn');
}

// "No host can run the VM: a (Filter: why); b (Filter: why)" reads better one host a line.
export function readable(message) {
  const m = /^(.*?No host can run the VM:)\s+(.*)$/s.exec(message || '');
  if (!m) return message;
  return [m[1], ...m[2].split(/;\s+(?=[^;()]+ \()/).map((x) => `• ${x}`)].join('\n');
}

export async function vms(ctx) {
  // vm id -> the action running on it; nic id -> what is being done to it; open step histories
  // nic id -> its port as the provider has it (addresses), read when the ports change or lack an address
  const state = {
    doing: new Map(),
    nicDoing: new Map(),
    open: new Set(),
    profiles: null,
    ports: new Map(),
    portKey: '',
    portAt: 0,
    portsAsked: false,
  };
  const sub = SUBS.some(([k]) => k === ctx.sub) ? ctx.sub : 'nics';
  let current = null;
  let first = ctx.prefetched || null; // the shell may have started the first reads while it read the names
  const load = async () => {
    // the page of the list, the chosen VM by itself (it may be on another page, or filtered out), its vNICs and,
    // the first time, the profiles: all at once
    const [rows, alone, vmNics, profiles] = await (first || reads(ctx, sub, !state.profiles));
    first = null;
    const selected = alone || null;
    const nics = selected ? vmNics : [];
    if (profiles) state.profiles = new Map(profiles.map((p) => [p.id, p]));
    if (!state.profiles || nics.some((n) => n.vnic_profile?.id && !state.profiles.has(n.vnic_profile.id))) {
      state.profiles = new Map((await api.list('/vnicprofiles', 'vnic_profile')).map((p) => [p.id, p]));
    }
    // the addresses come from the provider: the page is drawn without waiting for them the first time
    if (selected && state.portsAsked) await readPorts(state, selected, nics);
    else if (selected) {
      state.portsAsked = true;
      readPorts(state, selected, nics)
        .then(() => current?.refresh())
        .catch((err) => (err.status === 401 ? null : notify(err.message)));
    }
    // the page and the filter are part of what is shown: a change of either repaints even with the same rows
    return { rows, selected, page: listing.page, filter: listing.filter, nics, ports: [...state.ports.values()] };
  };
  const every = ({ rows, selected }) => {
    const moving = rows.some((v) => MOVING.has(v.status)) || (selected && MOVING.has(selected.status));
    if (state.doing.size || state.nicDoing.size || moving) return 500;
    return ctx.id && sub === 'nics' ? 2000 : 5000;
  };
  const body = await live(ctx, every, load, (data, handle) => {
    current = handle;
    return page(ctx, state, sub, data, handle);
  });
  return [h('h2', {}, 'Virtual Machines'), filterForm(() => current?.refresh()), body];
}

// The reads of the page, started together: the list's page, the chosen VM, its vNICs, the profiles (when asked).
function reads(ctx, sub, profiles) {
  const id = ctx.id ? encodeURIComponent(ctx.id) : null;
  return Promise.all([
    api.list(`/vms?search=${encodeURIComponent(searchText())}&max=${PAGE_SIZE}`, 'vm'),
    id ? api.get(`/vms/${id}`).catch(missing) : null,
    id && sub !== 'general' ? api.list(`/vms/${id}/nics`, 'nic').catch(missing) : [],
    profiles ? api.list('/vnicprofiles', 'vnic_profile') : null,
  ]);
}

// The shell calls this before it has read the names the views share, so that the page's own reads run meanwhile.
export function prefetch(ctx) {
  const sub = SUBS.some(([k]) => k === ctx.sub) ? ctx.sub : 'nics';
  const started = reads(ctx, sub, true);
  started.catch(() => {}); // a failure is the view's to show, when it awaits these
  return started;
}

function missing(err) {
  if (err.status === 404) return null;
  throw err;
}

function searchText() {
  const name = listing.filter.replaceAll('"', '');
  return [name ? `name="*${name}*"` : '', 'sortby name asc', `page ${listing.page}`].filter(Boolean).join(' ');
}

function filterForm(refresh) {
  const input = h('input', { type: 'search', name: 'filter', value: listing.filter, autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'toolbar', role: 'search', 'aria-label': 'Virtual machines' },
    h('label', {}, 'Filter by name ', input),
    h('button', { type: 'submit' }, 'Filter'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    listing.filter = input.value.trim();
    listing.page = 1;
    refresh();
  });
  return form;
}

function pager(rows, handle) {
  const turn = (by) => {
    listing.page = Math.max(1, listing.page + by);
    handle.refresh();
  };
  const first = (listing.page - 1) * PAGE_SIZE;
  const text = rows.length
    ? `VMs ${first + 1}–${first + rows.length}${listing.filter ? ` whose name has “${listing.filter}”` : ''}`
    : listing.page > 1
      ? 'No more VMs.'
      : '';
  return h(
    'nav',
    { class: 'toolbar pager', 'aria-label': 'Pages of virtual machines' },
    h(
      'button',
      { type: 'button', 'data-action': 'previous-page', disabled: listing.page === 1, onclick: () => turn(-1) },
      'Previous page',
    ),
    h('span', { role: 'status' }, `Page ${listing.page}`, text ? ` · ${text}` : ''),
    h(
      'button',
      { type: 'button', 'data-action': 'next-page', disabled: rows.length < PAGE_SIZE, onclick: () => turn(1) },
      'Next page',
    ),
  );
}

// the addresses of the VM's vNICs come from their ports on the provider: read again when a port appears or goes,
// and while a port has no address yet (a subnet added later gives it one)
async function readPorts(state, vm, nics) {
  const key = `${vm.id}:${nics.map((n) => n.provisioning?.port_id || '').join(',')}`;
  const stale = [...state.ports.values()].some((p) => p.error || !p.fixed_ips?.length);
  if (!nics.some((n) => n.provisioning?.port_id)) {
    state.ports = new Map();
  } else if (key !== state.portKey || (stale && Date.now() - state.portAt > 10000)) {
    state.portAt = Date.now();
    try {
      const found = await api.get(`/ui/vms/${vm.id}/ports`);
      state.ports = new Map((found.nics || []).map((p) => [p.id, p]));
    } catch (err) {
      if (err.status === 401) throw err;
      state.ports = new Map(nics.map((n) => [n.id, { error: err.message }]));
    }
  }
  state.portKey = key;
}

function page(ctx, state, sub, { rows, selected, nics }, handle) {
  const empty = listing.filter ? `No virtual machine's name has “${listing.filter}”.` : 'No virtual machines.';
  const parts = [vmToolbar(ctx, state, selected, handle), vmTable(ctx, state, rows, empty), pager(rows, handle)];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `VM '${ctx.id}' was not found.`));
  if (selected) {
    const panel = sub === 'general' ? vmGeneral(ctx, selected) : nicPanel(ctx, selected, nics, state, handle);
    parts.push(
      h('h3', {}, `VM ${selected.name}`),
      subTabs(`#/vms/${selected.id}`, SUBS, sub, `VM ${selected.name}`),
      h('div', { class: 'subpanel' }, panel),
    );
  }
  return parts;
}

function shownStatus(state, vm) {
  const doing = state.doing.get(vm.id);
  // the engine answers a start when the VM is up: until then this page says what it asked for
  if (doing && (vm.status === 'down' || (doing === 'migrate' && vm.status === 'up'))) return DOING[doing][0];
  return vm.status;
}

async function act(ctx, state, vm, action, handle, body = {}) {
  const label = { start: 'Run', stop: 'Stop', migrate: 'Migrate' }[action];
  state.doing.set(vm.id, action);
  handle.repaint();
  handle.refresh();
  try {
    await api.post(`/vms/${vm.id}/${action}`, body);
    const after = await api.get(`/vms/${vm.id}`);
    const where = after.host?.id ? ` on host ${ctx.names.hosts.get(after.host.id) || after.host.id}` : '';
    notify(
      `${label} ${vm.name}: done; it is ${String(after.status || 'unknown').replaceAll('_', ' ')}${where}.`,
      'success',
    );
  } finally {
    await handle.refresh().catch(() => {});
    state.doing.delete(vm.id);
    handle.repaint();
  }
}

function vmToolbar(ctx, state, vm, handle) {
  const doing = vm && state.doing.get(vm.id);
  const run = (action) =>
    act(ctx, state, vm, action, handle).catch((err) => {
      notify(`${{ start: 'Run', stop: 'Stop' }[action]} ${vm.name} failed: ${readable(err.message)}`);
    });
  const button = (action, label, disabled, onclick, cls) =>
    h('button', { type: 'button', 'data-action': action, class: cls, disabled, onclick }, label);
  const afterEdit = async (saved) => {
    await ctx.refresh();
    ctx.go(`#/vms/${saved.id}/${ctx.sub || 'nics'}`);
  };
  const running = vm && isRunning(vm);
  return toolbar(
    button('new-vm', 'New VM…', false, () => vmDialog(ctx, null, afterEdit)),
    button('edit-vm', 'Edit…', !vm || !!doing, () => vmDialog(ctx, vm, afterEdit)),
    button('remove-vm', 'Remove', !vm || running || !!doing, () => removeVm(vm, () => ctx.go('#/vms')), 'danger'),
    h('span', { class: 'separator', 'aria-hidden': 'true' }),
    button('run', 'Run', !vm || vm.status !== 'down' || !!doing, () => run('start')),
    button('stop', 'Stop', !vm || vm.status === 'down' || !!doing, () => run('stop')),
    button('migrate', 'Migrate…', !vm || vm.status !== 'up' || !!doing, () => migrateDialog(ctx, state, vm, handle)),
    doing ? busy(`${DOING[doing][1]} ${vm.name}…`) : null,
    vm ? null : h('span', { class: 'note' }, 'Choose a VM to edit, run, stop or migrate it.'),
    running && !doing ? h('span', { class: 'reason' }, `${vm.name} runs: stop it before removing it.`) : null,
  );
}

function vmTable(ctx, state, rows, empty) {
  return table({
    label: 'Virtual machines',
    rows,
    selected: ctx.id,
    empty,
    onSelect: (v) => ctx.go(`#/vms/${v.id}/${ctx.sub || 'nics'}`),
    columns: [
      { title: 'Name', render: (v) => h('a', { href: `#/vms/${v.id}/nics` }, v.name) },
      { title: 'Status', render: (v) => statusBadge(shownStatus(state, v)) },
      { title: 'Host', render: (v) => hostLink(ctx, v.host) || '—' },
      {
        title: 'Cluster',
        render: (v) =>
          v.cluster?.id
            ? h('a', { href: `#/clusters/${v.cluster.id}` }, ctx.names.clusters.get(v.cluster.id) || v.cluster.id)
            : '—',
      },
      { title: 'Started', render: (v) => (v.status === 'down' ? '—' : formatDate(v.start_time)) },
      { title: 'Description', render: (v) => dash(v.description), wrap: true },
    ],
  });
}

function vmGeneral(ctx, vm) {
  const cluster = ctx.cache.clusters.find((c) => c.id === vm.cluster?.id);
  const mib = Number(vm.memory) ? `${Math.round(Number(vm.memory) / 1048576)} MiB` : null;
  return general([
    ['Name', vm.name],
    ['ID', vm.id],
    ['Description', vm.description],
    ['Status', statusBadge(vm.status)],
    ['Host', hostLink(ctx, vm.host)],
    ['Cluster', cluster?.name],
    ['Data Center', ctx.names.datacenters.get(cluster?.data_center?.id)],
    ['Memory', mib],
    ['Created', formatDate(vm.creation_time)],
    ['Started', vm.status === 'down' ? null : formatDate(vm.start_time)],
    ['Stopped', formatDate(vm.stop_time)],
  ]);
}

// Migrate to a chosen host of the VM's cluster, or let the scheduler choose.
async function migrateDialog(ctx, state, vm, handle) {
  let hosts;
  try {
    hosts = await api.list('/hosts', 'host');
  } catch (err) {
    notify(err.message);
    return;
  }
  const others = hosts
    .filter((x) => x.cluster?.id === vm.cluster?.id && x.id !== vm.host?.id)
    .sort((a, b) => a.name.localeCompare(b.name));
  const target = h(
    'select',
    { name: 'host' },
    h('option', { value: '' }, 'Automatic (the scheduler chooses)'),
    others.map((x) =>
      h('option', { value: x.id }, x.status === 'up' ? x.name : `${x.name} (${String(x.status).replaceAll('_', ' ')})`),
    ),
  );
  const from = ctx.names.hosts.get(vm.host?.id) || hosts.find((x) => x.id === vm.host?.id)?.name || 'its host';
  openDialog({
    title: `Migrate ${vm.name}`,
    body: [
      h('div', { class: 'form-grid' }, row('Destination host', target)),
      h(
        'p',
        { class: 'note' },
        others.length
          ? `${vm.name} runs on ${from}. Its vNICs' ports are bound to the destination and plugged there before it leaves ${from}.`
          : `There is no other host in ${vm.name}'s cluster; the engine will say so.`,
      ),
    ],
    actions: [
      {
        label: 'Migrate',
        primary: true,
        async run(dlg) {
          dlg.status(busy(`Migrating ${vm.name}…`));
          await act(ctx, state, vm, 'migrate', handle, target.value ? { host: { id: target.value } } : {});
          dlg.close();
        },
      },
    ],
  });
}
