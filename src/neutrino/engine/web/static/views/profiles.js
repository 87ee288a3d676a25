// The vNIC Profiles tab and a network's vNIC Profiles sub-tab: list, New / Edit / Remove. A profile's
// SecurityGroups custom property says which provider security groups its vNICs' ports get. Port mirroring is
// offered only where the engine allows it: not on an external network (oVirt's rule, its words, next to it).

import * as api from '../api.js';
import { h, table, dash, yesNo, openDialog, row, confirmDialog, notify } from '../ui.js';
import { toolbar, providerLink, selectOf } from './common.js';

export const NO_MIRRORING = 'External network cannot be used when port mirroring is set.';

function customProperties(p) {
  return p?.custom_properties?.custom_property || [];
}

// The SecurityGroups custom property: absent (the port gets the provider's default group), empty (no group),
// or security group UUIDs, comma-separated.
function securityGroups(p) {
  const sg = customProperties(p).find((c) => c.name === 'SecurityGroups');
  if (!sg) return null;
  return sg.value || '';
}

function securityGroupsText(p) {
  const v = securityGroups(p);
  if (v === null) return h('span', { class: 'note' }, 'not set');
  return v === '' ? h('span', { class: 'note' }, 'none (empty)') : v;
}

export async function profileList(ctx, items, network) {
  let chosen = null;
  const edit = h(
    'button',
    { type: 'button', disabled: true, onclick: () => profileDialog(ctx, chosen) },
    'Edit profile…',
  );
  const remove = h('button', { type: 'button', class: 'danger', disabled: true }, 'Remove profile');
  remove.addEventListener('click', async () => {
    if (!chosen || !(await confirmDialog('Remove vNIC profile', `Remove vNIC profile '${chosen.name}'?`, 'Remove')))
      return;
    try {
      await api.del(`/vnicprofiles/${chosen.id}`);
      notify(`vNIC profile '${chosen.name}' was removed.`, 'success');
      ctx.go(location.hash);
    } catch (err) {
      notify(err.message);
    }
  });
  const grid = table({
    label: 'vNIC profiles',
    rows: items,
    empty: 'No vNIC profiles.',
    onSelect: (p) => {
      chosen = p;
      edit.disabled = remove.disabled = false;
      for (const tr of grid.querySelectorAll('tbody tr'))
        tr.setAttribute('aria-selected', String(tr.dataset.id === p.id));
    },
    columns: [
      { title: 'Name', render: (p) => p.name },
      {
        title: 'Network',
        render: (p) =>
          h('a', { href: `#/networks/${p.network?.id}` }, ctx.names.networks.get(p.network?.id) || p.network?.id),
      },
      {
        title: 'Provider',
        render: (p) =>
          providerLink(ctx, ctx.cache.networks.find((n) => n.id === p.network?.id)?.external_provider) || '—',
      },
      { title: 'Port mirroring', render: (p) => yesNo(p.port_mirroring) },
      { title: 'SecurityGroups', render: (p) => securityGroupsText(p), wrap: true },
      { title: 'Description', render: (p) => dash(p.description), wrap: true },
    ],
  });
  return [
    toolbar(
      h('button', { type: 'button', onclick: () => profileDialog(ctx, null, network) }, 'New profile…'),
      edit,
      remove,
    ),
    grid,
  ];
}

export async function profiles(ctx) {
  const items = await api.list('/vnicprofiles', 'vnic_profile');
  items.sort((a, b) => a.name.localeCompare(b.name));
  return [h('h2', {}, 'vNIC Profiles'), await profileList(ctx, items, null)];
}

function profileDialog(ctx, profile, network) {
  const name = h('input', { name: 'name', value: profile?.name || '', required: true });
  const description = h('input', { name: 'description', value: profile?.description || '' });
  const vmNetworks = ctx.cache.networks.filter((n) => (n.usages?.usage || []).includes('vm'));
  const net = selectOf(vmNetworks, { name: 'network', value: profile?.network?.id || network?.id });
  net.disabled = !!profile;
  const mirroring = h('input', {
    type: 'checkbox',
    name: 'port_mirroring',
    checked: api.truthy(profile?.port_mirroring),
  });
  // no port mirroring on an external network: the box is disabled, the reason beside it
  const mirrorWhy = h('span', { class: 'reason' });
  const syncMirroring = () => {
    const external = !!ctx.cache.networks.find((n) => n.id === net.value)?.external_provider;
    if (external) mirroring.checked = false;
    mirroring.disabled = external;
    mirrorWhy.textContent = external ? NO_MIRRORING : '';
  };
  net.addEventListener('change', syncMirroring);
  syncMirroring();
  const current = profile ? securityGroups(profile) : null;
  const others = customProperties(profile).filter((c) => c.name !== 'SecurityGroups');
  const mode = current === null ? 'unset' : current === '' ? 'none' : 'list';
  const choice = (value, text) =>
    h('label', {}, h('input', { type: 'radio', name: 'sg-mode', value, checked: mode === value }), text);
  const modes = h(
    'div',
    { class: 'checks', role: 'radiogroup', 'aria-label': 'Which security groups the ports get' },
    choice('unset', "Not set (the provider's default group)"),
    choice('none', 'Empty (no security group)'),
    choice('list', 'These groups:'),
  );
  const groups = h('input', {
    name: 'security_groups',
    value: current || '',
    'aria-label': 'SecurityGroups',
    placeholder: 'security group UUIDs, comma-separated',
  });
  const pick = (value) => {
    modes.querySelector(`input[value="${value}"]`).checked = true;
  };
  groups.addEventListener('input', () => pick(groups.value.trim() ? 'list' : 'none'));
  openDialog({
    title: profile ? `Edit vNIC profile ${profile.name}` : 'New vNIC profile',
    body: [
      h(
        'div',
        { class: 'form-grid' },
        row('Name', name),
        row('Description', description),
        row('Network', net, profile ? "A VM network interface profile's network cannot be changed." : undefined),
        row('Port mirroring', mirroring, mirrorWhy),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Custom properties'),
        h(
          'div',
          { class: 'form-grid' },
          h('span', { class: 'grid-label', id: 'sg-modes' }, 'SecurityGroups'),
          h('div', { class: 'stack' }, modes, groups),
        ),
        others.length
          ? h(
              'p',
              { class: 'note' },
              'Also set (kept as they are): ',
              others.map((c) => `${c.name}=${c.value}`).join(', '),
            )
          : null,
        h(
          'p',
          { class: 'note' },
          'Used for vNICs on external networks: the provider security groups (UUIDs) their ports get.',
        ),
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
            port_mirroring: String(mirroring.checked),
          };
          const chosen = modes.querySelector('input:checked')?.value || 'unset';
          const value = groups.value
            .split(/[\s,]+/)
            .filter(Boolean)
            .join(',');
          const props = others.map((c) => ({ name: c.name, value: c.value }));
          if (chosen === 'none' || (chosen === 'list' && !value)) props.push({ name: 'SecurityGroups', value: '' });
          else if (chosen === 'list') props.push({ name: 'SecurityGroups', value });
          body.custom_properties = { custom_property: props };
          if (profile) await api.put(`/vnicprofiles/${profile.id}`, body);
          else await api.post('/vnicprofiles', { ...body, network: { id: net.value } });
          dlg.close();
          notify(`vNIC profile '${body.name}' was saved.`, 'success');
          ctx.go(location.hash);
        },
      },
    ],
  });
}
