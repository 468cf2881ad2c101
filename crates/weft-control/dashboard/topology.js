// Topology: hosts (grouped by site) and the peer links between them,
// coloured by health, filterable by network; hovering or focusing a link
// shows its handshake age, bytes and endpoint as each end reported them.
//
// Both ends of a link report it; the edge shows the worse of the two
// (a host whose traffic is cut cannot report, its peers still do).

import { ago, bytes, h, s, nowSecs } from './dom.js';

const RANK = { healthy: 0, degraded: 1, disconnected: 2, unhealthy: 3 };
const NODE_GAP = 26;
const PAD = 60;

let selected = '';

/** One edge per pair of hosts per network, with what each end says. */
export function edgesOf(status, network) {
  const edges = new Map();
  for (const x of status.hosts) {
    for (const l of x.links || []) {
      if (!l.peer || l.peer === x.id) continue;
      if (network && l.network !== network) continue;
      const [a, b] = x.id < l.peer ? [x.id, l.peer] : [l.peer, x.id];
      const id = `${l.network} ${a} ${b}`;
      let e = edges.get(id);
      if (!e) {
        e = { network: l.network, a, b, health: l.health, reports: [] };
        edges.set(id, e);
      }
      e.reports.push({ from: x.id, link: l });
      if ((RANK[l.health] ?? 0) > (RANK[e.health] ?? 0)) e.health = l.health;
    }
  }
  // A host past the heartbeat timeout says nothing more, and its peers'
  // probes may take a while when all is idle: its links are shown down
  // from the moment the control plane counts it offline.
  const offline = new Set(status.hosts.filter((x) => x.state === 'offline').map((x) => x.id));
  for (const e of edges.values()) {
    if (offline.has(e.a) || offline.has(e.b)) e.health = 'unhealthy';
  }
  return [...edges.values()];
}

/** Positions: each site's hosts on a circle, the sites side by side. */
function layout(hosts) {
  const groups = new Map();
  for (const x of hosts) {
    const key = x.site || '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(x);
  }
  const names = [...groups.keys()].sort();
  const places = new Map();
  const boxes = [];
  let x0 = 0;
  let y0 = 0;
  let rowHeight = 0;
  const maxWidth = 1400;
  for (const name of names) {
    const members = groups.get(name).slice().sort((p, q) => p.name.localeCompare(q.name));
    const r = Math.max(60, (members.length * NODE_GAP) / (2 * Math.PI));
    const size = 2 * r + 2 * PAD;
    if (x0 > 0 && x0 + size > maxWidth) {
      x0 = 0;
      y0 += rowHeight;
      rowHeight = 0;
    }
    const cx = x0 + size / 2;
    const cy = y0 + size / 2;
    members.forEach((m, i) => {
      const angle = (2 * Math.PI * i) / members.length - Math.PI / 2;
      places.set(m.id, members.length === 1
        ? { x: cx, y: cy }
        : { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) });
    });
    boxes.push({ name, x: x0 + 8, y: y0 + 8, w: size - 16, h: size - 16 });
    x0 += size;
    rowHeight = Math.max(rowHeight, size);
  }
  const width = Math.max(400, ...boxes.map((b) => b.x + b.w + 8));
  const height = Math.max(300, ...boxes.map((b) => b.y + b.h + 8));
  return { places, boxes, width, height };
}

/** A site's labels, as " · key=value, …" (text, like every name here). */
function labelsOf(app, site) {
  const found = app.sites.find((x) => x.name === site);
  const pairs = Object.entries((found && found.labels) || {}).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? ` · ${pairs.join(', ')}` : '';
}

function headline(names, e) {
  return `${names.get(e.a) || e.a} ↔ ${names.get(e.b) || e.b} on ${e.network}: ${e.health}`;
}

