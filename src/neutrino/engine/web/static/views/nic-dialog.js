// New / Edit / Remove vNIC. The profile picker offers the profiles the VM may use: those of the VM networks
// attached to its cluster (the engine refuses the others), grouped by network, an external network named with its
// provider. It guides rather than refuses (oVirt's rules, its words):
// - a vNIC plugged into a running VM cannot move to or from an external network (rewiring);
// - plugging or unplugging on a running VM and changing the profile are two steps;
// - a vNIC on an external network cannot be plugged and unlinked.

import * as api from '../api.js';
import { h, clear, openDialog, row, notify, confirmDialog } from '../ui.js';
import { byName } from './common.js';
import { isRunning } from './vm-dialogs.js';

const INTERFACES = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'rtl8139_virtio', 'pci_passthrough', 'spapr_vlan'];
export const REWIRE =
  'External network cannot be changed while plugged into a running virtual machine. Stop the VM or unplug the vNIC before editing.';
const TWO_STEPS = 'Plug or unplug the network interface of a running VM and change its profile in two steps.';
const UNLINKED =
  'Plugged and unlinked VM network interface with external network is not supported: unplug it, or keep the link up.';
const truthy = api.truthy;

// What the picker offers: [{network, profiles}] for the VM networks attached to the VM's cluster, and how many
// of the data center's VM networks are left out because they are not attached.
async function choices(ctx, vm) {
  const cluster = ctx.cache.clusters.find((c) => c.id === vm.cluster?.id);
  const [attached, profiles] = await Promise.all([
    api.list(`/clusters/${vm.cluster?.id}/networks`, 'network'),
    api.list('/vnicprofiles', 'vnic_profile'),
  ]);
  const vmNetwork = (n) => (n.usages?.usage || []).includes('vm');
  const ids = new Set(attached.filter(vmNetwork).map((n) => n.id));
  const groups = byName(ctx.cache.networks.filter((n) => ids.has(n.id))).map((network) => ({
    network,
    profiles: byName(profiles.filter((p) => p.network?.id === network.id)),
  }));
  const left = ctx.cache.networks.filter(
    (n) => n.data_center?.id === cluster?.data_center?.id && vmNetwork(n) && !ids.has(n.id),
  ).length;
  return { groups: groups.filter((g) => g.profiles.length), left, cluster, profiles };
}

function groupLabel(ctx, network) {
  if (!network.external_provider?.id) return network.name;
  const provider = ctx.names.providers.get(network.external_provider.id) || 'a provider';
  return `${network.name} — external, provider ${provider}`;
}

function radios(name, label, options, value) {
  const inputs = options.map(([v, text]) => {
    const input = h('input', { type: 'radio', name, value: v, checked: v === value });
    return { input, label: h('label', {}, input, text) };
  });
  const group = h(
    'div',
    { class: 'checks', role: 'radiogroup', 'aria-label': label },
    inputs.map((i) => i.label),
  );
  return { group, inputs, value: () => inputs.find((i) => i.input.checked)?.input.value };
}

