// Enrollment tokens: create one; its secret is shown this once (the
// control plane keeps only its hash), with a button that copies it.

import { call, get } from './api.js';
import { h, table } from './dom.js';

function when(unix) {
  return new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 16);
}

/** The tenant's tokens, each with a Revoke button. */
async function fillList(holder, error) {
  let tokens;
  try {
    tokens = await get('/v1/tokens');
  } catch (err) {
    error.textContent = `Could not list the tokens: ${err.message}`;
    return;
  }
  holder.replaceChildren(table('The tenant\'s tokens', ['Id', 'Site', 'Uses left', 'Expires', 'State', ''],
    tokens.map((t) => [
      h('code', null, t.id), t.site || '—', String(t.uses_left), when(t.expires_at), t.state,
      h('button', {
        type: 'button',
        class: 'revoke',
        'data-token': t.id,
        'aria-label': `Revoke token ${t.id}`,
        onclick: async () => {
          try {
            await call('DELETE', `/v1/tokens/${encodeURIComponent(t.id)}`);
          } catch (err) {
            error.textContent = `Could not revoke the token: ${err.message}`;
          }
          fillList(holder, error);
        },
      }, 'Revoke'),
    ]), { id: 'tokens-table' }));
}

function secretBox(created) {
  const code = h('code', { id: 'token-secret' }, created.token);
  const said = h('span', { role: 'status', class: 'note' });
  const copy = h('button', {
    type: 'button',
    id: 'token-copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(created.token);
        said.textContent = 'Copied.';
      } catch {
        // No clipboard (a page not served over HTTPS): select it instead.
        const range = document.createRange();
        range.selectNodeContents(code);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        said.textContent = 'Selected: copy it with Ctrl+C.';
      }
    },
  }, 'Copy');
  return h('div', { class: 'secret', id: 'token-created' },
    h('p', null, h('strong', null, 'This token is shown once.'), ' Give it to the host that enrolls (',
      h('code', null, 'weft agent --enroll-token …'), '); it cannot be shown again.'),
    h('p', null, code, ' ', copy, ' ', said),
    h('p', null, `Id ${created.id} · ${created.uses} use(s) · expires ${new Date(created.expires_at * 1000).toISOString()}`
      + (created.site ? ` · site ${created.site}` : '')));
}

export function render({ app }) {
  const result = h('div', { 'aria-live': 'polite' });
  const error = h('p', { class: 'error', role: 'alert' });
  const ttl = h('input', { id: 'token-ttl', type: 'number', min: 1, max: 2592000, value: 3600, required: true });
  const uses = h('input', { id: 'token-uses', type: 'number', min: 1, max: 1000, value: 1, required: true });
  const site = h('select', { id: 'token-site' },
    h('option', { value: '' }, '(none)'),
    app.sites.map((x) => h('option', { value: x.name }, x.name)));
  const form = h('form', {
    id: 'token-form',
    class: 'inline',
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = '';
      const body = { ttl_seconds: Number(ttl.value), uses: Number(uses.value) };
      if (site.value) body.site = site.value;
      try {
        const created = await call('POST', '/v1/tokens', body);
        result.replaceChildren(secretBox(created));
        fillList(list, error);
      } catch (err) {
        error.textContent = `Could not create the token: ${err.message}`;
      }
    },
  },
  h('label', { for: 'token-ttl' }, 'Valid for (seconds)'), ttl,
  h('label', { for: 'token-uses' }, 'Uses'), uses,
  h('label', { for: 'token-site' }, 'Site'), site,
  h('button', { type: 'submit', id: 'token-create' }, 'Create token'));
  const list = h('div', { id: 'tokens-list' });
  const el = h('section', null,
    h('h1', null, 'Enrollment tokens'),
    h('p', null, 'A token lets hosts enroll into this tenant (and a site). Only its hash is kept.'),
    form, error, result, list);
  fillList(list, error);
  // Nothing here follows the fleet: a change must not wipe a shown secret.
  return { el, update: () => {} };
}
