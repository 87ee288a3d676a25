// The Virtual Machines tab: status and host, Run/Stop, and a NICs sub-tab that shows each vNIC's
// provisioning (port created, bound, plugged, active, last error), polled while the VM starts.

import * as api from '../api.js';
import { h, clear, table, dash, yesNo, badge, busy, notify, formatDate } from '../ui.js';
import { subTabs, providerLink } from './common.js';

const MOVING = new Set(['wait_for_launch', 'powering_up', 'powering_down', 'migrating', 'image_locked']);
const STATUS_KIND = { up: 'ok', down: 'muted', not_responding: 'bad', unknown: 'bad' };
// the steps a vNIC goes through when its VM starts, in order: [label, element in `provisioning`]
const STEPS = [['Port created', 'port_created'], ['Bound', 'bound'], ['Plugged', 'plugged'], ['Active', 'active']];

function statusBadge(status) {
  const text = (status || 'unknown').replaceAll('_', ' ');
  return badge(text, STATUS_KIND[status] || 'warn');
}

export async function vms(ctx) {
  const state = { rows: await api.list('/vms', 'vm'), starting: new Set() };
  const root = h('div');
  const render = async () => {
    state.rows.sort((a, b) => a.name.localeCompare(b.name));
    const selected = state.rows.find((v) => v.id === ctx.id);
    const parts = [h('h2', {}, 'Virtual Machines'), vmToolbar(ctx, state, selected, refresh), vmTable(ctx, state)];
    if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `VM '${ctx.id}' was not found.`));
    if (selected) parts.push(await vmDetail(ctx, selected, state));
    if (ctx.alive()) keepFocus(root, () => clear(root, parts));
  };
  const refresh = async () => {
    try {
      state.rows = await api.list('/vms', 'vm');
      await render();
    } catch (err) {
      if (ctx.alive()) notify(err.message);
    }
  };
  // live while anything moves: a VM between states, or a start this page asked for
  ctx.poll(() => {
    if (state.starting.size || state.rows.some((v) => MOVING.has(v.status))) refresh();
  }, 1000);
  await render();
  return root;
}

// re-rendering in place must not throw the keyboard user out of the table
function keepFocus(root, replace) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? (active.dataset.id || active.dataset.action || active.getAttribute('href')) : null;
  replace();
  if (!key) return;
  const again = [...root.querySelectorAll('[data-id], [data-action], a[href]')]
    .find((el) => el.dataset.id === key || el.dataset.action === key || el.getAttribute('href') === key);
  if (again) again.focus();
}

function vmToolbar(ctx, state, vm, refresh) {
  const act = async (action, label) => {
    if (action === 'start') state.starting.add(vm.id);
    refresh();
    try {
      await api.post(`/vms/${vm.id}/${action}`, {});
      notify(`${label} ${vm.name}: done.`, 'success');
    } catch (err) {
      notify(`${label} ${vm.name} failed: ${err.message}`);
    } finally {
      state.starting.delete(vm.id);
      refresh();
    }
  };
  const startingNow = vm && state.starting.has(vm.id);
  return h('div', { class: 'toolbar', role: 'toolbar' },
    h('button', { type: 'button', 'data-action': 'run', disabled: !vm || vm.status !== 'down' || startingNow, onclick: () => act('start', 'Run') }, 'Run'),
    h('button', { type: 'button', 'data-action': 'stop', disabled: !vm || vm.status === 'down', onclick: () => act('stop', 'Stop') }, 'Stop'),
    startingNow ? busy(`Starting ${vm.name}…`) : null);
}

