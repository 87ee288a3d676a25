// Edit network and Export network. An external network's configuration belongs to its provider: only its name and
// description are edited here, the rest is shown read-only with the reason. Export makes an engine network
// external: the provider creates it, and the engine links it, keeping its vNICs and profiles.

import * as api from '../api.js';
import { h, openDialog, row, notify } from '../ui.js';
import { byName, selectOf } from './common.js';

export const EXTERNAL_FIXED =
  "The provider owns an external network's configuration: only its name and description are edited here.";
const EXTERNAL_VM = 'An external network cannot be a non-VM network.';

const isVm = (n) => (n.usages?.usage || []).includes('vm');
const isManagement = (n) => (n.usages?.usage || []).includes('management');

export function editNetworkDialog(ctx, n) {
  const external = !!n.external_provider?.id;
  const name = h('input', { name: 'name', value: n.name, required: true });
  const description = h('input', { name: 'description', value: n.description || '' });
  const vm = h('input', { type: 'checkbox', name: 'vm_network', checked: isVm(n) });
  const mtu = h('input', {
    name: 'mtu',
    type: 'number',
    min: '0',
    value: n.mtu && n.mtu !== '0' ? n.mtu : '',
    placeholder: 'default',
  });
  const vlan = h('input', {
    name: 'vlan',
    type: 'number',
    min: '0',
    max: '4094',
    value: n.vlan?.id || '',
    placeholder: 'none',
  });
  const fixed = external ? EXTERNAL_FIXED : undefined;
  if (external) {
    vm.disabled = mtu.disabled = vlan.disabled = true;
    mtu.readOnly = vlan.readOnly = true;
  }
  openDialog({
    title: `Edit network ${n.name}`,
    body: [
      h('div', { class: 'form-grid' }, row('Name', name), row('Description', description)),
      h(
        'fieldset',
        {},
        h('legend', {}, external ? 'Set by the provider (read-only)' : 'Configuration'),
        h(
          'div',
          { class: 'form-grid' },
          row('VM network', vm, external ? EXTERNAL_VM : undefined),
          row('MTU', mtu, fixed),
          row('VLAN tag', vlan, fixed),
        ),
      ),
    ],
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = { name: name.value.trim(), description: description.value };
          if (!external) {
            const usages = (n.usages?.usage || []).filter((u) => u !== 'vm');
            body.usages = { usage: vm.checked ? [...usages, 'vm'] : usages };
            body.mtu = mtu.value || '0';
            body.vlan = vlan.value ? { id: vlan.value } : {};
          }
          dlg.status('Saving…');
          const saved = await api.put(`/networks/${n.id}`, body);
          dlg.close();
          notify(`Network '${saved.name}' was saved.`, 'success');
          await ctx.refresh();
          ctx.go(location.hash);
        },
      },
    ],
  });
}

// why an engine network cannot be exported, or null (the engine checks the rest: its attachments and profiles)
export function exportRefusal(n) {
  if (n.external_provider?.id) return 'It is already an external network.';
  if (isManagement(n)) return 'The management network cannot be an external network.';
  if (!isVm(n)) return EXTERNAL_VM;
  return null;
}

export function exportDialog(ctx, n) {
  const writable = byName(ctx.cache.providers.filter((p) => !api.truthy(p.read_only)));
  const provider = selectOf(writable, { name: 'provider' });
  openDialog({
    title: `Export network ${n.name}`,
    body: [
      h('div', { class: 'form-grid' }, row('Network provider', provider)),
      h(
        'p',
        { class: 'note' },
        `The provider creates a network named ${n.name}; ${n.name} becomes external, linked to it. Its vNIC profiles and `,
        'vNICs stay; they get ports on the provider when their VMs run. An external network is never required on a ',
        'cluster nor its display network, and has no port mirroring.',
      ),
      writable.length ? null : h('p', { class: 'error' }, 'No provider can take it: every provider is read-only.'),
    ],
    actions: [
      {
        label: 'Export',
        primary: true,
        async run(dlg) {
          if (!provider.value) throw new Error('Choose a network provider.');
          dlg.status('Creating the network on the provider…');
          await api.post(`/networks/${n.id}/export`, { external_provider: { id: provider.value } });
          dlg.close();
          notify(`Network '${n.name}' was exported to ${ctx.names.providers.get(provider.value)}.`, 'success');
          await ctx.refresh();
          ctx.go(`#/networks/${n.id}/general`);
        },
      },
    ],
  });
}
