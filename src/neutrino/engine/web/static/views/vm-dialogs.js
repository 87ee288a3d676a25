// New / Edit / Remove VM: name, cluster, template, memory, description. What the engine would refuse on a running
// VM (another cluster) is disabled with the reason next to it; what it refuses anyway is shown word for word.

import * as api from '../api.js';
import { h, openDialog, row, notify, confirmDialog } from '../ui.js';
import { byName } from './common.js';

const MIB = 1048576;
const RUNNING = new Set(['up', 'powering_up', 'wait_for_launch', 'migrating', 'powering_down', 'not_responding']);

export function isRunning(vm) {
  return RUNNING.has(vm?.status);
}

function clusterOptions(ctx) {
  const select = h('select', { name: 'cluster' });
  for (const dc of byName(ctx.cache.datacenters)) {
    const clusters = byName(ctx.cache.clusters.filter((c) => c.data_center?.id === dc.id));
    if (clusters.length) {
      select.append(
        h(
          'optgroup',
          { label: `Data center ${dc.name}` },
          clusters.map((c) => h('option', { value: c.id }, c.name)),
        ),
      );
    }
  }
  const loose = ctx.cache.clusters.filter((c) => !c.data_center?.id);
  if (loose.length) {
    select.append(
      h(
        'optgroup',
        { label: 'Without a data center' },
        loose.map((c) =>
          h('option', { value: c.id, disabled: true }, `${c.name} (not in a data center: a VM cannot be added to it)`),
        ),
      ),
    );
  }
  return select;
}

export async function vmDialog(ctx, vm, done) {
  let templates;
  try {
    templates = await api.list('/templates', 'template');
  } catch (err) {
    notify(err.message);
    return;
  }
  const name = h('input', { name: 'name', value: vm?.name || '', required: true });
  const description = h('input', { name: 'description', value: vm?.description || '' });
  const cluster = clusterOptions(ctx);
  const preferred =
    vm?.cluster?.id ||
    (ctx.tab === 'clusters' && ctx.id) ||
    ctx.cache.clusters.find((c) => c.name === 'Default')?.id ||
    '';
  if (preferred) cluster.value = preferred;
  const template = h(
    'select',
    { name: 'template' },
    byName(templates).map((t) => h('option', { value: t.id }, t.name)),
  );
  template.value = vm?.template?.id || templates.find((t) => t.name === 'Blank')?.id || templates[0]?.id || '';
  const memory = h('input', {
    name: 'memory',
    type: 'number',
    min: '1',
    step: '1',
    value: vm?.memory ? String(Math.round(Number(vm.memory) / MIB)) : '1024',
  });
  const running = isRunning(vm);
  if (vm) template.disabled = true;
  if (running) cluster.disabled = true;
  openDialog({
    title: vm ? `Edit VM ${vm.name}` : 'New VM',
    body: h(
      'div',
      { class: 'form-grid' },
      row('Name', name),
      row('Description', description),
      row(
        'Cluster',
        cluster,
        running ? 'The Cluster of a running VM cannot be changed: stop the VM first.' : undefined,
      ),
      row('Template', template, vm ? 'A VM keeps the template it was created from.' : undefined),
      row('Memory (MiB)', memory),
    ),
    actions: [
      {
        label: 'OK',
        primary: true,
        async run(dlg) {
          const mib = Number(memory.value);
          if (!Number.isInteger(mib) || mib <= 0) throw new Error('Memory (MiB): give a whole number above 0.');
          const body = { name: name.value.trim(), description: description.value, memory: String(mib * MIB) };
          if (!running) body.cluster = { id: cluster.value };
          if (!vm) body.template = { id: template.value };
          dlg.status(vm ? 'Saving…' : 'Creating…');
          const saved = vm ? await api.put(`/vms/${vm.id}`, body) : await api.post('/vms', body);
          dlg.close();
          notify(`VM '${saved.name}' was ${vm ? 'saved' : 'created'}.`, 'success');
          done(saved);
        },
      },
    ],
  });
}

export async function removeVm(vm, done) {
  if (isRunning(vm)) return; // the button is disabled, saying why
  if (
    !(await confirmDialog(
      'Remove VM',
      `Remove VM '${vm.name}'? Its vNICs' ports are released on their provider.`,
      'Remove',
    ))
  )
    return;
  try {
    await api.del(`/vms/${vm.id}`);
    notify(`VM '${vm.name}' was removed.`, 'success');
    done();
  } catch (err) {
    notify(err.message);
  }
}
