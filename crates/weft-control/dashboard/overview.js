// Overview: how many of what, and the latest changes with their revision.

import { h } from './dom.js';

function count(label, value, name) {
  return h('div', { class: 'count', 'data-count': name },
    h('span', { class: 'value' }, String(value)),
    h('span', { class: 'label' }, label));
}

function build(app) {
  const { status } = app;
  const by = (state) => status.hosts.filter((x) => x.state === state).length;
  const counts = [
    count('hosts online', by('online'), 'online'),
    count('hosts offline', by('offline'), 'offline'),
    count('hosts never reported', by('never'), 'never'),
  ];
  // Deleted hosts whose certificates are revoked (a mesh file has none).
  if (typeof status.revoked_hosts === 'number') counts.push(count('hosts revoked', status.revoked_hosts, 'revoked'));
  counts.push(
    count('networks', status.networks.length, 'networks'),
    count('sites', app.sites.length, 'sites'),
  );
  if (app.vms) counts.push(count('VMs', app.vms.length, 'vms'));
  return h('section', { 'aria-labelledby': 'overview-title' },
    h('h1', { id: 'overview-title' }, 'Overview'),
    h('p', null, `Tenant ${status.tenant} · revision `, h('span', { id: 'revision' }, String(status.revision))),
    h('div', { class: 'counts' }, counts),
    app.sites.length
      ? h('ul', { class: 'sites', id: 'sites', 'aria-label': 'Sites' }, app.sites.map((x) => h('li', null,
        h('strong', null, x.name), ' ',
        Object.entries(x.labels || {}).map(([k, v]) => h('span', { class: 'label-pair' }, `${k}=${v}`)))))
      : null,
    h('h2', null, 'Latest changes'),
    app.changes.length
      ? h('ol', { class: 'changes', id: 'changes' }, app.changes.map((c) => h('li', null,
        h('span', { class: 'rev' }, `r${c.revision}`), ' ', c.text)))
      : h('p', { id: 'changes' }, 'No change since this page opened.'));
}

export function render({ app }) {
  const el = h('div', null, build(app));
  return { el, update: (a) => el.replaceChildren(build(a)) };
}
