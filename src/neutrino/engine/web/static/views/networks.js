// The Networks tab (with General, vNIC Profiles and Subnets sub-tabs) and the vNIC Profiles tab.

import * as api from '../api.js';
import { h, table, dash, yesNo, openDialog, row, confirmDialog, notify } from '../ui.js';
import {
  subTabs,
  general,
  toolbar,
  providerLink,
  networkMarks,
  networkTable,
  selectOf,
  attachToClusters,
  guarded,
} from './common.js';
import { profileList } from './profiles.js';
import { editNetworkDialog, exportDialog, exportRefusal } from './network-dialogs.js';
import { portsPanel } from './network-ports.js';

export async function networks(ctx) {
  const rows = [...ctx.cache.networks].sort((a, b) => a.name.localeCompare(b.name));
  const selected = rows.find((n) => n.id === ctx.id);
  const button = (action, label, disabled, onclick, cls) =>
    h('button', { type: 'button', 'data-action': action, class: cls, disabled, onclick }, label);
  const cannotExport = selected ? exportRefusal(selected) : null;
  const parts = [
    h('h2', {}, 'Networks'),
    toolbar(
      button('new-network', 'New…', false, () => newNetworkDialog(ctx)),
      button('edit-network', 'Edit…', !selected, () => editNetworkDialog(ctx, selected)),
      button('remove-network', 'Remove', !selected, () => removeNetwork(ctx, selected), 'danger'),
      button('export-network', 'Export to provider…', !selected || !!cannotExport, () => exportDialog(ctx, selected)),
      selected && cannotExport && !selected.external_provider
        ? h('span', { class: 'reason' }, `Export: ${cannotExport}`)
        : null,
    ),
    networkTable(ctx, rows, { selected: ctx.id, onSelect: (n) => ctx.go(`#/networks/${n.id}`) }),
  ];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `Network '${ctx.id}' was not found.`));
  if (selected) parts.push(await networkDetail(ctx, selected));
  return parts;
}

async function networkDetail(ctx, n) {
  const base = `#/networks/${n.id}`;
  const tabs = [
    ['general', 'General'],
    ['profiles', 'vNIC Profiles'],
  ];
  if (n.external_provider) tabs.push(['subnets', 'Subnets'], ['ports', 'Ports']);
  const sub = tabs.some(([k]) => k === ctx.sub) ? ctx.sub : 'general';
  let panel;
  if (sub === 'profiles')
    panel = await guarded(async () =>
      profileList(ctx, await api.list(`/networks/${n.id}/vnicprofiles`, 'vnic_profile'), n),
    );
  else if (sub === 'subnets') panel = await guarded(() => subnets(ctx, n));
  else if (sub === 'ports') panel = await guarded(() => portsPanel(ctx, n));
  else {
    panel = general([
      ['Name', n.name],
      ['ID', n.id],
      ['Description', n.description],
      ['Data Center', ctx.names.datacenters.get(n.data_center?.id)],
      ['Provider', providerLink(ctx, n.external_provider) || 'none (an engine network)'],
      ['State', n.external_provider ? networkMarks(n) : 'Engine network'],
      ['VM network', yesNo((n.usages?.usage || []).includes('vm'))],
      ['MTU', n.mtu && n.mtu !== '0' ? n.mtu : 'default'],
      ['VLAN', n.vlan?.id],
    ]);
  }
  return [
    h('h3', {}, `Network ${n.name}`),
    subTabs(base, tabs, sub, `Network ${n.name}`),
    h('div', { class: 'subpanel' }, panel),
  ];
}

async function removeNetwork(ctx, n) {
  const fromProvider = h('input', { type: 'checkbox', id: 'remove-from-provider' });
  const extra = n.external_provider
    ? h('label', { class: 'checks' }, fromProvider, 'Also remove it from the provider')
    : null;
  if (!(await confirmDialog('Remove network', `Remove network '${n.name}'?`, 'Remove', extra))) return;
  try {
    await api.del(`/networks/${n.id}${fromProvider.checked ? '?remove_from_provider=true' : ''}`);
    notify(`Network '${n.name}' was removed.`, 'success');
    await ctx.refresh();
    ctx.go('#/networks');
  } catch (err) {
    notify(err.message);
  }
}

