// The topology picture on a 2D canvas: d3-zoom turns the wheel, drags and pinches into a transform, and each
// frame draws the scene (topology-model.js `scene`) through it: only what is in sight, text only where it can be
// read, edges batched by colour. A frame of 500 VMs costs milliseconds, so panning and zooming stay smooth
// without drawing libraries' per-element bookkeeping. Clicks are found through a grid index of the nodes.

import { STATES } from './topology-model.js';

const HIT_ORDER = { nic: 0, vm: 1, router: 2, fip: 3, network: 4, host: 5, group: 6 };
const CELL = 256;
const FONT = 'DejaVu Sans, system-ui, sans-serif';
const MIN_TEXT_PX = 6; // text smaller than this on screen is not drawn

export class Picture {
  // canvas: the <canvas>; d3: the d3 namespace; onOpen(href): a node was clicked; onHover(item | null)
  constructor(canvas, d3, { onOpen, onHover } = {}) {
    Object.assign(this, { canvas, d3, onOpen, onHover });
    this.t = d3.zoomIdentity;
    this.scene = { boxes: [], edges: [], nodes: [], bounds: { x1: 0, y1: 0, x2: 1, y2: 1 } };
    this.found = null;
    this.pending = 0;
    this.frames = 0;
    this.zoom = d3
      .zoom()
      .scaleExtent([0.02, 4])
      .on('zoom', (ev) => {
        this.t = ev.transform;
        this.schedule();
      });
    this.selection = d3.select(canvas).call(this.zoom);
    canvas.addEventListener('click', (ev) => {
      const item = this.itemAt(ev.offsetX, ev.offsetY);
      if (item?.href && this.onOpen) this.onOpen(item.href);
    });
    canvas.addEventListener('pointermove', (ev) => {
      const item = this.itemAt(ev.offsetX, ev.offsetY);
      canvas.style.cursor = item?.href ? 'pointer' : '';
      if (this.onHover) this.onHover(item, ev);
    });
    canvas.addEventListener('pointerleave', () => this.onHover && this.onHover(null));
    // a canvas taken out of the page (the user went to another page) lets go of everything
    this.resizer = new ResizeObserver(() => (canvas.isConnected ? this.resize() : this.destroy()));
    this.resizer.observe(canvas);
    this.resize();
  }

  destroy() {
    this.resizer.disconnect();
    cancelAnimationFrame(this.pending);
    this.selection.on('.zoom', null);
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.schedule();
    }
  }

  setScene(scene) {
    this.scene = scene;
    this.index = buildIndex(scene);
    if (this.found) this.found = this.item(this.found.id);
    this.schedule();
  }

  // the whole scene in sight (a small one not blown up past 1.25)
  fit(padding = 30) {
    const { x1, y1, x2, y2 } = this.scene.bounds;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const k = Math.min(1.25, (w - 2 * padding) / Math.max(1, x2 - x1), (h - 2 * padding) / Math.max(1, y2 - y1));
    const t = this.d3.zoomIdentity.translate(w / 2 - (k * (x1 + x2)) / 2, h / 2 - (k * (y1 + y2)) / 2).scale(k);
    this.selection.call(this.zoom.transform, t);
  }

  zoomBy(factor) {
    this.selection.call(this.zoom.scaleBy, factor);
  }

  // bring an item into the middle, at a scale where it reads
  centre(item, k = Math.max(this.t.k, 1)) {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    this.selection.call(
      this.zoom.transform,
      this.d3.zoomIdentity.translate(w / 2 - k * item.x, h / 2 - k * item.y).scale(k),
    );
  }

  item(id) {
    return this.scene.nodes.find((n) => n.id === id) || this.scene.boxes.find((b) => b.id === id) || null;
  }

  // the topmost node or box under a point of the canvas (CSS pixels)
  itemAt(px, py) {
    if (!this.index) return null;
    const [x, y] = this.t.invert([px, py]);
    const slack = 4 / this.t.k; // a few screen pixels around small things
    const found = (this.index.get(`${Math.floor(x / CELL)},${Math.floor(y / CELL)}`) || []).filter((it) => {
      const half = it.kind === 'nic' ? Math.max(it.w / 2, slack) : 0;
      return Math.abs(x - it.x) <= it.w / 2 + half && Math.abs(y - it.y) <= it.h / 2 + half;
    });
    found.sort((a, b) => HIT_ORDER[a.kind] - HIT_ORDER[b.kind]);
    return found[0] || null;
  }

  // NOTE: a canvas drawn in main memory. Without a GPU (headless, --disable-gpu) Chromium would otherwise back it
  // with its software GPU, and handing each frame to the compositor then cost hundreds of ms for 500 VMs.
  context() {
    return this.canvas.getContext('2d', { willReadFrequently: true, alpha: false, desynchronized: true });
  }

  schedule() {
    if (!this.pending)
      this.pending = requestAnimationFrame(() => {
        this.pending = 0;
        this.draw();
      });
  }

  // One frame; `onDrawn` (if set) hears of each.
  draw() {
    const { canvas } = this;
    const ctx = this.context();
    const dpr = canvas.width / Math.max(1, canvas.clientWidth);
    const { k, x: tx, y: ty } = this.t;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#ffffff'; // opaque: nothing behind it to blend
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * tx, dpr * ty);
    const view = { x1: -tx / k, y1: -ty / k, x2: (canvas.clientWidth - tx) / k, y2: (canvas.clientHeight - ty) / k };
    const seen = (it) =>
      it.x + it.w / 2 >= view.x1 &&
      it.x - it.w / 2 <= view.x2 &&
      it.y + it.h / 2 >= view.y1 &&
      it.y - it.h / 2 <= view.y2;
    const px = (n) => n / Math.min(k, 1); // n screen pixels when zoomed out, n scene units when zoomed in
    const readable = (size) => size * k >= MIN_TEXT_PX;
    const { boxes, edges, nodes } = this.scene;
    const texts = new Texts(readable);

    for (const b of boxes) if (seen(b)) drawBox(ctx, b, px, texts);
    texts.flush(ctx); // the boxes' titles under the edges and nodes
    drawEdges(ctx, edges, view, px, texts, 1 / (dpr * k));
    for (const n of nodes) if (n.kind !== 'nic' && seen(n)) drawNode(ctx, n, px, texts, k < 0.5);
    if (4 * k >= 1.5) for (const n of nodes) if (n.kind === 'nic' && seen(n)) drawNic(ctx, n, px);
    texts.flush(ctx);
    if (this.found) {
      ctx.strokeStyle = '#0b5cad';
      ctx.lineWidth = px(4);
      ctx.strokeRect(
        this.found.x - this.found.w / 2 - px(5),
        this.found.y - this.found.h / 2 - px(5),
        this.found.w + px(10),
        this.found.h + px(10),
      );
    }
    this.frames += 1;
    if (this.onDrawn) this.onDrawn();
  }
}

