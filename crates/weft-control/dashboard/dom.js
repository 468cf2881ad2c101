// Building the page from data, safely: every value goes in as text
// (createTextNode / textContent) or as an attribute value, never as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h('a', {href: '#/x'}, 'text', otherNode). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, likewise. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A table with a caption, header cells and rows of cells (values or nodes). */
export function table(caption, headers, rows, attrs) {
  return h('table', attrs,
    h('caption', null, caption),
    h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows.length
      ? rows.map((cells) => h('tr', null, cells.map((c) => h('td', null, c))))
      : h('tr', null, h('td', { colspan: headers.length, class: 'empty' }, 'none'))));
}

/** A link to a view of the page: the id goes in encoded. */
export function link(view, id, text) {
  return h('a', { href: `#/${view}/${encodeURIComponent(id)}` }, text);
}

/** "12 s ago", "3 min ago", …; "never" without a time. */
export function ago(unix, now) {
  if (!unix) return 'never';
  const secs = Math.max(0, Math.round(now - unix));
  if (secs < 120) return `${secs} s ago`;
  if (secs < 7200) return `${Math.round(secs / 60)} min ago`;
  if (secs < 172800) return `${Math.round(secs / 3600)} h ago`;
  return `${Math.round(secs / 86400)} d ago`;
}

export function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n) || 0;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export const HEALTH = ['healthy', 'degraded', 'unhealthy', 'disconnected'];

/** A host's peers by health, as "2 healthy · 1 unhealthy". */
export function healthSummary(counts) {
  const parts = HEALTH.filter((k) => counts && counts[k]).map((k) => `${counts[k]} ${k}`);
  return parts.length ? parts.join(' · ') : 'no peers';
}

export function nowSecs() {
  return Date.now() / 1000;
}
