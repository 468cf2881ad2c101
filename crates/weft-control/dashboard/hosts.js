// Hosts: the table, and one host's page with its networks, blocks, peers,
// VMs with their NICs, and its logs following live.

import { lines } from './api.js';
import { ago, bytes, h, healthSummary, link, nowSecs, table } from './dom.js';

function hostRows(app) {
  const now = nowSecs();
  return app.status.hosts.map((x) => [
    link('hosts', x.id, x.name),
    x.site || '—',
    h('span', { class: `state ${x.state}` }, x.state),
    x.endpoint || '—',
    x.version || '—',
    ago(x.last_seen, now),
    healthSummary(x.peer_health),
  ]);
}

export function renderList({ app }) {
  const build = (a) => h('section', null,
    h('h1', null, 'Hosts'),
    table('The tenant\'s hosts', ['Name', 'Site', 'State', 'Endpoint', 'Version', 'Last heartbeat', 'Peers'],
      hostRows(a), { id: 'hosts-table' }));
  const el = h('div', null, build(app));
  return { el, update: (a) => el.replaceChildren(build(a)) };
}

function peerRows(app, host) {
  const now = nowSecs();
  const names = new Map(app.status.hosts.map((x) => [x.id, x.name]));
  return (host.links || []).map((l) => [
    l.peer ? link('hosts', l.peer, names.get(l.peer) || l.peer) : h('code', null, l.public_key),
    l.network,
    h('span', { class: `health ${l.health}` }, l.health),
    ago(l.last_handshake, now),
    bytes(l.rx_bytes),
    bytes(l.tx_bytes),
    l.endpoint || '—',
  ]);
}

function details(app, host) {
  const now = nowSecs();
  const item = (term, value) => [h('dt', null, term), h('dd', null, value)];
  const vms = app.vms ? app.vms.filter((v) => v.host === host.id) : null;
  return h('div', null,
    h('h1', null, 'Host ', h('span', { id: 'host-name' }, host.name)),
    h('dl', { class: 'facts' },
      item('Id', host.id),
      item('Site', host.site || '—'),
      item('State', h('span', { class: `state ${host.state}` }, host.state)),
      item('Endpoint', host.endpoint || '—'),
      item('Version', host.version || '—'),
      item('Last heartbeat', ago(host.last_seen, now))),
    table('Networks and blocks', ['Network', 'Block'],
      host.blocks.map((b) => [link('networks', b.network, b.network), b.block])),
    table('Peers', ['Peer', 'Network', 'Health', 'Handshake', 'Received', 'Sent', 'Endpoint'],
      peerRows(app, host), { id: 'peers-table' }),
    vms ? vmsSection(vms) : null);
}

/** The host's VMs (`GET /v1/vms`, those whose `host` is this one): each
 * with its run state when it runs, and its NICs as the host made them. */
function vmsSection(vms) {
  const runState = (v) => (v.run ? h('span', { class: 'run' }, v.run.state) : 'not run');
  return h('section', { id: 'vms', 'aria-labelledby': 'vms-title' },
    h('h2', { id: 'vms-title' }, 'VMs'),
    vms.length
      ? vms.map((v) => h('div', { class: 'vm', 'data-vm': v.id },
        h('h3', null, v.id, ' · ', runState(v)),
        table(`NICs of ${v.id}`, ['Network', 'State', 'TAP', 'MAC', 'Address'],
          v.nics.map((n) => [
            link('networks', n.network, n.network),
            n.state,
            n.tap || '—',
            n.mac || '—',
            n.address || (n.ip ? `${n.ip} (asked)` : '—'),
          ]), { class: 'nics' })))
      : h('p', null, 'No VM on this host.'));
}

function level(text) {
  return ['error', 'warn', 'info', 'debug', 'trace'].includes(text) ? text : 'info';
}

function followLogs(app, id, list, note) {
  if (app.readOnly) {
    note.textContent = 'Logs are streamed by the control plane; a mesh file\'s page has none.';
    return () => {};
  }
  const controller = new AbortController();
  const path = `/v1/hosts/${encodeURIComponent(id)}/logs?follow=true&tail=200`;
  lines(path, (line) => {
    if (!line) return;
    let r;
    try {
      r = JSON.parse(line);
    } catch {
      return;
    }
    const when = new Date(r.time_ms).toISOString().replace('T', ' ').slice(0, 19);
    list.append(h('li', { class: `log ${level(r.level)}` },
      h('span', { class: 'when' }, when), ' ',
      h('span', { class: 'level' }, r.level), ' ',
      h('span', { class: 'target' }, r.target), ' ', r.message));
    while (list.childElementCount > 500) list.firstElementChild.remove();
    note.textContent = 'Following live.';
  }, controller.signal).catch((err) => {
    if (!controller.signal.aborted) note.textContent = `Logs: ${err.message}`;
  });
  return () => controller.abort();
}

export function renderOne({ app, id }) {
  const find = (a) => a.status.hosts.find((x) => x.id === id);
  const host = find(app);
  if (!host) return { el: h('section', null, h('h1', null, 'Host not found'), h('p', null, 'No host of this tenant has that id.')) };
  const info = h('div', null, details(app, host));
  // Focusable: it scrolls, and a keyboard must be able to scroll it.
  const list = h('ol', { class: 'logs', id: 'logs', 'aria-label': 'Log records', tabindex: '0' });
  const note = h('p', { class: 'note', role: 'status' }, 'Reading logs…');
  const stop = followLogs(app, id, list, note);
  const el = h('section', null, info, h('h2', null, 'Logs'), note, list);
  return {
    el,
    update: (a) => {
      const now = find(a);
      if (now) info.replaceChildren(details(a, now));
    },
    stop,
  };
}

