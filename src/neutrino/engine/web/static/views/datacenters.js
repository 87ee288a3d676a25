// The Data Centers tab: the list, New / Edit / Remove, and a data center's Networks and Clusters sub-tabs.

import * as api from '../api.js';
import { h, table, dash, openDialog, row, notify } from '../ui.js';
import {
  subTabs,
  toolbar,
  networkTable,
  guarded,
  byName,
  VERSIONS,
  versionText,
  versionBody,
  removeEntity,
} from './common.js';
import { clusterTable } from './clusters.js';

export async function dataCenters(ctx) {
  const rows = byName(ctx.cache.datacenters);
  const selected = rows.find((d) => d.id === ctx.id);
  const parts = [
    h('h2', {}, 'Data Centers'),
    toolbar(
      h('button', { type: 'button', 'data-action': 'new-dc', onclick: () => dcDialog(ctx, null) }, 'New data center…'),
      h(
        'button',
        { type: 'button', 'data-action': 'edit-dc', disabled: !selected, onclick: () => dcDialog(ctx, selected) },
        'Edit…',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-action': 'remove-dc',
          class: 'danger',
          disabled: !selected,
          onclick: () => removeDc(ctx, selected),
        },
        'Remove',
      ),
      selected ? null : h('span', { class: 'note' }, 'Choose a data center to edit or remove it.'),
    ),
    table({
      label: 'Data centers',
      rows,
      selected: ctx.id,
      onSelect: (d) => ctx.go(`#/datacenters/${d.id}/${ctx.sub || 'networks'}`),
      columns: [
        { title: 'Name', render: (d) => h('a', { href: `#/datacenters/${d.id}` }, d.name) },
        { title: 'Status', render: (d) => dash(d.status) },
        { title: 'Storage type', render: (d) => (api.truthy(d.local) ? 'Local' : 'Shared') },
        { title: 'Compatibility', render: (d) => versionText(d.version) },
        { title: 'Description', render: (d) => dash(d.description), wrap: true },
      ],
    }),
  ];
  if (ctx.id && !selected)
    parts.push(h('p', { class: 'error', role: 'alert' }, `Data center '${ctx.id}' was not found.`));
  if (selected) {
    const sub = ctx.sub === 'clusters' ? 'clusters' : 'networks';
    const panel =
      sub === 'clusters'
        ? clusterTable(
            ctx,
            ctx.cache.clusters.filter((c) => c.data_center?.id === selected.id),
            null,
            `Clusters of ${selected.name}`,
          )
        : await guarded(async () =>
            networkTable(ctx, byName(await api.list(`/datacenters/${selected.id}/networks`, 'network')), {
              label: `Networks of ${selected.name}`,
            }),
          );
    parts.push(
      h('h3', {}, `Data center ${selected.name}`),
      h('p', {}, h('a', { href: `#/topology/datacenters/${selected.id}` }, `Topology of data center ${selected.name}`)),
      subTabs(
        `#/datacenters/${selected.id}`,
        [
          ['networks', 'Networks'],
          ['clusters', 'Clusters'],
        ],
        sub,
        `Data center ${selected.name}`,
      ),
      h('div', { class: 'subpanel' }, panel),
    );
  }
  return parts;
}

// New / Edit data center: name, description, storage type (shared or local), compatibility version.
function dcDialog(ctx, dc) {
  const name = h('input', { name: 'name', value: dc?.name || '', required: true });
  const description = h('input', { name: 'description', value: dc?.description || '' });
  const storage = h(
    'select',
    { name: 'storage_type' },
    h('option', { value: 'false' }, 'Shared'),
    h('option', { value: 'true' }, 'Local'),
  );
  storage.value = String(api.truthy(dc?.local));
  const version = h(
    'select',
    { name: 'version' },
    VERSIONS.map((v) => h('option', { value: v }, v)),
  );
  version.value = dc ? versionText(dc.version) : VERSIONS[0];
  openDialog({
    title: dc ? `Edit data center ${dc.name}` : 'New data center',
    body: h(
      'div',
      { class: 'form-grid' },
      row('Name', name),
      row('Description', description),
      row('Storage type', storage),
      row('Compatibility version', version),
    ),
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = {
            name: name.value.trim(),
            description: description.value,
            local: storage.value,
            version: versionBody(version.value),
          };
          dlg.status(dc ? 'Saving…' : 'Creating…');
          const saved = dc ? await api.put(`/datacenters/${dc.id}`, body) : await api.post('/datacenters', body);
          dlg.close();
          notify(`Data center '${saved.name}' was ${dc ? 'saved' : 'created'}.`, 'success');
          await ctx.refresh();
          ctx.go(`#/datacenters/${saved.id}/${dc ? ctx.sub || 'networks' : 'clusters'}`);
        },
      },
    ],
  });
}

function removeDc(ctx, dc) {
  const force = h('input', { type: 'checkbox', name: 'force' });
  return removeEntity(ctx, {
    title: 'Remove data center',
    text: `Remove data center '${dc.name}' and its networks? Its clusters stay, without a data center.`,
    extra: h(
      'label',
      { class: 'checks' },
      force,
      'Force: also when VMs have vNICs on its networks (they are left without a network)',
    ),
    query: () => (force.checked ? '?force=true' : ''),
    path: `/datacenters/${dc.id}`,
    done: `Data center '${dc.name}' was removed.`,
    back: '#/datacenters',
  });
}