function buildIndex(scene) {
  const index = new Map();
  for (const it of [...scene.nodes, ...scene.boxes]) {
    for (let cx = Math.floor((it.x - it.w / 2 - 8) / CELL); cx <= Math.floor((it.x + it.w / 2 + 8) / CELL); cx++) {
      for (let cy = Math.floor((it.y - it.h / 2 - 8) / CELL); cy <= Math.floor((it.y + it.h / 2 + 8) / CELL); cy++) {
        const key = `${cx},${cy}`;
        if (!index.has(key)) index.set(key, []);
        index.get(key).push(it);
      }
    }
  }
  return index;
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
}

// Text is drawn after the shapes of a pass, grouped by font: setting a canvas' font costs more than a fillText.
class Texts {
  constructor(readable) {
    this.readable = readable;
    this.byFont = new Map();
  }

  // the lines of a label centred on (x, y), the first one bold if asked, the next ones a size smaller
  add(label, x, y, size, bold = false) {
    if (!label.length || !this.readable(size)) return;
    label.forEach((line, i) => {
      const font = `${bold && i === 0 ? 'bold ' : ''}${i === 0 ? size : size - 1}px ${FONT}`;
      if (!this.byFont.has(font)) this.byFont.set(font, []);
      this.byFont.get(font).push(line, x, y + (i - (label.length - 1) / 2) * (size + 2));
    });
  }

  flush(ctx) {
    ctx.fillStyle = '#1d2430';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const [font, jobs] of this.byFont) {
      ctx.font = font;
      for (let i = 0; i < jobs.length; i += 3) ctx.fillText(jobs[i], jobs[i + 1], jobs[i + 2]);
    }
    this.byFont.clear();
  }
}

function drawBox(ctx, b, px, texts) {
  const st = STATES[b.state] || STATES.down;
  roundRect(ctx, b.x - b.w / 2, b.y - b.h / 2, b.w, b.h, 10);
  ctx.globalAlpha = 0.35;
  ctx.fillStyle = b.kind === 'group' ? '#f4f6f8' : st.fill;
  ctx.fill();
  ctx.globalAlpha = 1;
  ctx.lineWidth = px(b.state === 'unreachable' || b.state === 'agentdead' ? 3.5 : 2.5);
  ctx.strokeStyle = b.kind === 'group' ? '#8a93a0' : st.color;
  ctx.setLineDash(b.kind === 'group' || b.state === 'unreachable' || b.state === 'agentdead' ? [px(8), px(5)] : []);
  ctx.stroke();
  ctx.setLineDash([]);
  texts.add(b.label, b.x, b.y - b.h / 2 + 23, 13, true);
}

