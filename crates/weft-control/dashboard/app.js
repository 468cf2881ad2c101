// The dashboard: sign-in, the views, and following the tenant live.
//
// State is the tenant's `/v1/status` (networks, hosts with their links,
// the revision) and `/v1/sites`, read again whenever the event stream
// says something changed. A mesh file's page (`weft status --web`) answers
// `/v1/status` without a key: then the page is read-only and asks for none.

import { ApiError, clearKey, get, key, setKey } from './api.js';
import { follow } from './live.js';
import { h } from './dom.js';
import * as overview from './overview.js';
import * as hosts from './hosts.js';
import * as networks from './networks.js';
import * as tokens from './tokens.js';
import * as topology from './topology.js';

const ROUTES = {
  overview: { list: overview.render },
  topology: { list: topology.render },
  hosts: { list: hosts.renderList, one: hosts.renderOne },
  networks: { list: networks.renderList, one: networks.renderOne },
  tokens: { list: tokens.render },
};

const app = {
  status: null,
  sites: [],
  vms: null,
  changes: [],
  readOnly: false,
  view: null,
  stopLive: null,
};

const $ = (id) => document.getElementById(id);

function hostName(status, id) {
  const host = status.hosts.find((x) => x.id === id);
  return host ? host.name : id;
}

/** What changed between two readings, as lines stamped with the revision. */
function changesBetween(before, after) {
  if (!before) return [];
  const out = [];
  const rev = after.revision;
  const old = new Map(before.hosts.map((x) => [x.id, x]));
  const now = new Map(after.hosts.map((x) => [x.id, x]));
  for (const [id, x] of now) {
    const was = old.get(id);
    if (!was) out.push({ revision: rev, text: `host ${x.name} enrolled` });
    else if (was.state !== x.state) out.push({ revision: rev, text: `host ${x.name} is ${x.state}` });
    const links = new Map((was ? was.links : []).map((l) => [`${l.network} ${l.public_key}`, l]));
    for (const l of x.links || []) {
      const prev = links.get(`${l.network} ${l.public_key}`);
      if (prev && prev.health !== l.health) {
        const peer = l.peer ? hostName(after, l.peer) : l.public_key;
        out.push({ revision: rev, text: `link ${x.name} → ${peer} on ${l.network} is ${l.health}` });
      }
    }
  }
  for (const [id, x] of old) if (!now.has(id)) out.push({ revision: rev, text: `host ${x.name} deleted, its certificate revoked` });
  const oldNets = new Set(before.networks.map((n) => n.name));
  const newNets = new Set(after.networks.map((n) => n.name));
  for (const n of newNets) if (!oldNets.has(n)) out.push({ revision: rev, text: `network ${n} created` });
  for (const n of oldNets) if (!newNets.has(n)) out.push({ revision: rev, text: `network ${n} deleted` });
  return out;
}

/** VMs placed, deleted, or whose run state moved, likewise (`null`: the
 * control plane has no VMs). */
function vmChangesBetween(revision, before, after) {
  if (!before || !after) return [];
  const out = [];
  const old = new Map(before.map((v) => [v.id, v]));
  const now = new Map(after.map((v) => [v.id, v]));
  for (const [id, v] of now) {
    const was = old.get(id);
    const on = v.host_name || v.host;
    if (!was) out.push({ revision, text: `VM ${id} placed on ${on}` });
    else if (v.run && (!was.run || was.run.state !== v.run.state)) out.push({ revision, text: `VM ${id} is ${v.run.state}` });
  }
  for (const id of old.keys()) if (!now.has(id)) out.push({ revision, text: `VM ${id} deleted` });
  return out;
}

