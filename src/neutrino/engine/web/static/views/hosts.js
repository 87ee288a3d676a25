// The Hosts tab: each host agent the engine knows, its status (and why it is not Up), when the engine last
// heard from it, and the vNIC drivers its agent advertises; add, edit and remove hosts. Refreshed live.

import * as api from '../api.js';
import { h, table, dash, yesNo, openDialog, row, confirmDialog, notify, formatDate } from '../ui.js';
import { subTabs, general, toolbar, hostStatus, vnicDrivers, networkTypes, selectOf, live } from './common.js';

const DEFAULT_AGENT_PORT = '54321';
const SUBS = [
  ['general', 'General'],
  ['drivers', 'vNIC Drivers'],
  ['vms', 'Virtual Machines'],
];

function byName(items) {
  return [...items].sort((a, b) => a.name.localeCompare(b.name));
}

export async function hosts(ctx) {
  const load = async () => {
    const [rows, vms] = await Promise.all([api.list('/hosts', 'host'), ctx.id ? api.list('/vms', 'vm') : []]);
    return { rows: byName(rows), vms };
  };
  return live(ctx, 5000, load, ({ rows, vms }) => hostsPage(ctx, rows, vms));
}

function hostsPage(ctx, rows, vms) {
  const selected = rows.find((x) => x.id === ctx.id);
  const running = (x) => vms.filter((v) => v.host?.id === x.id);
  const parts = [
    h('h2', {}, 'Hosts'),
    toolbar(
      h('button', { type: 'button', 'data-action': 'new-host', onclick: () => hostDialog(ctx, null) }, 'New host…'),
      h(
        'button',
        { type: 'button', 'data-action': 'edit-host', disabled: !selected, onclick: () => hostDialog(ctx, selected) },
        'Edit…',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-action': 'remove-host',
          class: 'danger',
          disabled: !selected,
          onclick: () => removeHost(ctx, selected),
        },
        'Remove',
      ),
      h('span', { class: 'note' }, 'Updates every 5 s.'),
    ),
    hostTable(ctx, rows, { selected: ctx.id }),
  ];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `Host '${ctx.id}' was not found.`));
  if (selected) parts.push(hostDetail(ctx, selected, running(selected)));
  return parts;
}

// Every list of hosts (all, a cluster's) shows the same columns.
export function hostTable(ctx, rows, { selected, label = 'Hosts' } = {}) {
  return table({
    label,
    rows,
    selected,
    empty: 'No hosts.',
    onSelect: (x) => ctx.go(`#/hosts/${x.id}/${ctx.tab === 'hosts' && ctx.sub ? ctx.sub : 'general'}`),
    columns: [
      { title: 'Name', render: (x) => h('a', { href: `#/hosts/${x.id}` }, x.name) },
      { title: 'Address', render: (x) => (x.address ? `${x.address}:${x.port || DEFAULT_AGENT_PORT}` : '—') },
      { title: 'Status', render: (x) => hostStatus(x), wrap: true },
      {
        title: 'Cluster',
        render: (x) =>
          x.cluster?.id
            ? h('a', { href: `#/clusters/${x.cluster.id}` }, ctx.names.clusters.get(x.cluster.id) || x.cluster.id)
            : '—',
      },
      { title: 'Last seen', render: (x) => formatDate(x.last_seen) },
      { title: 'vNIC drivers', render: (x) => driverSummary(x), wrap: true },
    ],
  });
}

// One line per plugin type the host can plug: its driver, the network types it carries, security groups.
function driverSummary(x) {
  const drivers = vnicDrivers(x);
  if (!drivers.length)
    return h('span', { class: 'note' }, x.status === 'up' ? 'none reported' : 'unknown until it answers');
  return drivers.map((d) =>
    h(
      'div',
      { class: 'driver' },
      h('span', { class: 'plugin-type' }, d.plugin_type),
      ' ',
      h(
        'span',
        { class: 'note' },
        `${dash(d.driver)} · ${networkTypes(d) === 'any' ? 'any network type' : networkTypes(d)}` +
          ` · ${api.truthy(d.security_groups) ? 'security groups' : 'no security groups'}`,
      ),
    ),
  );
}

