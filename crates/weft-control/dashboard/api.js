// The REST API as the page uses it: the tenant's key from sessionStorage
// (this tab only; not a cookie, so no other site can make the browser
// send it) in the Authorization header of every call.

const KEY = 'weft.apiKey';

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(value) {
  sessionStorage.setItem(KEY, value);
}

export function clearKey() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(json) {
  const h = {};
  const k = key();
  if (k) h.Authorization = `Bearer ${k}`;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

export async function call(method, path, body, signal) {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    signal,
  });
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) throw new ApiError(res.status, (json && json.error) || `${res.status} ${res.statusText}`);
  return json;
}

export const get = (path, signal) => call('GET', path, undefined, signal);

/** Read a streamed answer line by line until it ends or `signal` aborts. */
export async function lines(path, onLine, signal) {
  const res = await fetch(path, { headers: headers(false), cache: 'no-store', signal });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).error || message;
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(res.status, message);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, nl).replace(/\r$/, ''));
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) onLine(rest);
}