async function load() {
  const status = await get('/v1/status');
  const sites = await get('/v1/sites').catch(() => []);
  // VMs, when the control plane has them.
  const vms = await get('/v1/vms').catch(() => null);
  const vmList = Array.isArray(vms) ? vms : null;
  const seen = app.status ? vmChangesBetween(status.revision, app.vms, vmList) : [];
  app.changes = changesBetween(app.status, status).concat(seen, app.changes).slice(0, 20);
  app.status = status;
  app.sites = sites || [];
  app.vms = vmList;
}

function parseRoute() {
  const parts = (location.hash || '#/overview').slice(2).split('/');
  const name = ROUTES[parts[0]] ? parts[0] : 'overview';
  const id = parts[1] ? decodeURIComponent(parts[1]) : null;
  return { name, id };
}

function render() {
  if (!app.status) return;
  const route = parseRoute();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${route.name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (app.view && app.view.stop) app.view.stop();
  const spec = ROUTES[route.name];
  const make = route.id && spec.one ? spec.one : spec.list;
  const view = make({ app, id: route.id, refresh }) || {};
  app.view = view;
  $('view').replaceChildren(view.el || h('p', null, 'nothing here'));
  document.title = `weft · ${route.name}`;
}

/** Read the state again; the open view updates in place when it can. */
async function refresh() {
  try {
    await load();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !app.readOnly) {
      signOut('The API key is no longer valid: sign in again.');
      return;
    }
    $('live').textContent = `could not read the state: ${err.message}`;
    return;
  }
  document.body.dataset.revision = String(app.status.revision);
  if (app.view && app.view.update) app.view.update(app);
  else render();
}

// Changes may stream in faster than a large fleet redraws (10 a second at
// 1,000 hosts): one read at a time, at most one every MIN_GAP ms, and a
// change that comes meanwhile is taken by the next read.
const MIN_GAP = 500;
let reading = false;
let pending = false;
let lastRead = 0;

function requestRefresh() {
  if (reading) {
    pending = true;
    return;
  }
  reading = true;
  const wait = Math.max(0, MIN_GAP - (performance.now() - lastRead));
  setTimeout(async () => {
    await refresh();
    lastRead = performance.now();
    reading = false;
    if (pending) {
      pending = false;
      requestRefresh();
    }
  }, wait);
}

function startLive() {
  if (app.stopLive) app.stopLive();
  app.stopLive = follow('/v1/events', {
    onChange: () => requestRefresh(),
    onState: (state) => {
      $('live').textContent = state === 'live' ? '● live' : '○ reconnecting…';
      document.body.dataset.live = state;
    },
    onUnauthorized: () => signOut('The API key is no longer valid: sign in again.'),
  });
}

function showSignedIn() {
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('signout').hidden = app.readOnly;
  $('nav-tokens').hidden = app.readOnly;
  document.body.dataset.signedIn = 'true';
}

function signOut(message) {
  clearKey();
  if (app.stopLive) app.stopLive();
  if (app.view && app.view.stop) app.view.stop();
  Object.assign(app, { status: null, sites: [], vms: null, changes: [], view: null, stopLive: null });
  $('view').replaceChildren();
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('live').textContent = '';
  document.body.dataset.signedIn = 'false';
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('key').value = '';
  $('key').focus();
}

async function signIn(event) {
  event.preventDefault();
  const value = $('key').value.trim();
  $('signin-error').textContent = '';
  setKey(value);
  try {
    await load();
  } catch (err) {
    clearKey();
    $('signin-error').textContent = err instanceof ApiError && err.status === 401
      ? 'That API key was refused: check it and try again.'
      : `Could not sign in: ${err.message}`;
    return;
  }
  $('key').value = '';
  showSignedIn();
  render();
  startLive();
}

async function start() {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => signOut('Signed out.'));
  window.addEventListener('hashchange', render);
  try {
    await load();
  } catch {
    // No key, or a stale one: sign in.
    clearKey();
    signOut('');
    $('signin-error').textContent = '';
    return;
  }
  app.readOnly = !key();
  showSignedIn();
  render();
  startLive();
}

start();
