// The Topology tab: a live picture of the networks, hosts, VMs and their vNICs, tunnels and routers: laid out by
// a deterministic layered layout (topology-layout.js), drawn on a canvas (topology-draw.js) that d3-zoom (d3 is
// vendored, and loaded only on this tab) pans and zooms.
// Routes: #/topology (everything), #/topology/datacenters/<id>, #/topology/providers/<id>.
// A click on a node opens its page; the wheel or the buttons zoom, a drag pans; a list below says the same in
// words for the keyboard and assistive technology. It looks again every few seconds and recolours what changed.

import * as api from '../api.js';
import { h, clear } from '../ui.js';
import { STATES, KINDS, shape, scene, find, describe } from './topology-model.js';
import { SIZE, layout } from './topology-layout.js';
import { Picture } from './topology-draw.js';

const EVERY_MS = 3000;
let library = null;
// d3's bundle sets globalThis.d3 when run
const d3Lib = () => (library ||= import('../vendor/d3/d3.js').then(() => globalThis.d3));

function scopeOf(ctx) {
  if (ctx.id === 'datacenters' && ctx.sub)
    return { query: `?data_center=${encodeURIComponent(ctx.sub)}`, value: `datacenters/${ctx.sub}` };
  if (ctx.id === 'providers' && ctx.sub)
    return { query: `?provider=${encodeURIComponent(ctx.sub)}`, value: `providers/${ctx.sub}` };
  return { query: '', value: '' };
}

export async function topology(ctx) {
  const scope = scopeOf(ctx);
  const url = `/ui/topology${scope.query}`;
  const started = performance.now();
  const [d3, data] = await Promise.all([d3Lib(), api.get(url)]);
  const view = new TopologyView(ctx, d3, url, shape(data), scope);
  view.timing = { started, fetched: performance.now() };
  ctx.poll(() => view.refresh(), EVERY_MS);
  return view.root;
}

class TopologyView {
  constructor(ctx, d3, url, model, scope) {
    Object.assign(this, { ctx, d3, url, model, scope, picture: null });
    this.canvas = h('canvas', { class: 'topology-canvas', role: 'img', 'aria-busy': 'true' });
    this.canvas.topology = this; // for the tests and the bench: the drawing, its model and its timings
    this.tip = h('div', { class: 'topology-tip', 'aria-hidden': 'true', hidden: true });
    this.summary = h('p', { class: 'note topology-summary' });
    this.problems = h('div', { class: 'topology-problems' });
    this.status = h('p', { class: 'status-line', role: 'status' });
    this.listBox = h('div', { class: 'topology-list' });
    const details = h('details', { class: 'topology-words' }, h('summary', {}, 'Topology as a list'), this.listBox);
    details.addEventListener('toggle', () => {
      if (details.open) this.renderList();
    });
    this.details = details;
    this.root = h(
      'div',
      { class: 'topology' },
      h('h2', {}, 'Topology'),
      h('h3', { class: 'topology-scope' }, scopeTitle(model.scope)),
      this.toolbar(),
      this.problems,
      this.summary,
      h('div', { class: 'topology-stage' }, this.canvas, this.tip),
      this.status,
      legend(),
      details,
    );
    this.renderText();
    const start = () => (this.canvas.isConnected ? this.draw() : ctx.alive() && requestAnimationFrame(start));
    requestAnimationFrame(start);
  }

