// A vNIC's provisioning steps as a waterfall: one row per step the engine committed, at its time, with a bar
// from when it began to when the next one did (its duration), so a slow step is seen rather than read. The
// steps split into attempts (a run, a hot plug, a migration each begin by looking up the port again); the
// latest is shown, earlier ones on demand.

import { h, badge, busy } from '../ui.js';

const STATE = {
  none: ['not provisioned', 'muted'],
  preparing: ['preparing', 'warn'],
  port_ready: ['port ready', 'warn'],
  plugged: ['plugged', 'ok'],
  unplugged: ['unplugged', 'muted'],
  failed: ['failed', 'bad'],
};
// the step each provisioning attempt (a run, a hot plug, a migration) begins with
const FIRST_STEP = 'looking up port';

export function stateBadge(p) {
  const [text, kind] = STATE[p?.state || 'none'] || [String(p.state).replaceAll('_', ' '), 'warn'];
  return badge(text, kind);
}

export function steps(n) {
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

export function stepHistory(n, state, moving) {
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
  const span = Math.max(ms(last.time) - ms(first.time), 1);
  const at = (t) => Math.min(100, Math.max(0, ((ms(t) - ms(first.time)) / span) * 100));
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
      { class: 'timeline waterfall' },
      list.map((s, i) => {
        const next = list[i + 1];
        const left = at(s.time);
        const width = next ? Math.max(at(next.time) - left, 0.5) : 0;
        return h(
          'li',
          { 'data-step': s.name, class: stepKind(s.name) },
          h('time', { datetime: s.time }, clock(s.time)),
          h(
            'span',
            { class: 'delta', title: 'since the previous step' },
            i ? `+${took(list[i - 1].time, s.time)}` : '',
          ),
          h('span', { class: 'step-name' }, s.name),
          h(
            'span',
            { class: 'track', 'aria-hidden': 'true' },
            h('span', {
              class: next ? 'bar' : 'bar end',
              style: `left: ${left.toFixed(2)}%; width: ${width.toFixed(2)}%`,
            }),
          ),
          h('span', { class: 'took' }, next ? `took ${took(s.time, next.time)}` : ''),
          s.detail ? h('span', { class: 'step-detail' }, s.detail) : null,
        );
      }),
      waiting ? h('li', { class: 'pending' }, h('span'), h('span'), busy(waiting)) : null,
    ),
  );
}

function stepKind(name) {
  if (name === 'failed' || name === 'binding refused') return 'bad';
  if (name === 'plugged' || name === 'bound' || name === 'port created') return 'ok';
  return undefined;
}
