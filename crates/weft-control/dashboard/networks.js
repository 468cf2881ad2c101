// Networks: the table and one network's page (blocks per host, hosts).

import { h, link, table } from './dom.js';

export function renderList({ app }) {
  const build = (a) => h('section', null,
    h('h1', null, 'Networks'),
    table('The tenant\'s networks', ['Name', 'Subnet', 'Mode', 'Internal', 'Domain', 'Hosts'],
      a.status.networks.map((n) => [
        link('networks', n.name, n.name), n.subnet, n.mode, n.internal ? 'yes' : 'no', n.domain,
        String(n.blocks.length),
      ]), { id: 'networks-table' }));
  const el = h('div', null, build(app));
  return { el, update: (a) => el.replaceChildren(build(a)) };
}

function details(app, net) {
  const names = new Map(app.status.hosts.map((x) => [x.id, x]));
  const item = (term, value) => [h('dt', null, term), h('dd', null, value)];
  return h('section', null,
    h('h1', null, 'Network ', h('span', { id: 'network-name' }, net.name)),
    h('dl', { class: 'facts' },
      item('Subnet', net.subnet),
      item('Mode', net.mode),
      item('Internal', net.internal ? 'yes' : 'no'),
      item('Domain', net.domain),
      item('Block per host', `/${net.block_prefix}`)),
    table('Blocks per host', ['Host', 'State', 'Block'], net.blocks.map((b) => {
      const x = names.get(b.host);
      return [link('hosts', b.host, x ? x.name : b.host), x ? x.state : '—', b.block];
    }), { id: 'blocks-table' }),
    h('p', null, h('a', { href: '#/topology' }, 'See its links in the topology')));
}

export function renderOne({ app, id }) {
  const find = (a) => a.status.networks.find((n) => n.name === id);
  const net = find(app);
  if (!net) return { el: h('section', null, h('h1', null, 'Network not found'), h('p', null, 'No network of this tenant has that name.')) };
  const el = h('div', null, details(app, net));
  return {
    el,
    update: (a) => {
      const now = find(a);
      if (now) el.replaceChildren(details(a, now));
    },
  };
}