export async function nicDialog(ctx, vm, nic, done) {
  let offer;
  try {
    offer = await choices(ctx, vm);
  } catch (err) {
    notify(err.message);
    return;
  }
  const networkOfProfile = (id) => {
    const p = offer.profiles.find((x) => x.id === id);
    return p ? ctx.cache.networks.find((n) => n.id === p.network?.id) : null;
  };
  const current = nic?.vnic_profile?.id || '';
  const currentNet = networkOfProfile(current);
  const name = h('input', { name: 'name', value: nic?.name || '', required: true });
  const profile = h(
    'select',
    { name: 'vnic_profile', id: 'nic-profile' },
    h('option', { value: '' }, 'No network (empty profile)'),
  );
  for (const { network, profiles } of offer.groups) {
    profile.append(
      h(
        'optgroup',
        { label: groupLabel(ctx, network) },
        profiles.map((p) =>
          h(
            'option',
            { value: p.id, 'data-external': network.external_provider?.id ? 'true' : undefined },
            p.public === false || p.public === 'false' ? `${p.name} (not public)` : p.name,
          ),
        ),
      ),
    );
  }
  if (current && ![...profile.options].some((o) => o.value === current)) {
    // its profile is not offered any more (its network left the cluster): it stays until changed
    profile.append(
      h(
        'option',
        { value: current },
        `${networkOfProfile(current)?.name || 'current profile'} (not attached to the cluster)`,
      ),
    );
  }
  profile.value = nic ? current : offer.groups[0]?.profiles[0]?.id || '';
  const iface = h(
    'select',
    { name: 'interface' },
    INTERFACES.map((i) => h('option', { value: i }, i)),
  );
  iface.value = nic?.interface || 'virtio';
  const mac = h('input', {
    name: 'mac',
    value: nic?.mac?.address || '',
    placeholder: 'from the MAC pool',
    autocomplete: 'off',
  });
  const link = radios(
    'linked',
    'Link state',
    [
      ['true', 'Up'],
      ['false', 'Down'],
    ],
    String(nic ? truthy(nic.linked) : true),
  );
  const card = radios(
    'plugged',
    'Card status',
    [
      ['true', 'Plugged'],
      ['false', 'Unplugged'],
    ],
    String(nic ? truthy(nic.plugged) : true),
  );
  const profileWhy = h('span', { class: 'reason', id: 'nic-profile-why' });
  const linkWhy = h('span', { class: 'reason', id: 'nic-link-why' });
  profile.setAttribute('aria-describedby', profileWhy.id);
  link.group.setAttribute('aria-describedby', linkWhy.id);
  const running = isRunning(vm);
  const wasPlugged = nic ? truthy(nic.plugged) : false;

  // what the engine would refuse, disabled with the reason beside it
  const guide = () => {
    const plugged = card.value() === 'true';
    const togglesPlug = nic && running && plugged !== wasPlugged;
    const pinned = nic && running && wasPlugged && plugged;
    let why = '';
    profile.disabled = false;
    for (const o of profile.options) o.disabled = false;
    if (togglesPlug) {
      profile.value = current;
      profile.disabled = true;
      why = TWO_STEPS;
    } else if (pinned && currentNet?.external_provider) {
      profile.disabled = true;
      why = REWIRE;
    } else if (pinned) {
      for (const o of profile.options) if (o.dataset.external) o.disabled = true;
      why = `${vm.name} runs and ${nic.name} is plugged: its external networks are not offered. ${REWIRE}`;
    }
    clear(profileWhy, why);
    const external = !!networkOfProfile(profile.value)?.external_provider;
    const down = link.inputs.find((i) => i.input.value === 'false').input;
    down.disabled = external && plugged;
    if (down.disabled && down.checked) link.inputs[0].input.checked = true;
    clear(linkWhy, down.disabled ? UNLINKED : '');
  };
  profile.addEventListener('change', guide);
  for (const i of card.inputs) i.input.addEventListener('change', guide);
  guide();
  const cluster = offer.cluster?.name || 'its cluster';
  openDialog({
    title: nic ? `Edit vNIC ${nic.name} of ${vm.name}` : `New vNIC for ${vm.name}`,
    body: [
      h(
        'div',
        { class: 'form-grid' },
        row('Name', name),
        [
          h('label', { for: profile.id || (profile.id = 'nic-profile') }, 'Profile'),
          h('div', { class: 'stack' }, profile, profileWhy),
        ],
        row('Type', iface),
        row('Custom MAC address', mac),
        [h('span', { class: 'grid-label' }, 'Link state'), h('div', { class: 'stack' }, link.group, linkWhy)],
        [h('span', { class: 'grid-label' }, 'Card status'), card.group],
      ),
      h(
        'p',
        { class: 'note' },
        `Profiles of the VM networks attached to cluster ${cluster}.`,
        offer.left
          ? ` ${offer.left} other network${offer.left === 1 ? ' is' : 's are'} not attached to it and not offered: attach ${offer.left === 1 ? 'it' : 'them'} in the cluster's Manage networks.`
          : '',
      ),
    ],
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = {
            name: name.value.trim(),
            interface: iface.value,
            linked: link.value(),
            plugged: card.value(),
          };
          if (!profile.disabled || !nic) body.vnic_profile = profile.value ? { id: profile.value } : {};
          if (mac.value.trim() && mac.value.trim() !== nic?.mac?.address) body.mac = { address: mac.value.trim() };
          dlg.status(running && body.plugged === 'true' ? 'Saving; the host plugs it…' : 'Saving…');
          const saved = nic
            ? await api.put(`/vms/${vm.id}/nics/${nic.id}`, body)
            : await api.post(`/vms/${vm.id}/nics`, body);
          dlg.close();
          notify(`vNIC '${saved.name}' of ${vm.name} was ${nic ? 'saved' : 'added'}.`, 'success');
          done();
        },
      },
    ],
  });
}

export async function removeNic(vm, nic, done) {
  const plugged = isRunning(vm) && truthy(nic.plugged);
  const text = `Remove vNIC '${nic.name}' of ${vm.name}?${plugged ? ' It is hot-unplugged first.' : ''} Its port is released on the provider.`;
  if (!(await confirmDialog('Remove vNIC', text, 'Remove'))) return;
  try {
    await api.del(`/vms/${vm.id}/nics/${nic.id}`);
    notify(`vNIC '${nic.name}' of ${vm.name} was removed.`, 'success');
  } catch (err) {
    notify(`Remove ${nic.name} failed: ${err.message}`);
  }
  done();
}
