// A cluster's Logical Networks sub-tab: the networks attached to it (required, display), and the Manage
// Networks dialog that attaches and detaches its data center's networks and sets required and display.
// What the engine would refuse for an external network (required, display) is disabled with the reason beside it;
// the engine still decides the rest (the management network stays attached) and each refusal is shown as its message.

import * as api from '../api.js';
import { h, clear, dash, yesNo, openDialog, notify } from '../ui.js';
import { toolbar, networkTable, networkMarks } from './common.js';

const byName = (items) => [...items].sort((a, b) => a.name.localeCompare(b.name));
export const EXTERNAL_ATTACHMENT = 'External network: never required in a cluster nor its display network.';

// a network's VM role, as the cluster dialog shows it (read-only there: it is the network's, see Edit network; an
// external network is always one)
function vmNetwork(n) {
  return (n.usages?.usage || []).includes('vm') || n.external_provider?.id ? 'Yes' : 'No';
}

export async function clusterNetworks(ctx, cluster) {
  const attached = byName(await api.list(`/clusters/${cluster.id}/networks`, 'network'));
  return [
    toolbar(
      h(
        'button',
        { type: 'button', 'data-action': 'manage-networks', onclick: () => manageDialog(ctx, cluster) },
        'Manage networks…',
      ),
    ),
    networkTable(ctx, attached, {
      label: `Networks of ${cluster.name}`,
      extra: [
        { title: 'Required', render: (n) => yesNo(n.required) },
        { title: 'Display', render: (n) => yesNo(n.display) },
        { title: 'Status', render: (n) => dash(n.status) },
      ],
    }),
  ];
}

// network id -> its attachment to the cluster ({required, display}), for the attached ones
async function attachments(cluster) {
  const attached = await api.list(`/clusters/${cluster.id}/networks`, 'network');
  return new Map(attached.map((n) => [n.id, { required: api.truthy(n.required), display: api.truthy(n.display) }]));
}

async function manageDialog(ctx, cluster) {
  let networks;
  let current;
  try {
    [networks, current] = await Promise.all([
      api.list(`/datacenters/${cluster.data_center?.id}/networks`, 'network').then(byName),
      attachments(cluster),
    ]);
  } catch (err) {
    notify(err.message);
    return;
  }
  const inputs = new Map(); // network id -> {assign, required, display}
  const tbody = h('tbody');
  const results = h('ul', { class: 'results', 'aria-label': 'Changes made' });
  let changed = false;

  const paint = () =>
    clear(
      tbody,
      networks.map((n) => {
        const now = current.get(n.id);
        const assign = h('input', {
          type: 'checkbox',
          checked: !!now,
          'aria-label': `Assign ${n.name}`,
          'data-network': n.name,
        });
        const required = h('input', { type: 'checkbox', checked: !!now?.required, 'aria-label': `Required ${n.name}` });
        const display = h('input', {
          type: 'radio',
          name: 'display',
          checked: !!now?.display,
          'aria-label': `Display ${n.name}`,
        });
        // an external network is never required nor the display network: those stay disabled, saying why
        const external = !!n.external_provider?.id;
        const why = external ? h('span', { class: 'reason', id: `why-${n.id}` }, EXTERNAL_ATTACHMENT) : null;
        if (why) {
          required.setAttribute('aria-describedby', why.id);
          display.setAttribute('aria-describedby', why.id);
        }
        const sync = () => {
          required.disabled = display.disabled = !assign.checked || external;
          if (!assign.checked || external) required.checked = display.checked = false;
        };
        assign.addEventListener('change', sync);
        // oVirt's default: a newly assigned network is required (unless it is external: never required)
        assign.addEventListener('change', () => {
          if (assign.checked && !external) required.checked = true;
        });
        sync();
        inputs.set(n.id, { assign, required, display });
        return h(
          'tr',
          { 'data-id': n.id },
          h(
            'td',
            { 'data-label': 'Network', class: 'wrap' },
            n.name,
            ' ',
            networkMarks(n),
            why ? [h('br'), why] : null,
          ),
          h('td', { 'data-label': 'Assign' }, assign),
          h('td', { 'data-label': 'Required' }, required),
          h('td', { 'data-label': 'VM network' }, vmNetwork(n)),
          h('td', { 'data-label': 'Display' }, display),
        );
      }),
    );

  // what to ask of the engine: attachments first, then edits, then detachments
  const plan = () => {
    const giving = networks.some((n) => inputs.get(n.id).display.checked && !current.get(n.id)?.display);
    const steps = [];
    for (const n of networks) {
      const { assign, required, display } = inputs.get(n.id);
      const now = current.get(n.id);
      const base = `/clusters/${cluster.id}/networks`;
      if (!now && assign.checked) {
        steps.push({
          order: 0,
          n,
          verb: 'attached',
          run: () => api.post(base, { id: n.id, required: String(required.checked), display: String(display.checked) }),
        });
      } else if (now && !assign.checked) {
        steps.push({ order: 2, n, verb: 'detached', run: () => api.del(`${base}/${n.id}`) });
      } else if (now) {
        const body = {};
        if (now.required !== required.checked) body.required = String(required.checked);
        // choosing another display network clears this one in the engine; asking for it here would lose the
        // display network if the engine refuses the other
        if (now.display !== display.checked && (display.checked || !giving)) body.display = String(display.checked);
        const said = [
          body.required && `required: ${yesNo(body.required).toLowerCase()}`,
          body.display && `display: ${yesNo(body.display).toLowerCase()}`,
        ]
          .filter(Boolean)
          .join(', ');
        if (said) steps.push({ order: 1, n, verb: `changed (${said})`, run: () => api.put(`${base}/${n.id}`, body) });
      }
    }
    return steps.sort((a, b) => a.order - b.order);
  };

  paint();
  openDialog({
    title: `Manage networks of cluster ${cluster.name}`,
    body: [
      networks.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { 'aria-label': `Networks of data center ${ctx.names.datacenters.get(cluster.data_center?.id) || ''}` },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Network', 'Assign', 'Required', 'VM network', 'Display'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              tbody,
            ),
          )
        : h('p', { class: 'note' }, 'The data center has no networks.'),
      h(
        'p',
        { class: 'note' },
        "Hosts of the cluster must have its required networks; the display network carries the VMs' consoles.",
      ),
      results,
    ],
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const steps = plan();
          if (!steps.length) {
            dlg.close();
            return;
          }
          clear(results);
          let ok = 0;
          for (const [i, step] of steps.entries()) {
            dlg.status(`Applying ${i + 1} of ${steps.length}: ${step.n.name}…`);
            try {
              await step.run();
              ok += 1;
              results.append(h('li', { class: 'ok' }, `${step.n.name}: ${step.verb}`));
            } catch (err) {
              if (err.status === 401) throw err;
              results.append(h('li', { class: 'bad' }, `${step.n.name}: ${err.message}`));
            }
          }
          changed = changed || ok > 0;
          if (ok === steps.length) {
            dlg.close();
            notify(`Networks of cluster ${cluster.name}: ${ok} change${ok === 1 ? '' : 's'} made.`, 'success');
            return;
          }
          // what the engine refused is shown as it now stands, so the user can choose again
          current = await attachments(cluster);
          paint();
          dlg.status(`${ok} of ${steps.length} changes made; the engine refused the others.`, 'bad');
        },
      },
    ],
    onClose: () => {
      if (changed) ctx.go(location.hash);
    },
  });
}