/** What a link's details say, line by line; `names` maps ids to names. */
function describe(names, e) {
  const now = nowSecs();
  const name = (id) => names.get(id) || id;
  return [headline(names, e)].concat(e.reports.map((r) => {
    const l = r.link;
    return `${name(r.from)} says ${l.health}; handshake ${ago(l.last_handshake, now)}; `
      + `received ${bytes(l.rx_bytes)}, sent ${bytes(l.tx_bytes)}; endpoint ${l.endpoint || 'unknown'}`;
  }));
}

function draw(app, panel) {
  const { status } = app;
  const members = selected
    ? new Set((status.networks.find((n) => n.name === selected) || { blocks: [] }).blocks.map((b) => b.host))
    : null;
  const hosts = status.hosts.filter((x) => !members || members.has(x.id));
  const { places, boxes, width, height } = layout(hosts);
  const edges = edgesOf(status, selected).filter((e) => places.has(e.a) && places.has(e.b));
  // Names by id once: a fleet of 1,000 hosts has many more links.
  const names = new Map(status.hosts.map((x) => [x.id, x.name]));
  const show = (e) => {
    panel.replaceChildren(...describe(names, e).map((line) => h('p', null, line)));
  };
  const svg = s('svg', {
    id: 'topology',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `${hosts.length} hosts and ${edges.length} links`,
    'data-nodes': hosts.length,
    'data-edges': edges.length,
  },
  boxes.filter((b) => b.name).map((b) => s('g', { class: 'site', 'data-site': b.name },
    s('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 12 }),
    s('text', { x: b.x + 12, y: b.y + 22 }, `site ${b.name}`, labelsOf(app, b.name)))),
  edges.map((e) => {
    const p = places.get(e.a);
    const q = places.get(e.b);
    return s('line', {
      class: `edge ${e.health}`,
      x1: p.x, y1: p.y, x2: q.x, y2: q.y,
      tabindex: 0,
      'data-a': e.a,
      'data-b': e.b,
      'data-network': e.network,
      'data-health': e.health,
      role: 'img',
      'aria-label': headline(names, e),
      onmouseenter: () => show(e),
      onfocus: () => show(e),
    }, s('title', null, headline(names, e)));
  }),
  hosts.map((x) => {
    const p = places.get(x.id);
    return s('g', { class: `node ${x.state}`, 'data-host': x.id, transform: `translate(${p.x} ${p.y})` },
      s('circle', { r: 9 }),
      s('text', { y: 24, 'text-anchor': 'middle' }, x.name),
      s('title', null, `${x.name}: ${x.state}`));
  }));
  return svg;
}

export function render({ app }) {
  const panel = h('div', { id: 'link-details', class: 'details', 'aria-live': 'polite' },
    h('p', null, 'Point at a link (or focus it with Tab) to see its handshake, bytes and endpoint.'));
  const filter = h('select', { id: 'network-filter' });
  const fillFilter = (a) => {
    if (selected && !a.status.networks.some((n) => n.name === selected)) selected = '';
    filter.replaceChildren(h('option', { value: '' }, 'All networks'),
      a.status.networks.map((n) => h('option', { value: n.name, selected: n.name === selected }, n.name)));
    filter.value = selected;
  };
  fillFilter(app);
  const holder = h('div', { class: 'topology' }, draw(app, panel));
  let current = app;
  filter.addEventListener('change', () => {
    selected = filter.value;
    holder.replaceChildren(draw(current, panel));
  });
  const legend = h('ul', { class: 'legend', 'aria-label': 'Link colours' },
    Object.keys(RANK).map((k) => h('li', null, h('span', { class: `swatch ${k}` }), k)));
  const el = h('section', null,
    h('h1', null, 'Topology'),
    h('p', { class: 'inline' }, h('label', { for: 'network-filter' }, 'Network'), filter),
    legend, holder, panel);
  return {
    el,
    update: (a) => {
      current = a;
      fillFilter(a);
      holder.replaceChildren(draw(a, panel));
    },
  };
}