function hostDetail(ctx, x, vms) {
  const sub = SUBS.some(([k]) => k === ctx.sub) ? ctx.sub : 'general';
  let panel;
  if (sub === 'drivers') {
    panel = table({
      label: `vNIC drivers of ${x.name}`,
      rows: vnicDrivers(x),
      rowId: (d) => d.plugin_type,
      empty: x.status === 'up' ? 'Its agent reports no vNIC drivers.' : 'Not known until the host answers.',
      columns: [
        { title: 'Plugin type', render: (d) => d.plugin_type },
        { title: 'Driver', render: (d) => dash(d.driver) },
        { title: 'Binding host ID', render: (d) => dash(d.binding_host_id) },
        { title: 'Network types', render: (d) => networkTypes(d) },
        { title: 'Security groups', render: (d) => yesNo(d.security_groups) },
      ],
    });
  } else if (sub === 'vms') {
    panel = table({
      label: `Virtual machines on ${x.name}`,
      rows: byName(vms),
      empty: 'No VM runs on this host.',
      onSelect: (v) => ctx.go(`#/vms/${v.id}/nics`),
      columns: [
        { title: 'Name', render: (v) => h('a', { href: `#/vms/${v.id}/nics` }, v.name) },
        { title: 'Status', render: (v) => dash(v.status?.replaceAll('_', ' ')) },
        { title: 'Started', render: (v) => formatDate(v.start_time) },
      ],
    });
  } else {
    const cluster = ctx.cache.clusters.find((c) => c.id === x.cluster?.id);
    panel = general([
      ['Name', x.name],
      ['ID', x.id],
      ['Description', x.description],
      ['Address', x.address],
      ['Agent port', x.port || DEFAULT_AGENT_PORT],
      ['Cluster', cluster ? h('a', { href: `#/clusters/${cluster.id}` }, cluster.name) : null],
      ['Data Center', cluster ? ctx.names.datacenters.get(cluster.data_center?.id) : null],
      ['Status', hostStatus(x, { detail: false })],
      ['Why not Up', x.status === 'up' ? null : x.status_detail],
      ['Last seen', formatDate(x.last_seen)],
      ['Running VMs', String(vms.length)],
    ]);
  }
  return [
    h('h3', {}, `Host ${x.name}`),
    subTabs(`#/hosts/${x.id}`, SUBS, sub, `Host ${x.name}`),
    h('div', { class: 'subpanel' }, panel),
  ];
}

// New host / edit host: the agent's address and port, its cluster, and its token (oVirt's root password).
function hostDialog(ctx, x) {
  const name = h('input', { name: 'name', value: x?.name || '', required: true });
  const description = h('input', { name: 'description', value: x?.description || '' });
  const address = h('input', {
    name: 'address',
    value: x?.address || '',
    required: true,
    placeholder: 'e.g. 192.0.2.10',
  });
  const port = h('input', {
    name: 'port',
    type: 'number',
    min: '1',
    max: '65535',
    value: x?.port || DEFAULT_AGENT_PORT,
  });
  const cluster = selectOf(byName(ctx.cache.clusters), {
    name: 'cluster',
    value: x?.cluster?.id || ctx.cache.clusters.find((c) => c.name === 'Default')?.id,
  });
  const token = h('input', {
    name: 'root_password',
    type: 'password',
    autocomplete: 'new-password',
    placeholder: x ? 'unchanged' : '',
  });
  openDialog({
    title: x ? `Edit host ${x.name}` : 'New host',
    body: [
      h(
        'div',
        { class: 'form-grid' },
        row('Name', name),
        row('Description', description),
        row('Address', address),
        row('Agent port', port),
        row('Cluster', cluster),
        row('Agent token', token),
      ),
      h(
        'p',
        { class: 'note' },
        'The host runs `neutrino agent`; its token is the one the agent was started with. ' +
          "The engine reads the agent's capabilities when the host is saved.",
      ),
    ],
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = {
            name: name.value.trim(),
            description: description.value,
            address: address.value.trim(),
            port: port.value,
            cluster: { id: cluster.value },
          };
          if (token.value) body.root_password = token.value;
          dlg.status(x ? 'Saving; the engine contacts the agent…' : 'Adding; the engine contacts the agent…');
          const saved = x ? await api.put(`/hosts/${x.id}`, body) : await api.post('/hosts', body);
          dlg.close();
          if (saved.status === 'up') notify(`Host '${saved.name}' was saved; it is up.`, 'success');
          else
            notify(
              `Host '${saved.name}' was saved but is ${String(saved.status || 'unknown').replaceAll('_', ' ')}: ${saved.status_detail || 'no reason given'}`,
              'warn',
            );
          await ctx.refresh();
          ctx.go(`#/hosts/${saved.id}/general`);
        },
      },
    ],
  });
}

async function removeHost(ctx, x) {
  if (
    !(await confirmDialog(
      'Remove host',
      `Remove host '${x.name}'? Its agent keeps running; the engine forgets it.`,
      'Remove',
    ))
  )
    return;
  try {
    await api.del(`/hosts/${x.id}`);
    notify(`Host '${x.name}' was removed.`, 'success');
    await ctx.refresh();
    ctx.go('#/hosts');
  } catch (err) {
    notify(err.message);
  }
}