function vmTable(ctx, state) {
  return table({
    label: 'Virtual machines', rows: state.rows, selected: ctx.id, empty: 'No virtual machines.',
    onSelect: (v) => ctx.go(`#/vms/${v.id}/nics`),
    columns: [
      { title: 'Name', render: (v) => h('a', { href: `#/vms/${v.id}/nics` }, v.name) },
      { title: 'Status', render: (v) => [statusBadge(state.starting.has(v.id) && v.status === 'down' ? 'wait_for_launch' : v.status)] },
      { title: 'Host', render: (v) => dash(ctx.names.hosts.get(v.host?.id)) },
      { title: 'Cluster', render: (v) => dash(ctx.names.clusters.get(v.cluster?.id)) },
      { title: 'Started', render: (v) => (v.status === 'down' ? '—' : formatDate(v.start_time)) },
      { title: 'Description', render: (v) => dash(v.description), wrap: true },
    ],
  });
}

async function vmDetail(ctx, vm, state) {
  const nics = await api.list(`/vms/${vm.id}/nics`, 'nic');
  const profiles = new Map((await api.list('/vnicprofiles', 'vnic_profile')).map((p) => [p.id, p]));
  const networkOf = (nic) => ctx.cache.networks.find((n) => n.id === profiles.get(nic.vnic_profile?.id)?.network?.id);
  const moving = state.starting.has(vm.id) || MOVING.has(vm.status);
  return [
    h('h3', {}, `VM ${vm.name}`),
    subTabs(`#/vms/${vm.id}`, [['nics', 'Network Interfaces']], 'nics', `VM ${vm.name}`),
    h('div', { class: 'subpanel' },
      moving ? h('p', {}, busy('Provisioning the vNICs; this list updates live.')) : null,
      table({
        label: `Network interfaces of ${vm.name}`, rows: nics, empty: 'This VM has no network interfaces.',
        columns: [
          { title: 'Name', render: (n) => n.name },
          { title: 'MAC', render: (n) => dash(n.mac?.address) },
          { title: 'Profile (network)', render: (n) => profileAndNetwork(profiles.get(n.vnic_profile?.id), networkOf(n)) },
          { title: 'Provider', render: (n) => providerLink(ctx, networkOf(n)?.external_provider) || '—' },
          { title: 'Plugged / linked', render: (n) => `${yesNo(n.plugged)} / ${yesNo(n.linked)}` },
          { title: 'Provisioning', render: (n) => provisioningState(n.provisioning) },
          { title: 'Timings', render: (n) => timings(n.provisioning), wrap: true },
          { title: 'Last error', render: (n) => lastError(n.provisioning), wrap: true },
        ],
      })),
  ];
}

function profileAndNetwork(profile, net) {
  if (!profile) return '—';
  return [profile.name, ' (', net ? h('a', { href: `#/networks/${net.id}` }, net.name) : '?', ')'];
}

// `provisioning` is not in the API yet; when it comes, each step is a time (or an element with `time`).
function provisioningState(p) {
  if (!p) return '—';
  const state = typeof p === 'string' ? p : p.state || p.status;
  if (!state) return '—';
  const kind = state === 'active' ? 'ok' : state === 'failed' || state === 'error' ? 'bad' : 'warn';
  return badge(String(state).replaceAll('_', ' '), kind);
}

function stepTime(p, key) {
  const v = p[key] ?? p[`${key}_time`] ?? p[`${key}_at`];
  const when = v && typeof v === 'object' ? v.time || v.date : v;
  if (!when) return null;
  const d = new Date(when);
  return Number.isNaN(d.getTime()) ? String(when) : d.toLocaleTimeString();
}

// each step the vNIC has passed, with its time: "port created 12:00:01 · bound 12:00:02 · ..."
function timings(p) {
  if (!p || typeof p !== 'object') return '—';
  const done = STEPS.map(([label, key]) => [label, stepTime(p, key)]).filter(([, t]) => t);
  if (!done.length) return '—';
  return h('span', { class: 'timings' }, done.map(([label, t], i) => [i ? ' · ' : '', h('span', { class: 'note' }, label.toLowerCase()), ` ${t}`]));
}

function lastError(p) {
  if (!p || typeof p !== 'object') return '—';
  const e = p.last_error ?? p.error;
  if (!e) return '—';
  return h('span', { class: 'error' }, typeof e === 'object' ? (e.message || e.detail || JSON.stringify(e)) : String(e));
}
