// The Providers tab: list with a live connection indicator, add/edit/remove, and the General and
// Networks sub-tabs (live provider networks, import into data centers, new network on the provider).

import * as api from '../api.js';
import { h, clear, table, dash, yesNo, dot, openDialog, row, confirmDialog, notify } from '../ui.js';
import { icon, providerTypeLabel } from '../icons.js';
import { subTabs, general, toolbar, attachToClusters, guarded } from './common.js';
import { newNetworkDialog } from './networks.js';
import { providerRouting } from './provider-routing.js';

// provider id -> {state, text}; kept across views so the indicator does not flicker on every navigation
const connection = new Map();

function indicator(p) {
  const el = h('span', { class: 'connection', 'data-provider': p.id });
  paint(el, connection.get(p.id) || { state: 'busy', text: 'Checking…' });
  return el;
}

function paint(el, c) {
  clear(el, dot(c.state === 'ok' ? 'Connected' : c.state === 'bad' ? 'Unreachable' : 'Checking…', c.state, c.text));
  if (c.state === 'bad') el.append(h('span', { class: 'note' }, ' ', c.text));
}

async function check(p) {
  let result;
  try {
    await api.post(`/openstacknetworkproviders/${p.id}/testconnectivity`, {});
    result = { state: 'ok', text: 'The provider answers.' };
  } catch (err) {
    result = { state: 'bad', text: err.message };
  }
  connection.set(p.id, result);
  for (const el of document.querySelectorAll(`.connection[data-provider="${p.id}"]`)) paint(el, result);
}

export async function providers(ctx) {
  const rows = [...ctx.cache.providers].sort((a, b) => a.name.localeCompare(b.name));
  const selected = rows.find((p) => p.id === ctx.id);
  const checkAll = () => rows.forEach(check);
  checkAll();
  ctx.poll(checkAll, 15000);
  const parts = [
    h('h2', {}, 'Providers'),
    toolbar(
      h('button', { type: 'button', onclick: () => providerDialog(ctx, null) }, 'Add…'),
      h('button', { type: 'button', disabled: !selected, onclick: () => providerDialog(ctx, selected) }, 'Edit…'),
      h(
        'button',
        { type: 'button', class: 'danger', disabled: !selected, onclick: () => removeProvider(ctx, selected) },
        'Remove',
      ),
      h('button', { type: 'button', onclick: checkAll }, 'Check connections'),
    ),
    table({
      label: 'Providers',
      rows,
      selected: ctx.id,
      empty: 'No providers. Add one to bring networks from it.',
      onSelect: (p) => ctx.go(`#/providers/${p.id}/${ctx.sub || 'general'}`),
      columns: [
        { title: 'Name', render: (p) => h('a', { href: `#/providers/${p.id}` }, p.name) },
        {
          title: 'Type',
          render: (p) => [icon(p.type === 'neutron' ? 'neutron' : 'provider'), ' ', providerTypeLabel(p.type)],
        },
        { title: 'URL', render: (p) => p.url },
        { title: 'Connection', render: indicator, wrap: true },
        { title: 'Description', render: (p) => dash(p.description), wrap: true },
      ],
    }),
  ];
  if (ctx.id && !selected) parts.push(h('p', { class: 'error', role: 'alert' }, `Provider '${ctx.id}' was not found.`));
  if (selected) parts.push(await providerDetail(ctx, selected));
  return parts;
}

async function providerDetail(ctx, p) {
  const sub = ['networks', 'routers'].includes(ctx.sub) ? ctx.sub : 'general';
  const panel =
    sub === 'networks'
      ? await guarded(() => providerNetworks(ctx, p))
      : sub === 'routers'
        ? await guarded(() => providerRouting(ctx, p))
        : general([
            ['Name', p.name],
            ['Description', p.description],
            ['Type', providerTypeLabel(p.type)],
            ['URL', p.url],
            ['Connection', indicator(p)],
            ['Requires authentication', yesNo(p.requires_authentication)],
            ['User name', p.username],
            ['Authentication URL', p.authentication_url],
            ['Tenant / project', p.tenant_name || p.project_name],
            ['User domain', p.user_domain_name],
            ['Project domain', p.project_domain_name],
            ['Plugin type', p.plugin_type ? 'Open vSwitch' : p.external_plugin_type],
            ['Read-only', yesNo(p.read_only)],
            ['Auto-sync', yesNo(p.auto_sync)],
            ['ID', p.id],
          ]);
  return [
    h('h3', {}, [icon(p.type === 'neutron' ? 'neutron' : 'provider'), ' ', `Provider ${p.name}`]),
    h('p', {}, h('a', { href: `#/topology/providers/${p.id}` }, `Topology of provider ${p.name}`)),
    subTabs(
      `#/providers/${p.id}`,
      [
        ['general', 'General'],
        ['networks', 'Networks'],
        ['routers', 'Routers'],
      ],
      sub,
      `Provider ${p.name}`,
    ),
    h('div', { class: 'subpanel' }, panel),
  ];
}