  toolbar() {
    const select = h(
      'select',
      { 'aria-label': 'Show' },
      h('option', { value: '' }, 'Everything'),
      this.ctx.cache.datacenters.map((d) => h('option', { value: `datacenters/${d.id}` }, `Data center ${d.name}`)),
      this.ctx.cache.providers.map((p) => h('option', { value: `providers/${p.id}` }, `Provider ${p.name}`)),
    );
    select.value = this.scope.value;
    select.addEventListener('change', () => this.ctx.go(`#/topology${select.value ? `/${select.value}` : ''}`));
    const findBox = h('input', {
      type: 'search',
      'aria-label': 'Find a node',
      placeholder: 'Find a VM, host, network or address',
    });
    const doFind = () => this.show(findBox.value);
    findBox.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        doFind();
      }
    });
    const zoomBy = (f) => this.picture && this.picture.zoomBy(f);
    return h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Topology' },
      h('label', { class: 'inline' }, 'Show ', select),
      h('button', { type: 'button', onclick: () => zoomBy(1.5) }, 'Zoom in'),
      h('button', { type: 'button', onclick: () => zoomBy(1 / 1.5) }, 'Zoom out'),
      h('button', { type: 'button', onclick: () => this.picture && this.picture.fit() }, 'Fit'),
      h('span', { class: 'spacer' }),
      findBox,
      h('button', { type: 'button', onclick: doFind }, 'Find'),
    );
  }

  // The first drawing: the layout, then the scene fitted into the canvas.
  draw() {
    const t0 = performance.now();
    const positions = layout(this.model);
    const drawn = scene(this.model, positions, SIZE);
    this.layoutMs = performance.now() - t0;
    this.timing.laidOut = performance.now();
    this.picture = new Picture(this.canvas, this.d3, {
      onOpen: (href) => this.ctx.go(href),
      onHover: (item, ev) => this.hover(item, ev),
    });
    this.picture.onDrawn = () => {
      this.picture.onDrawn = null;
      this.drawnAt = this.timing.drawn = performance.now();
      this.canvas.setAttribute('aria-busy', 'false');
    };
    this.picture.setScene(drawn);
    this.picture.fit();
    this.timing.created = performance.now();
  }

  hover(item, ev) {
    if (!item || !ev) {
      this.tip.hidden = true;
      return;
    }
    const text = item.kind === 'nic' ? this.nicText(item.id) : `${item.label[0] || ''}`;
    this.tip.textContent = text;
    this.tip.style.left = `${ev.offsetX + 14}px`;
    this.tip.style.top = `${ev.offsetY + 10}px`;
    this.tip.hidden = !text;
  }

  nicText(id) {
    const nic = this.model.nics.find((n) => `n:${n.id}` === id);
    return nic ? `${this.model.vms.find((v) => v.id === nic.vmId)?.name || ''} ${describe(nic)}` : '';
  }

  async refresh() {
    if (document.hidden || !this.picture) return;
    let data;
    try {
      data = await api.get(this.url);
    } catch (err) {
      if (err.status === 401) throw err;
      this.status.textContent = `The picture could not be refreshed: ${err.message}`;
      return;
    }
    if (!this.ctx.alive() || data.version === this.model.version) return;
    this.model = shape(data);
    // the same nodes keep their places; new ones get theirs from the layout, which is deterministic
    this.picture.setScene(scene(this.model, layout(this.model), SIZE));
    this.renderText();
    if (this.details.open) this.renderList();
  }

  show(text) {
    const found = find(this.model, text);
    const item = found && this.picture?.item(found.id);
    if (!item) {
      this.status.textContent = `Nothing is named or addressed '${text}'.`;
      return;
    }
    this.picture.found = item;
    this.picture.centre(item);
    this.status.textContent = `Showing ${found.name}.`;
  }

  // For the tests and the bench. Where to click a node on the page, after bringing it into sight (a host's box
  // is clicked just inside its lower left corner, where none of its VMs is).
  pointOf(id) {
    const item = this.picture.item(id);
    this.picture.centre(item);
    const corner = item.kind === 'host' || item.kind === 'group';
    const [x, y] = this.picture.t.apply(corner ? [item.x - item.w / 2 + 8, item.y + item.h / 2 - 8] : [item.x, item.y]);
    const box = this.canvas.getBoundingClientRect();
    return { x: box.left + x, y: box.top + y };
  }

  // What is drawn for a node: its kind, state and label, and the colour of the canvas inside its left edge.
  drawnNode(id) {
    const item = this.picture.item(id);
    if (!item) return null;
    this.pointOf(id);
    this.picture.draw();
    const [x, y] = this.picture.t.apply([item.x - item.w / 2 + 5, item.y]);
    const dpr = this.canvas.width / this.canvas.clientWidth;
    const [r, g, b] = this.picture.context().getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
    return { kind: item.kind, state: item.state, label: item.label.join('\n'), colour: `rgb(${r},${g},${b})` };
  }

  zoom() {
    return this.picture.t.k;
  }

  renderText() {
    const m = this.model;
    const nicCount = m.vms.reduce((a, v) => a + v.nics.length, 0);
    const text =
      `${m.hosts.length} hosts, ${m.vms.length} VMs, ${nicCount} vNICs, ${m.networks.length} networks` +
      `${m.routers.length ? `, ${m.routers.length} routers` : ''}, ${m.tunnels.length} tunnels`;
    this.summary.textContent = `${text}. Updated ${new Date().toLocaleTimeString()}.`;
    this.canvas.setAttribute(
      'aria-label',
      `Topology picture of ${scopeTitle(m.scope)}: ${text}. The list below says the same in words.`,
    );
    clear(
      this.problems,
      m.providers
        .filter((p) => p.error)
        .map((p) =>
          h(
            'p',
            { class: 'error' },
            `Provider ${p.name} did not answer; subnets and addresses are missing and port states are the engine's last record: ${p.error}`,
          ),
        )
        .concat(
          m.providers
            .filter((p) => p.routing_error)
            .map((p) =>
              h('p', { class: 'error' }, `The routers of provider ${p.name} could not be read: ${p.routing_error}`),
            ),
        ),
    );
  }

  renderList() {
    clear(this.listBox, listView(this.model));
  }
}

function scopeTitle(scope) {
  if (scope.kind === 'data_center') return `Data center ${scope.name}`;
  if (scope.kind === 'provider') return `Provider ${scope.name}`;
  return 'All data centers';
}

