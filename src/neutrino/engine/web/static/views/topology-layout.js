// The topology picture's layout: deterministic and layered, computed in one pass (no force simulation), so that
// 500 VMs and 50 networks are placed in a few milliseconds and a node stays where it was between refreshes.
//
//   routers (and their floating IPs above them)
//   networks, in rows, each placed above the vNICs that use it (ordered by their mean x)
//   hosts, each a box of its VMs in a grid (name order); the boxes packed in shelves so that the whole
//   picture is about as wide as a screen is; "Not running" last. A VM's vNICs sit on its top edge.
//   tunnels arc below the host boxes, from the bottom of one to the bottom of the other.
//
// Pure: the model in (topology-model.js), a Map of element id -> its centre {x, y} out (host boxes: and their
// {w, h}); the sizes of the rest are SIZE's.

export const SIZE = {
  vmW: 132,
  vmH: 38,
  cellW: 150,
  cellH: 74,
  nic: 11,
  hostPad: 22,
  hostHead: 46,
  hostGap: 90,
  netW: 180,
  netH: 50,
  netGapX: 30,
  netGapY: 40,
  netAbove: 170,
  routerW: 76,
  routerH: 46,
  routerAbove: 170,
  routerGap: 120,
  fipW: 176,
  fipH: 24,
  fipStep: 34,
  aspect: 1.6,
};

function grid(count) {
  const cols = Math.max(1, Math.ceil(Math.sqrt(count * 1.5)));
  return { cols, rows: Math.max(1, Math.ceil(count / cols)) };
}

// Shelves: boxes in order, left to right, a new shelf when the next would pass `width`.
function shelve(boxes, width) {
  let x = 0;
  let y = 0;
  let shelfH = 0;
  let maxX = 0;
  for (const b of boxes) {
    if (x > 0 && x + b.w > width) {
      x = 0;
      y += shelfH + SIZE.hostGap;
      shelfH = 0;
    }
    b.x = x;
    b.y = y;
    x += b.w + SIZE.hostGap;
    maxX = Math.max(maxX, b.x + b.w);
    shelfH = Math.max(shelfH, b.h);
  }
  return { w: maxX, h: y + shelfH };
}

// The shelf width whose picture (hosts and network rows) comes closest to a screen's shape.
function bestWidth(boxes, networkCount) {
  const widths = new Set([Math.max(...boxes.map((b) => b.w))]);
  let run = 0;
  for (const b of boxes) {
    run += b.w + (run ? SIZE.hostGap : 0);
    widths.add(run);
  }
  let best = null;
  for (const w of [...widths].sort((a, b) => a - b)) {
    const { w: realW, h } = shelve(boxes, w);
    const perRow = Math.max(1, Math.floor((realW + SIZE.netGapX) / (SIZE.netW + SIZE.netGapX)));
    const netRows = Math.ceil(networkCount / perRow);
    const height = h + SIZE.netAbove + netRows * (SIZE.netH + SIZE.netGapY);
    const score = Math.abs(Math.log(realW / height / SIZE.aspect));
    if (!best || score < best.score) best = { w, score };
  }
  return best.w;
}

