// The Clusters tab: the list, New / Edit / Remove, and a cluster's Logical Networks, Hosts and General sub-tabs.

import * as api from '../api.js';
import { h, table, dash, openDialog, row, notify } from '../ui.js';
import {
  subTabs,
  general,
  toolbar,
  guarded,
  byName,
  selectOf,
  VERSIONS,
  versionText,
  versionBody,
  removeEntity,
} from './common.js';
import { hostTable } from './hosts.js';
import { clusterNetworks } from './cluster-networks.js';

const ARCHITECTURES = ['x86_64', 'ppc64', 's390x', 'aarch64'];

export function clusterTable(ctx, rows, selected, label = 'Clusters') {
  return table({
    label,
    rows: byName(rows),
    selected,
    empty: 'No clusters.',
    onSelect: (c) => ctx.go(`#/clusters/${c.id}`),
    columns: [
      { title: 'Name', render: (c) => h('a', { href: `#/clusters/${c.id}` }, c.name) },
      { title: 'Data Center', render: (c) => dash(ctx.names.datacenters.get(c.data_center?.id)) },
      { title: 'Compatibility', render: (c) => versionText(c.version) },
      { title: 'Description', render: (c) => dash(c.description), wrap: true },
    ],
  });
}

export async function clusters(ctx) {
  const selected = ctx.cache.clusters.find((c) => c.id === ctx.id);
  const parts = [
    h('h2', {}, 'Clusters'),
    toolbar(
      h(
        'button',
        { type: 'button', 'data-action': 'new-cluster', onclick: () => clusterDialog(ctx, null) },
        'New cluster…',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-action': 'edit-cluster',
          disabled: !selected,
          onclick: () => clusterDialog(ctx, selected),
        },
        'Edit…',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-action': 'remove-cluster',
          class: 'danger',
          disabled: !selected,
          onclick: () => removeCluster(ctx, selected),
        },
        'Remove',
      ),
      selected ? null : h('span', { class: 'note' }, 'Choose a cluster to edit or remove it.'),
    ),
    clusterTable(ctx, ctx.cache.clusters, ctx.id),
  ];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `Cluster '${ctx.id}' was not found.`));
  if (selected) {
    const sub = ['general', 'hosts'].includes(ctx.sub) ? ctx.sub : 'networks';
    const panel =
      sub === 'hosts'
        ? hostTable(ctx, byName(ctx.cache.hosts.filter((x) => x.cluster?.id === selected.id)), {
            label: `Hosts of ${selected.name}`,
          })
        : sub === 'general'
          ? clusterGeneral(ctx, selected)
          : await guarded(() => clusterNetworks(ctx, selected));
    parts.push(
      h('h3', {}, `Cluster ${selected.name}`),
      subTabs(
        `#/clusters/${selected.id}`,
        [
          ['networks', 'Logical Networks'],
          ['hosts', 'Hosts'],
          ['general', 'General'],
        ],
        sub,
        `Cluster ${selected.name}`,
      ),
      h('div', { class: 'subpanel' }, panel),
    );
  }
  return parts;
}

function defaultProvider(c) {
  return c?.external_network_providers?.external_provider?.[0]?.id || '';
}

function clusterGeneral(ctx, c) {
  return general([
    ['Name', c.name],
    ['ID', c.id],
    ['Data Center', ctx.names.datacenters.get(c.data_center?.id)],
    ['Description', c.description],
    ['CPU architecture', c.cpu?.architecture],
    ['Compatibility version', versionText(c.version)],
    ['Default network provider', ctx.names.providers.get(defaultProvider(c)) || 'none'],
  ]);
}

// The compatibility versions a cluster of `dc` may have: never below its data center's (the engine refuses them,
// so they are shown disabled, saying why).
function versionOptions(select, dc, current) {
  const floor = dc?.version ? Number(versionText(dc.version)) : 0;
  for (const option of select.options) {
    const low = Number(option.value) < floor && option.value !== current;
    option.disabled = low;
    option.textContent = low
      ? `${option.value} (below data center ${dc.name}'s ${versionText(dc.version)})`
      : option.value;
  }
  if (select.selectedOptions[0]?.disabled) select.value = versionText(dc.version);
}

// New / Edit cluster: name, description, data center (fixed once created), CPU architecture, compatibility
// version, default network provider.
function clusterDialog(ctx, c) {
  const name = h('input', { name: 'name', value: c?.name || '', required: true });
  const description = h('input', { name: 'description', value: c?.description || '' });
  const dcs = byName(ctx.cache.datacenters);
  const chosenDc = c?.data_center?.id || (ctx.tab === 'datacenters' && ctx.id) || dcs[0]?.id;
  const dc = selectOf(dcs, { name: 'data_center', value: chosenDc });
  const arch = h(
    'select',
    { name: 'architecture' },
    ARCHITECTURES.map((a) => h('option', { value: a }, a)),
  );
  arch.value = c?.cpu?.architecture && ARCHITECTURES.includes(c.cpu.architecture) ? c.cpu.architecture : 'x86_64';
  const version = h(
    'select',
    { name: 'version' },
    VERSIONS.map((v) => h('option', { value: v }, v)),
  );
  const current = c ? versionText(c.version) : null;
  version.value = current || VERSIONS[0];
  const sync = () =>
    versionOptions(
      version,
      ctx.cache.datacenters.find((d) => d.id === dc.value),
      current,
    );
  dc.addEventListener('change', sync);
  sync();
  const provider = selectOf(byName(ctx.cache.providers), {
    name: 'default_provider',
    placeholder: 'None',
    value: defaultProvider(c),
  });
  if (c) dc.disabled = true;
  openDialog({
    title: c ? `Edit cluster ${c.name}` : 'New cluster',
    body: h(
      'div',
      { class: 'form-grid' },
      row('Name', name),
      row('Description', description),
      row('Data Center', dc, c ? 'A cluster stays in the data center it was created in.' : undefined),
      row('CPU architecture', arch),
      row('Compatibility version', version),
      row('Default network provider', provider, 'The provider offered first for new networks of this cluster.'),
    ),
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = {
            name: name.value.trim(),
            description: description.value,
            cpu: { architecture: arch.value },
            version: versionBody(version.value),
            external_network_providers: provider.value ? { external_provider: [{ id: provider.value }] } : {},
          };
          if (!c) body.data_center = { id: dc.value };
          dlg.status(c ? 'Saving…' : 'Creating…');
          const saved = c ? await api.put(`/clusters/${c.id}`, body) : await api.post('/clusters', body);
          dlg.close();
          notify(`Cluster '${saved.name}' was ${c ? 'saved' : 'created'}.`, 'success');
          await ctx.refresh();
          ctx.go(`#/clusters/${saved.id}/${c ? ctx.sub || 'networks' : 'networks'}`);
        },
      },
    ],
  });
}

function removeCluster(ctx, c) {
  return removeEntity(ctx, {
    title: 'Remove cluster',
    text: `Remove cluster '${c.name}'?`,
    path: `/clusters/${c.id}`,
    done: `Cluster '${c.name}' was removed.`,
    back: '#/clusters',
  });
}