// New network: in the engine only, or created on a provider (then imported into the data center).
export function newNetworkDialog(ctx, { providerId } = {}) {
  const name = h('input', { name: 'name', required: true });
  const description = h('input', { name: 'description' });
  const dc = selectOf(ctx.cache.datacenters, { name: 'data_center' });
  const provider = selectOf(ctx.cache.providers, {
    name: 'provider',
    placeholder: 'None (engine network)',
    value: providerId,
  });
  const mtu = h('input', { name: 'mtu', type: 'number', min: '0', placeholder: 'default' });
  const attach = h('input', { type: 'checkbox', name: 'attach', checked: true });
  openDialog({
    title: providerId ? 'New network on the provider' : 'New network',
    body: h(
      'div',
      { class: 'form-grid' },
      row('Name', name),
      row('Description', description),
      row('Data Center', dc),
      row('Network provider', provider),
      row('MTU', mtu),
      row('Attach to every cluster of the data center (not required)', attach),
    ),
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = { name: name.value.trim(), description: description.value, data_center: { id: dc.value } };
          if (mtu.value) body.mtu = mtu.value;
          if (provider.value) body.external_provider = { id: provider.value };
          dlg.status('Creating…');
          const created = await api.post('/networks', body);
          if (attach.checked) {
            dlg.status('Attaching to the clusters…');
            await attachToClusters(created.id, dc.value);
          }
          dlg.close();
          notify(`Network '${created.name}' was created${provider.value ? ' on the provider' : ''}.`, 'success');
          await ctx.refresh();
          ctx.go(providerId ? location.hash : `#/networks/${created.id}`);
        },
      },
    ],
  });
}

async function subnets(ctx, n) {
  const link = await api.get(`/ui/networks/${n.id}/external`);
  if (!link.provider_id || !link.network_id)
    return h('p', { class: 'note' }, 'This network is not linked to a provider network.');
  const path = `/openstacknetworkproviders/${link.provider_id}/networks/${link.network_id}/subnets`;
  const items = await api.list(path, 'openstack_subnet');
  let chosen = null;
  const remove = h('button', { type: 'button', class: 'danger', disabled: true }, 'Remove subnet');
  remove.addEventListener('click', async () => {
    if (
      !chosen ||
      !(await confirmDialog(
        'Remove subnet',
        `Remove subnet '${chosen.name || chosen.cidr}' from the provider?`,
        'Remove',
      ))
    )
      return;
    try {
      await api.del(`${path}/${chosen.id}`);
      notify(`Subnet '${chosen.name || chosen.cidr}' was removed.`, 'success');
      ctx.go(location.hash);
    } catch (err) {
      notify(err.message);
    }
  });
  const grid = table({
    label: 'Subnets',
    rows: items,
    empty: 'The provider has no subnets on this network.',
    onSelect: (s) => {
      chosen = s;
      remove.disabled = false;
      for (const tr of grid.querySelectorAll('tbody tr'))
        tr.setAttribute('aria-selected', String(tr.dataset.id === s.id));
    },
    columns: [
      { title: 'Name', render: (s) => dash(s.name) },
      { title: 'CIDR', render: (s) => s.cidr },
      { title: 'IP version', render: (s) => (s.ip_version === 'v6' ? 'IPv6' : 'IPv4') },
      { title: 'Gateway', render: (s) => dash(s.gateway) },
      { title: 'DNS servers', render: (s) => dash((s.dns_servers?.dns_server || []).join(', ')) },
    ],
  });
  return [
    toolbar(
      h('button', { type: 'button', onclick: () => subnetDialog(ctx, path) }, 'Add subnet…'),
      remove,
      h('span', { class: 'note' }, `Read live from ${ctx.names.providers.get(link.provider_id) || 'the provider'}.`),
    ),
    grid,
  ];
}

function subnetDialog(ctx, path) {
  const name = h('input', { name: 'name', required: true });
  const cidr = h('input', { name: 'cidr', required: true, placeholder: '10.0.0.0/24 or fd00::/64' });
  const version = h(
    'select',
    { name: 'ip_version' },
    h('option', { value: 'v4' }, 'IPv4'),
    h('option', { value: 'v6' }, 'IPv6'),
  );
  // the version follows what is typed as the CIDR; it can still be chosen (and the engine checks the two agree)
  cidr.addEventListener('input', () => {
    if (/^[0-9a-f]*:/i.test(cidr.value.trim())) version.value = 'v6';
    else if (/^\d+\./.test(cidr.value.trim())) version.value = 'v4';
  });
  const gateway = h('input', { name: 'gateway', placeholder: 'e.g. 10.0.0.1 (optional)' });
  const dns = h('input', { name: 'dns', placeholder: 'comma-separated, e.g. 8.8.8.8' });
  openDialog({
    title: 'New subnet',
    body: h(
      'div',
      { class: 'form-grid' },
      row('Name', name),
      row('CIDR', cidr),
      row('IP version', version),
      row('Gateway', gateway),
      row('DNS servers', dns),
    ),
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const servers = dns.value.split(/[\s,]+/).filter(Boolean);
          const body = { name: name.value.trim(), cidr: cidr.value.trim(), ip_version: version.value };
          if (gateway.value.trim()) body.gateway = gateway.value.trim();
          if (servers.length) body.dns_servers = { dns_server: servers };
          dlg.status('Creating on the provider…');
          await api.post(path, body);
          dlg.close();
          notify(`Subnet ${body.cidr} was added.`, 'success');
          ctx.go(location.hash);
        },
      },
    ],
  });
}