export function layout(model) {
  const pos = new Map();
  const boxes = model.groups.map((g) => {
    const { cols, rows } = grid(g.vms.length);
    return { g, cols, w: cols * SIZE.cellW + 2 * SIZE.hostPad, h: rows * SIZE.cellH + SIZE.hostPad + SIZE.hostHead };
  });
  const width = boxes.length ? bestWidth(boxes, model.networks.length) : SIZE.netW;
  const area = boxes.length ? shelve(boxes, width) : { w: SIZE.netW, h: 0 };

  const nicX = new Map();
  for (const b of boxes) {
    pos.set(`h:${b.g.id}`, { x: b.x + b.w / 2, y: b.y + b.h / 2, w: b.w, h: b.h });
    b.g.vms.forEach((vm, i) => {
      const x = b.x + SIZE.hostPad + (i % b.cols) * SIZE.cellW + SIZE.cellW / 2;
      const y = b.y + SIZE.hostHead + Math.floor(i / b.cols) * SIZE.cellH + SIZE.cellH / 2;
      pos.set(`v:${vm.id}`, { x, y });
      const n = vm.nics.length;
      const step = n > 1 ? Math.min(SIZE.nic + 6, (SIZE.vmW - 20) / (n - 1)) : 0;
      vm.nics.forEach((nic, k) => {
        const nx = x - ((n - 1) * step) / 2 + k * step;
        pos.set(`n:${nic.id}`, { x: nx, y: y - SIZE.vmH / 2 - SIZE.nic / 2 + 1 });
        nicX.set(nic.id, nx);
      });
    });
  }

  // networks above, each toward the vNICs that use it; those nothing uses go last, by name
  const sum = new Map();
  for (const vm of model.vms) {
    for (const nic of vm.nics) {
      if (!nic.networkId) continue;
      const s = sum.get(nic.networkId) || [0, 0];
      s[0] += nicX.get(nic.id);
      s[1] += 1;
      sum.set(nic.networkId, s);
    }
  }
  for (const r of model.routers) {
    for (const i of r.interfaces) if (!sum.has(i.networkId)) sum.set(i.networkId, [area.w / 2, 1]);
  }
  const mean = (id) => {
    const s = sum.get(id);
    return s ? s[0] / s[1] : Infinity;
  };
  const nets = [...model.networks].sort((a, b) => mean(a.id) - mean(b.id) || a.name.localeCompare(b.name));
  // a row as wide as the hosts, or as six networks side by side when the hosts are fewer (no column of networks
  // whose lines would cross one another)
  const rowW = Math.max(area.w, Math.min(nets.length, 6) * (SIZE.netW + SIZE.netGapX));
  const perRow = Math.max(1, Math.floor((rowW + SIZE.netGapX) / (SIZE.netW + SIZE.netGapX)));
  const rows = Math.ceil(nets.length / perRow);
  const netX = new Map();
  nets.forEach((n, i) => {
    const row = Math.floor(i / perRow);
    const inRow = Math.min(perRow, nets.length - row * perRow);
    const span = Math.max(area.w, inRow * (SIZE.netW + SIZE.netGapX));
    const x = (span / inRow) * ((i % perRow) + 0.5) - (span - area.w) / 2;
    const y = -SIZE.netAbove - (rows - 1 - row) * (SIZE.netH + SIZE.netGapY);
    pos.set(`w:${n.id}`, { x, y });
    netX.set(n.id, x);
  });

  // routers above the networks, each toward its networks; a router's floating IPs stacked above it
  const top = -SIZE.netAbove - (rows - 1) * (SIZE.netH + SIZE.netGapY) - SIZE.routerAbove;
  const rmean = (r) => {
    const xs = [...r.interfaces.map((i) => i.networkId), r.gateway?.networkId]
      .filter((id) => netX.has(id))
      .map((id) => netX.get(id));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : area.w / 2;
  };
  const routers = [...model.routers]
    .map((r) => ({ r, x: rmean(r) }))
    .sort((a, b) => a.x - b.x || a.r.name.localeCompare(b.r.name));
  let last = -Infinity;
  for (const item of routers) {
    const x = Math.max(item.x, last + SIZE.routerGap);
    last = x;
    pos.set(`r:${item.r.id}`, { x, y: top });
    model.floatingIps
      .filter((f) => f.routerId === item.r.id)
      .forEach((f, k) => pos.set(`f:${f.id}`, { x, y: top - 60 - k * SIZE.fipStep }));
  }
  const loose = model.floatingIps.filter((f) => !pos.has(`f:${f.id}`));
  loose.forEach((f, k) => pos.set(`f:${f.id}`, { x: area.w + 120, y: top - k * SIZE.fipStep }));

  return pos;
}