async function providerNetworks(ctx, p) {
  const base = `/openstacknetworkproviders/${p.id}/networks`;
  const items = await api.list(base, 'openstack_network');
  items.sort((a, b) => a.name.localeCompare(b.name));
  const picked = new Set();
  const importButton = h('button', { type: 'button', disabled: true }, 'Import…');
  importButton.addEventListener('click', () =>
    importDialog(
      ctx,
      p,
      items.filter((n) => picked.has(n.id)),
    ),
  );
  const boxes = [];
  const all = h('input', { type: 'checkbox', 'aria-label': 'Choose all networks', disabled: !items.length });
  const sync = () => {
    importButton.disabled = picked.size === 0;
    all.checked = items.length > 0 && picked.size === items.length;
  };
  all.addEventListener('change', () => {
    for (const [box, n] of boxes) {
      box.checked = all.checked;
      if (all.checked) picked.add(n.id);
      else picked.delete(n.id);
    }
    sync();
  });
  const pick = (n) => {
    const box = h('input', { type: 'checkbox', 'aria-label': `Choose ${n.name}`, 'data-network': n.name });
    boxes.push([box, n]);
    box.addEventListener('change', () => {
      if (box.checked) picked.add(n.id);
      else picked.delete(n.id);
      sync();
    });
    return box;
  };
  const dcNames = (n) => (n.data_centers?.data_center || []).map((d) => ctx.names.datacenters.get(d.id) || d.id);
  return [
    toolbar(
      importButton,
      h(
        'button',
        {
          type: 'button',
          disabled: api.truthy(p.read_only),
          onclick: () => newNetworkDialog(ctx, { providerId: p.id }),
        },
        'New network on provider…',
      ),
      h('button', { type: 'button', onclick: () => ctx.go(location.hash) }, 'Refresh'),
      h('span', { class: 'note' }, 'Live from the provider. Choose networks, then Import.'),
    ),
    table({
      label: 'Provider networks',
      rows: items,
      empty: 'The provider has no networks.',
      columns: [
        { title: all, render: pick },
        { title: 'Name', render: (n) => n.name },
        { title: 'Provider network ID', render: (n) => n.id },
        { title: 'Status', render: (n) => dash(n.status) },
        { title: 'MTU', render: (n) => dash(n.mtu) },
        { title: 'Imported into', render: (n) => dash(dcNames(n).join(', ')), wrap: true },
      ],
    }),
  ];
}

// Choose, for each network, the data centers to import it into (those that already have it are not
// offered); each import also attaches the network, not required, to every cluster of the data center.
function importDialog(ctx, p, chosen) {
  const boxes = [];
  const sections = chosen.map((n) => {
    const have = new Set((n.data_centers?.data_center || []).map((d) => d.id));
    const offer = ctx.cache.datacenters.filter((dc) => !have.has(dc.id));
    const checks = offer.map((dc) => {
      const box = h('input', { type: 'checkbox', checked: offer.length === 1 });
      boxes.push({ box, network: n, dc });
      return h('label', {}, box, dc.name);
    });
    return h(
      'fieldset',
      {},
      h('legend', {}, n.name),
      checks.length
        ? h('div', { class: 'checks' }, checks)
        : h('span', { class: 'note' }, 'Already imported into every data center.'),
    );
  });
  const isPublic = h('input', { type: 'checkbox', checked: true, name: 'public' });
  const bar = h('progress', { value: '0', max: '1', hidden: true, 'aria-label': 'Import progress' });
  const results = h('ul', { class: 'results', 'aria-label': 'Import results' });
  let done = false;
  let stopped = false;
  const dlg = openDialog({
    title: `Import networks from ${p.name}`,
    body: [
      sections,
      h('label', { class: 'checks' }, isPublic, "Allow all users to use the networks' vNIC profiles (public)"),
      bar,
      results,
    ],
    actions: [
      {
        label: 'Import',
        primary: true,
        stop(d) {
          stopped = true;
          d.status('Stopping after the current import…');
        },
        async run(d) {
          if (done) {
            d.close();
            return;
          }
          const jobs = boxes.filter((b) => b.box.checked);
          if (!jobs.length) throw new Error('Choose at least one data center to import into.');
          for (const b of boxes) b.box.disabled = true;
          isPublic.disabled = true;
          bar.hidden = false;
          bar.max = jobs.length;
          bar.value = 0;
          clear(results);
          let ok = 0;
          let tried = 0;
          for (const [i, job] of jobs.entries()) {
            if (stopped) break;
            d.status(`Importing ${i + 1} of ${jobs.length}: ${job.network.name} into ${job.dc.name}…`);
            try {
              const said = await importOne(p, job, isPublic.checked);
              ok += 1;
              results.append(h('li', { class: 'ok' }, `${job.network.name} → ${job.dc.name}: ${said}`));
            } catch (err) {
              if (err.status === 401) throw err;
              results.append(h('li', { class: 'bad' }, `${job.network.name} → ${job.dc.name}: ${err.message}`));
            }
            tried = i + 1;
            bar.value = tried;
          }
          const left = jobs.length - tried;
          d.status(
            `${ok} of ${jobs.length} imported.${left ? ` Stopped: ${left} not tried.` : ''}`,
            ok === jobs.length ? 'ok' : 'bad',
          );
          done = true;
          d.el.querySelector('button[data-action="Import"]').textContent = 'Close';
          d.cancelButton.hidden = true;
        },
      },
    ],
    onClose: async () => {
      if (done || stopped) {
        await ctx.refresh();
        ctx.go(location.hash);
      }
    },
  });
  return dlg;
}

