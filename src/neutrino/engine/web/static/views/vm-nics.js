// A VM's Network Interfaces sub-tab: each vNIC's profile and network, its addresses (read from its port on the
// provider), its provisioning (Neutrino's `provisioning` extension: state, port and its provider status, binding
// host, last error, and the steps as a waterfall, see vm-nic-steps.js); New / Edit / Remove vNIC (nic-dialog.js)
// and Activate / Deactivate (hot plug / unplug on a running VM). The page it sits in keeps it live.

import * as api from '../api.js';
import { h, table, dash, yesNo, badge, busy, notify } from '../ui.js';
import { providerLink, toolbar } from './common.js';
import { nicDialog, removeNic } from './nic-dialog.js';
import { steps, stepHistory, stateBadge } from './vm-nic-steps.js';

const PORT_STATUS = { ACTIVE: 'ok', DOWN: 'muted', BUILD: 'warn', ERROR: 'bad' };

export function nicPanel(ctx, vm, nics, state, handle) {
  const profiles = state.profiles || new Map();
  const networkOf = (nic) => ctx.cache.networks.find((n) => n.id === profiles.get(nic.vnic_profile?.id)?.network?.id);
  const moving = state.doing.get(vm.id) === 'start' || ['wait_for_launch', 'powering_up'].includes(vm.status);
  const after = () => handle.refresh();
  return [
    toolbar(
      h(
        'button',
        { type: 'button', 'data-action': 'new-nic', onclick: () => nicDialog(ctx, vm, null, after) },
        'New vNIC…',
      ),
      h(
        'span',
        { class: 'note live-note' },
        moving
          ? busy(`Provisioning the vNICs of ${vm.name}; the steps appear below as the engine takes them.`)
          : 'The provisioning below updates live.',
      ),
    ),
    table({
      label: `Network interfaces of ${vm.name}`,
      rows: nics,
      empty: 'This VM has no network interfaces.',
      columns: [
        {
          title: 'vNIC',
          render: (n) => [
            h('span', { class: 'nic-name' }, n.name),
            h('br'),
            h('span', { class: 'note mac' }, dash(n.mac?.address)),
            h('br'),
            nicActions(ctx, vm, n, state, after),
          ],
        },
        {
          title: 'Profile (network)',
          render: (n) => profileAndNetwork(profiles.get(n.vnic_profile?.id), networkOf(n)),
          wrap: true,
        },
        {
          title: 'Plugged / linked',
          render: (n) => [
            h('span', { class: 'plugged' }, `${yesNo(n.plugged)} / ${yesNo(n.linked)}`),
            h('br'),
            plugButton(vm, n, state, handle),
          ],
        },
        { title: 'Addresses', render: (n) => addresses(n, state.ports?.get(n.id)) },
        { title: 'Provisioning', render: (n) => stateBadge(n.provisioning) },
        { title: 'Port', render: (n) => port(ctx, n.provisioning, networkOf(n)) },
        { title: 'Binding host', render: (n) => dash(n.provisioning?.binding_host) },
        { title: 'Last error', render: (n) => lastError(n.provisioning), wrap: true },
      ],
    }),
    h('h4', {}, 'Provisioning steps'),
    nics.some((n) => steps(n).length)
      ? nics.filter((n) => steps(n).length).map((n) => stepHistory(n, state, moving))
      : h(
          'p',
          { class: 'note' },
          'No vNIC of this VM has been provisioned yet: run the VM to see each step as it happens.',
        ),
  ];
}

// the vNIC's addresses, as its port on the provider has them (one a line)
function addresses(n, seen) {
  if (!n.provisioning?.port_id) return h('span', { class: 'note' }, 'no port yet');
  if (!seen) return h('span', { class: 'note' }, 'reading…');
  if (seen.error) return h('span', { class: 'error', title: seen.error }, 'unreadable: ', seen.error);
  if (!seen.fixed_ips?.length) return h('span', { class: 'note' }, 'none (no subnet)');
  return h(
    'ul',
    { class: 'addresses', 'aria-label': `Addresses of ${n.name}` },
    seen.fixed_ips.map((ip) => h('li', {}, h('code', {}, ip.ip_address))),
  );
}

function nicActions(ctx, vm, n, state, after) {
  const busyNow = !!state.doing.get(vm.id) || !!state.nicDoing.get(n.id);
  return h(
    'span',
    { class: 'row-actions' },
    h(
      'button',
      {
        type: 'button',
        'data-action': `edit-${n.id}`,
        'aria-label': `Edit ${n.name}`,
        disabled: busyNow,
        onclick: () => nicDialog(ctx, vm, n, after),
      },
      'Edit…',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-action': `remove-${n.id}`,
        'aria-label': `Remove ${n.name}`,
        disabled: busyNow,
        onclick: () => removeNic(vm, n, after),
      },
      'Remove',
    ),
  );
}

function profileAndNetwork(profile, net) {
  if (!profile) return h('span', { class: 'note' }, 'no network');
  return [profile.name, ' (', net ? h('a', { href: `#/networks/${net.id}` }, net.name) : '?', ')'];
}

// the provider's port: its id (shortened; the whole id on hover and for copying), its status there, and the
// provider (the network's, before the vNIC has a port)
function port(ctx, p, network) {
  const provider = providerLink(ctx, p?.provider || network?.external_provider);
  if (!p?.port_id) return provider ? [h('span', { class: 'note' }, 'no port yet'), h('br'), 'on ', provider] : '—';
  const status = p.provider_status;
  return [
    h('code', { class: 'port-id', title: p.port_id }, p.port_id.slice(0, 8)),
    ' ',
    status ? badge(status, PORT_STATUS[status] || 'warn', "The port's status on the provider") : null,
    provider ? [h('br'), 'on ', provider] : null,
  ];
}

// long messages are clamped to a few lines here; the whole text is on hover and in the steps below
function lastError(p) {
  if (!p?.last_error) return '—';
  return h('span', { class: 'error last-error', title: p.last_error }, p.last_error);
}

function plugButton(vm, n, state, handle) {
  const doing = state.nicDoing.get(n.id);
  if (doing) return busy(doing);
  const plugged = n.plugged === true || n.plugged === 'true';
  const action = plugged ? 'deactivate' : 'activate';
  const label = plugged ? 'Deactivate' : 'Activate';
  return h(
    'button',
    {
      type: 'button',
      'data-action': `${action}-${n.id}`,
      'aria-label': `${label} ${n.name}`,
      title:
        vm.status === 'up'
          ? `Hot ${plugged ? 'unplug' : 'plug'} ${n.name}`
          : `${plugged ? 'Unplug' : 'Plug'} ${n.name} (the VM is not running)`,
      disabled: !!state.doing.get(vm.id),
      onclick: async () => {
        state.nicDoing.set(n.id, `${plugged ? 'Deactivating' : 'Activating'}…`);
        handle.repaint();
        try {
          await api.post(`/vms/${vm.id}/nics/${n.id}/${action}`, {});
          notify(`${label} ${n.name}: done.`, 'success');
        } catch (err) {
          notify(`${label} ${n.name} failed: ${err.message}`);
        } finally {
          await handle.refresh().catch(() => {});
          state.nicDoing.delete(n.id);
          handle.repaint();
        }
      },
    },
    label,
  );
}
