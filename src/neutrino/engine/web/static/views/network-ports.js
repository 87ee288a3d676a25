// An external network's Ports sub-tab: the provider's ports of vNICs on it (device owner oVirt), read live, each
// with its status, MAC, addresses, the host it is bound to, and the vNIC and VM it serves.

import * as api from '../api.js';
import { h, table, dash, badge } from '../ui.js';
import { toolbar } from './common.js';

const PORT_STATUS = { ACTIVE: 'ok', DOWN: 'muted', BUILD: 'warn', ERROR: 'bad' };

export async function portsPanel(ctx, n) {
  const found = await api.get(`/ui/networks/${n.id}/ports`);
  if (found.error) return h('p', { class: 'error', role: 'alert' }, found.error);
  const provider = ctx.names.providers.get(n.external_provider?.id) || 'the provider';
  return [
    toolbar(
      h('button', { type: 'button', 'data-action': 'refresh-ports', onclick: () => ctx.go(location.hash) }, 'Refresh'),
      h('span', { class: 'note' }, `Read live from ${provider}: the ports of vNICs on ${n.name}.`),
    ),
    table({
      label: `Ports of ${n.name}`,
      rows: found.ports || [],
      rowId: (p) => p.port_id,
      empty: 'No vNIC has a port on this network.',
      columns: [
        { title: 'Port', render: (p) => h('code', { class: 'port-id', title: p.port_id }, p.port_id.slice(0, 8)) },
        { title: 'Status', render: (p) => (p.status ? badge(p.status, PORT_STATUS[p.status] || 'warn') : '—') },
        { title: 'MAC', render: (p) => h('span', { class: 'mac' }, dash(p.mac_address)) },
        {
          title: 'Addresses',
          render: (p) => (p.fixed_ips?.length ? p.fixed_ips.map((ip) => ip.ip_address).join(', ') : '—'),
        },
        { title: 'Bound to host', render: (p) => dash(p.host) },
        {
          title: 'vNIC',
          render: (p) =>
            p.vm
              ? h('a', { href: `#/vms/${p.vm.id}/nics` }, `${p.nic.name} of ${p.vm.name}`)
              : h('span', { class: 'note' }, `no vNIC (device ${p.device_id || '—'})`),
        },
      ],
    }),
  ];
}