// Returns what to add to the result line. oVirt's "public" grants every user the vNIC profile (the Everyone
// group's VnicProfileUser permission); the engine makes new profiles public, so a private choice takes it back.
async function importOne(p, job, isPublic) {
  await api.post(`/openstacknetworkproviders/${p.id}/networks/${job.network.id}/import`, {
    data_center: { id: job.dc.id },
  });
  const nets = await api.list(`/datacenters/${job.dc.id}/networks`, 'network');
  const net = nets.find((n) => n.name === job.network.name && n.external_provider?.id === p.id);
  if (!net) return 'imported';
  const clusters = await attachToClusters(net.id, job.dc.id);
  const attached = `imported, attached (not required) to ${clusters} cluster${clusters === 1 ? '' : 's'}`;
  if (isPublic) return attached;
  const [profile] = await api.list(`/networks/${net.id}/vnicprofiles`, 'vnic_profile');
  if (!profile) return attached;
  const grants = await api.list(`/vnicprofiles/${profile.id}/permissions`, 'permission');
  for (const g of grants.filter((x) => x.group?.name === 'Everyone')) {
    await api.del(`/vnicprofiles/${profile.id}/permissions/${g.id}`);
  }
  return `${attached}; its vNIC profile is not public`;
}

function providerForm(p) {
  const v = (k) => (p && p[k]) || '';
  const f = {
    name: h('input', { name: 'name', value: v('name'), required: true }),
    description: h('input', { name: 'description', value: v('description') }),
    type: h(
      'select',
      { name: 'type', disabled: !!p },
      h('option', { value: 'neutron' }, 'OpenStack Networking'),
      h('option', { value: 'external' }, 'External Network Provider'),
    ),
    url: h('input', { name: 'url', value: v('url'), placeholder: 'http://host:9696', required: true }),
    plugin: h(
      'select',
      { name: 'plugin' },
      h('option', { value: 'open_vswitch' }, 'Open vSwitch'),
      h('option', { value: 'external' }, 'Other (type below)'),
    ),
    external_plugin_type: h('input', {
      name: 'external_plugin_type',
      value: v('external_plugin_type'),
      placeholder: 'e.g. LINUX_BRIDGE',
    }),
    requires_authentication: h('input', {
      type: 'checkbox',
      name: 'requires_authentication',
      checked: api.truthy(p?.requires_authentication),
    }),
    username: h('input', { name: 'username', value: v('username'), autocomplete: 'off' }),
    password: h('input', {
      name: 'password',
      type: 'password',
      autocomplete: 'new-password',
      placeholder: p ? 'unchanged' : '',
    }),
    authentication_url: h('input', {
      name: 'authentication_url',
      value: v('authentication_url'),
      placeholder: 'http://host:5000/v3',
    }),
    tenant_name: h('input', { name: 'tenant_name', value: v('tenant_name') || v('project_name') }),
    user_domain_name: h('input', { name: 'user_domain_name', value: v('user_domain_name') }),
    project_domain_name: h('input', { name: 'project_domain_name', value: v('project_domain_name') }),
    read_only: h('input', { type: 'checkbox', name: 'read_only', checked: api.truthy(p?.read_only) }),
    auto_sync: h('input', { type: 'checkbox', name: 'auto_sync', checked: api.truthy(p?.auto_sync) }),
  };
  f.type.value = p?.type || 'neutron';
  f.plugin.value = p && !p.plugin_type && p.external_plugin_type ? 'external' : 'open_vswitch';
  return f;
}

