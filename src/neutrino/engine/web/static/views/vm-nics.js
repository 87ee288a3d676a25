// A VM's Network Interfaces sub-tab: each vNIC's provisioning (Neutrino's `provisioning` extension: state,
// port and its provider status, binding host, last error, and the steps the engine committed with their
// times), Activate / Deactivate (hot plug / unplug on a running VM). The page it sits in keeps it live.

import * as api from '../api.js';
import { h, table, dash, yesNo, badge, busy, notify } from '../ui.js';
import { providerLink } from './common.js';

const STATE = {
  none: ['not provisioned', 'muted'],
  preparing: ['preparing', 'warn'],
  port_ready: ['port ready', 'warn'],
  plugged: ['plugged', 'ok'],
  unplugged: ['unplugged', 'muted'],
  failed: ['failed', 'bad'],
};
const PORT_STATUS = { ACTIVE: 'ok', DOWN: 'muted', BUILD: 'warn', ERROR: 'bad' };
// the step each provisioning attempt (a run, a hot plug, a migration) begins with
const FIRST_STEP = 'looking up port';

export function nicPanel(ctx, vm, nics, state, handle) {
  const profiles = state.profiles || new Map();
  const networkOf = (nic) => ctx.cache.networks.find((n) => n.id === profiles.get(nic.vnic_profile?.id)?.network?.id);
  const moving = state.doing.get(vm.id) === 'start' || ['wait_for_launch', 'powering_up'].includes(vm.status);
  return [
    h(
      'p',
      { class: 'note live-note' },
      moving
        ? busy(`Provisioning the vNICs of ${vm.name}; the steps appear below as the engine takes them.`)
        : 'The provisioning below updates live.',
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

function profileAndNetwork(profile, net) {
  if (!profile) return h('span', { class: 'note' }, 'no network');
  return [profile.name, ' (', net ? h('a', { href: `#/networks/${net.id}` }, net.name) : '?', ')'];
}

function stateBadge(p) {
  const [text, kind] = STATE[p?.state || 'none'] || [String(p.state).replaceAll('_', ' '), 'warn'];
  return badge(text, kind);
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

function steps(n) {
  return n.provisioning?.steps?.step || [];
}

// the steps split into attempts, each beginning where the engine starts looking up the port again
function attempts(list) {
  const out = [];
  for (const s of list) {
    if (!out.length || (s.name === FIRST_STEP && out[out.length - 1].length)) out.push([]);
    out[out.length - 1].push(s);
  }
  return out;
}

const ms = (t) => new Date(t).getTime();

function clock(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t || '—');
  return d.toLocaleTimeString([], {
    hour12: false,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
  });
}

function took(a, b) {
  const d = ms(b) - ms(a);
  if (!Number.isFinite(d)) return '';
  return d < 1000 ? `${d} ms` : `${(d / 1000).toFixed(2)} s`;
}

function stepHistory(n, state, moving) {
  const all = attempts(steps(n));
  const latest = all[all.length - 1];
  const earlier = all.slice(0, -1).reverse();
  const key = `${n.id}:earlier`;
  const more = earlier.length
    ? h(
        'details',
        {
          open: state.open.has(key),
          ontoggle: (ev) => {
            if (ev.target.open) state.open.add(key);
            else state.open.delete(key);
          },
        },
        h('summary', {}, `Earlier attempts (${earlier.length})`),
        earlier.map((a) => attempt(a)),
      )
    : null;
  return h(
    'section',
    { class: 'steps', 'data-nic': n.name, 'aria-label': `Provisioning steps of ${n.name}` },
    h('div', { class: 'steps-head' }, h('strong', {}, n.name), ' ', stateBadge(n.provisioning)),
    attempt(latest, moving && WAITING[n.provisioning?.state]),
    more,
  );
}

// what a vNIC waits for while its VM starts, by its provisioning state
const WAITING = { preparing: 'waiting for the provider…', port_ready: 'waiting for the host to plug it…' };

function attempt(list, waiting) {
  const first = list[0];
  const last = list[list.length - 1];
  return h(
    'div',
    { class: 'attempt' },
    h(
      'p',
      { class: 'note' },
      list.length > 1
        ? `Began ${clock(first.time)}; ${took(first.time, last.time)} to the last step.`
        : `At ${clock(first.time)}.`,
    ),
    h(
      'ol',
      { class: 'timeline' },
      list.map((s, i) =>
        h(
          'li',
          { 'data-step': s.name, class: stepKind(s.name) },
          h('time', { datetime: s.time }, clock(s.time)),
          h(
            'span',
            { class: 'delta', title: 'since the previous step' },
            i ? `+${took(list[i - 1].time, s.time)}` : '',
          ),
          h('span', { class: 'step-name' }, s.name),
          s.detail ? h('span', { class: 'step-detail' }, s.detail) : null,
        ),
      ),
      waiting ? h('li', { class: 'pending' }, h('span'), h('span'), busy(waiting)) : null,
    ),
  );
}

function stepKind(name) {
  if (name === 'failed' || name === 'binding refused') return 'bad';
  if (name === 'plugged' || name === 'bound' || name === 'port created') return 'ok';
  return undefined;
}