const KIND_SHAPES = {
  host: '<rect x="1" y="3" width="22" height="14" rx="3" fill="#dfe7f1" stroke="#4d6b8c" stroke-width="1.5"/>',
  vm: '<rect x="2" y="5" width="20" height="10" rx="3" fill="#eef0f3" stroke="#5b6575" stroke-width="1.5"/>',
  nic: '<circle cx="12" cy="10" r="4" fill="#1b7f3b"/>',
  network: '<rect x="1" y="5" width="22" height="10" rx="2" fill="#dfe7f1" stroke="#4d6b8c" stroke-width="2"/>',
  router: '<path d="M8 3h8l5 5v4l-5 5H8l-5-5V8z" fill="#d9f2e1" stroke="#1b7f3b" stroke-width="1.5"/>',
  fip: '<path d="M2 5h14l6 5-6 5H2z" fill="#eef0f3" stroke="#5b6575" stroke-width="1.5"/>',
  tunnel: '<path d="M1 14Q12 2 23 14" fill="none" stroke="#1b7f3b" stroke-width="2.5" stroke-dasharray="4 3"/>',
};

function legend() {
  const swatch = (st) =>
    h(
      'span',
      { class: 'swatch', 'aria-hidden': 'true', style: `background:${st.fill};border-color:${st.color}` },
      st.glyph,
    );
  const shapeOf = (kind) => {
    const span = h('span', { class: 'shape', 'aria-hidden': 'true' });
    span.innerHTML = `<svg viewBox="0 0 24 20" width="24" height="20">${KIND_SHAPES[kind]}</svg>`;
    return span;
  };
  return h(
    'section',
    { class: 'topology-legend', 'aria-label': 'Legend' },
    h('p', { class: 'legend-title' }, 'Legend'),
    h(
      'ul',
      { 'aria-label': 'Colours and marks by state' },
      Object.values(STATES)
        .filter((st) => st.glyph)
        .map((st) => h('li', {}, swatch(st), h('strong', {}, st.label), ' ', h('span', { class: 'note' }, st.text))),
    ),
    h(
      'ul',
      { 'aria-label': 'Shapes by kind' },
      Object.entries(KINDS).map(([kind, k]) =>
        h('li', {}, shapeOf(kind), h('strong', {}, k.label), ' ', h('span', { class: 'note' }, k.text)),
      ),
    ),
    h('p', { class: 'note' }, 'Click a node to open its page. Wheel or pinch to zoom, drag to pan.'),
  );
}

// The same picture in words, for the keyboard and for assistive technology.
function listView(m) {
  const netName = new Map(m.networks.map((n) => [n.id, n.name]));
  const hostName = new Map(m.hosts.map((x) => [x.id, x.name]));
  const link = (item) => (item.href ? h('a', { href: item.href }, item.name) : item.name);
  const parts = [
    h('h4', {}, 'Networks'),
    h(
      'ul',
      { 'aria-label': 'Networks' },
      m.networks.map((n) => h('li', {}, link(n), `: ${describe(n)}`)),
    ),
  ];
  for (const g of m.groups) {
    parts.push(h('h4', {}, g.kind === 'host' ? ['Host ', link(g), `: ${describe(g)}`] : g.name));
    parts.push(
      h(
        'ul',
        { 'aria-label': `VMs on ${g.name}` },
        g.vms.length
          ? g.vms.map((vm) =>
              h(
                'li',
                {},
                link(vm),
                `: ${describe(vm)}`,
                vm.nics.length
                  ? h(
                      'ul',
                      { 'aria-label': `vNICs of ${vm.name}` },
                      vm.nics.map((n) => h('li', {}, `${describe(n)}; network ${netName.get(n.networkId) || 'none'}`)),
                    )
                  : null,
              ),
            )
          : h('li', {}, 'No VM.'),
      ),
    );
  }
  parts.push(
    h('h4', {}, 'Tunnels'),
    h(
      'ul',
      { 'aria-label': 'Tunnels' },
      m.tunnels.length
        ? m.tunnels.map((t) =>
            h(
              'li',
              {},
              `${hostName.get(t.a)} ↔ ${hostName.get(t.b)}: ${t.networks.join(', ')}; ${STATES[t.state].label}`,
            ),
          )
        : h('li', {}, 'No tunnel.'),
    ),
  );
  if (m.routers.length) {
    parts.push(
      h('h4', {}, 'Routers'),
      h(
        'ul',
        { 'aria-label': 'Routers' },
        m.routers.map((r) =>
          h(
            'li',
            {},
            link(r),
            `: ${describe(r)}; networks ${r.interfaces.map((i) => `${netName.get(i.networkId)}${i.ip ? ` (${i.ip})` : ''}`).join(', ') || 'none'}`,
            m.floatingIps.some((f) => f.routerId === r.id)
              ? h(
                  'ul',
                  { 'aria-label': `Floating IPs of ${r.name}` },
                  m.floatingIps
                    .filter((f) => f.routerId === r.id)
                    .map((f) => h('li', {}, `${f.address}: ${describe(f)}`)),
                )
              : null,
          ),
        ),
      ),
    );
  }
  return parts;
}