function providerBody(f, p) {
  const b = {
    name: f.name.value.trim(),
    description: f.description.value,
    type: f.type.value,
    url: f.url.value.trim(),
    requires_authentication: String(f.requires_authentication.checked),
    read_only: String(f.read_only.checked),
    auto_sync: String(f.auto_sync.checked),
  };
  if (f.type.value === 'neutron') {
    if (f.plugin.value === 'open_vswitch') {
      b.plugin_type = 'open_vswitch';
      b.external_plugin_type = '';
    } else {
      b.plugin_type = '';
      b.external_plugin_type = f.external_plugin_type.value.trim();
    }
  }
  if (f.requires_authentication.checked) {
    for (const k of ['username', 'authentication_url', 'tenant_name', 'user_domain_name', 'project_domain_name'])
      b[k] = f[k].value.trim();
    // a provider registered with a project name (Keystone v3) keeps it under that name
    if (p && p.project_name && !p.tenant_name) {
      b.project_name = b.tenant_name;
      delete b.tenant_name;
    }
    if (f.password.value) b.password = f.password.value;
  }
  return b;
}

function providerDialog(ctx, p) {
  const f = providerForm(p);
  const auth = h(
    'fieldset',
    {},
    h('legend', {}, 'Authentication'),
    h(
      'div',
      { class: 'form-grid' },
      row('User name', f.username),
      row('Password', f.password),
      row('Authentication URL', f.authentication_url),
      row('Tenant (project) name', f.tenant_name),
      row('User domain name', f.user_domain_name),
      row('Project domain name', f.project_domain_name),
    ),
  );
  const pluginRows = h(
    'div',
    { class: 'form-grid' },
    row('Plugin type', f.plugin),
    row('Other plugin type', f.external_plugin_type),
  );
  const sync = () => {
    auth.disabled = !f.requires_authentication.checked;
    auth.hidden = !f.requires_authentication.checked;
    pluginRows.hidden = f.type.value !== 'neutron';
    f.external_plugin_type.disabled = f.plugin.value !== 'external';
  };
  for (const el of [f.requires_authentication, f.type, f.plugin]) el.addEventListener('change', sync);
  sync();
  openDialog({
    title: p ? `Edit provider ${p.name}` : 'Add provider',
    body: [
      h(
        'div',
        { class: 'form-grid' },
        row('Name', f.name),
        row('Description', f.description),
        row('Type', f.type),
        row('Provider URL', f.url),
      ),
      pluginRows,
      h('div', { class: 'form-grid' }, row('Requires authentication', f.requires_authentication)),
      auth,
      h('div', { class: 'form-grid' }, row('Read-only', f.read_only), row('Automatic synchronization', f.auto_sync)),
    ],
    actions: [
      {
        label: 'Test',
        async run(dlg) {
          dlg.status('Testing the connection…');
          const body = providerBody(f, p);
          if (
            p &&
            !body.password &&
            api.truthy(p.requires_authentication) &&
            body.requires_authentication === 'true' &&
            !changedAuth(p, body)
          ) {
            await api.post(`/openstacknetworkproviders/${p.id}/testconnectivity`, {});
            dlg.status('Connection succeeded.', 'ok');
            return;
          }
          const answer = await api.post('/ui/providers/test', body);
          if (answer.ok) dlg.status('Connection succeeded.', 'ok');
          else dlg.status(`Connection failed: ${answer.error}`, 'bad');
        },
      },
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const body = providerBody(f, p);
          if (p) delete body.type;
          dlg.status('Saving…');
          const saved = p
            ? await api.put(`/openstacknetworkproviders/${p.id}`, body)
            : await api.post('/openstacknetworkproviders', body);
          connection.delete(saved.id);
          dlg.close();
          notify(`Provider '${saved.name}' was saved.`, 'success');
          await ctx.refresh();
          ctx.go(`#/providers/${saved.id}/general`);
        },
      },
    ],
  });
}

// an edit that keeps the stored password can only be tested as saved if the rest of the login is the same
function changedAuth(p, body) {
  return (
    ['url', 'username', 'authentication_url', 'user_domain_name', 'project_domain_name'].some(
      (k) => (p[k] || '') !== (body[k] || ''),
    ) || (p.tenant_name || p.project_name || '') !== (body.tenant_name || body.project_name || '')
  );
}

async function removeProvider(ctx, p) {
  if (
    !(await confirmDialog(
      'Remove provider',
      `Remove provider '${p.name}'? Its networks are removed from the engine (the provider keeps them).`,
      'Remove',
    ))
  )
    return;
  try {
    await api.del(`/openstacknetworkproviders/${p.id}`);
    connection.delete(p.id);
    notify(`Provider '${p.name}' was removed.`, 'success');
    await ctx.refresh();
    ctx.go('#/providers');
  } catch (err) {
    notify(err.message);
  }
}