function drawEdges(ctx, edges, view, px, texts, hairline) {
  const visible = (e) =>
    Math.max(e.x1, e.x2) >= view.x1 &&
    Math.min(e.x1, e.x2) <= view.x2 &&
    Math.max(e.y1, e.y2, e.cy ?? -Infinity) >= view.y1 &&
    Math.min(e.y1, e.y2) <= view.y2;
  // the many vNIC-to-network lines: one path per colour
  const byState = new Map();
  for (const e of edges) {
    if (e.kind !== 'attach' || !visible(e)) continue;
    if (!byState.has(e.state)) byState.set(e.state, []);
    byState.get(e.state).push(e);
  }
  // one device pixel wide, opaque: the rasterizer's fast path for hairlines (a wide or translucent line costs
  // several times more to draw without a GPU)
  ctx.lineWidth = hairline;
  for (const [state, list] of byState) {
    ctx.strokeStyle = (STATES[state] || STATES.down).line;
    ctx.beginPath();
    for (const e of list) {
      ctx.moveTo(e.x1, e.y1);
      ctx.lineTo(e.x2, e.y2);
    }
    ctx.stroke();
  }
  for (const e of edges) {
    if (e.kind === 'attach' || !visible(e)) continue;
    const st = STATES[e.state] || STATES.down;
    ctx.strokeStyle = st.color;
    ctx.beginPath();
    ctx.moveTo(e.x1, e.y1);
    if (e.kind === 'tunnel') {
      ctx.lineWidth = px(3);
      ctx.setLineDash([px(9), px(6)]);
      ctx.quadraticCurveTo(e.cx, e.cy, e.x2, e.y2);
    } else {
      ctx.lineWidth = px(e.kind === 'gateway' ? 4 : 2.5);
      ctx.setLineDash(e.kind === 'fiplink' ? [px(2), px(4)] : []);
      ctx.lineTo(e.x2, e.y2);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    if (e.label && texts.readable(10)) {
      // a quadratic curve's middle is halfway between its control point and its ends' middle
      const mx = e.kind === 'tunnel' ? (e.x1 + e.x2) / 4 + e.cx / 2 : (e.x1 + e.x2) / 2;
      const my = e.kind === 'tunnel' ? (e.y1 + e.y2) / 4 + e.cy / 2 : (e.y1 + e.y2) / 2;
      const w = e.label.length * 6 + 6; // about: 10px text
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      ctx.fillRect(mx - w / 2, my - 7, w, 14);
      texts.add([e.label], mx, my, 10);
    }
  }
}

function drawNode(ctx, n, px, texts, small) {
  const st = STATES[n.state] || STATES.plain;
  const x = n.x - n.w / 2;
  const y = n.y - n.h / 2;
  ctx.beginPath();
  if (n.kind === 'router') {
    const c = n.h / 3;
    ctx.moveTo(x + c, y);
    ctx.lineTo(x + n.w - c, y);
    ctx.lineTo(x + n.w, y + c);
    ctx.lineTo(x + n.w, y + n.h - c);
    ctx.lineTo(x + n.w - c, y + n.h);
    ctx.lineTo(x + c, y + n.h);
    ctx.lineTo(x, y + n.h - c);
    ctx.lineTo(x, y + c);
    ctx.closePath();
  } else if (n.kind === 'fip') {
    ctx.moveTo(x, y);
    ctx.lineTo(x + n.w - n.h / 2, y);
    ctx.lineTo(x + n.w, n.y);
    ctx.lineTo(x + n.w - n.h / 2, y + n.h);
    ctx.lineTo(x, y + n.h);
    ctx.closePath();
  } else if (small) {
    ctx.rect(x, y, n.w, n.h); // rounded corners a pixel wide are not seen, and cost
  } else {
    ctx.roundRect(x, y, n.w, n.h, n.kind === 'vm' ? 7 : 5);
  }
  ctx.fillStyle = st.fill;
  ctx.fill();
  ctx.lineWidth = px(n.kind === 'network' || n.kind === 'router' ? 2 : 1);
  ctx.strokeStyle = st.color;
  ctx.setLineDash(n.kind === 'network' && n.state === 'failed' ? [px(6), px(4)] : []);
  ctx.stroke();
  ctx.setLineDash([]);
  texts.add(n.label, n.x, n.y, n.kind === 'vm' || n.kind === 'fip' ? 10 : 11, n.kind !== 'vm' && n.kind !== 'fip');
}

function drawNic(ctx, n, px) {
  const st = STATES[n.state] || STATES.down;
  ctx.beginPath();
  ctx.arc(n.x, n.y, n.w / 2, 0, 2 * Math.PI);
  ctx.fillStyle = n.state === 'unplugged' ? '#ffffff' : st.color;
  ctx.fill();
  ctx.lineWidth = px(1);
  ctx.strokeStyle = st.color;
  ctx.stroke();
}
