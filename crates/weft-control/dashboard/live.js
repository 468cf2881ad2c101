// Following the tenant through one server-sent-events stream
// (GET /v1/events). Read with fetch, not EventSource, because
// EventSource cannot send the Authorization header (and the key must not
// go into a URL). Reconnects by itself: 1 s, 2 s, 4 s … at most 10 s.

import { ApiError, lines } from './api.js';

export function follow(path, { onChange, onState, onUnauthorized }) {
  const controller = new AbortController();
  let delay = 1000;
  let stopped = false;

  async function once() {
    let event = 'message';
    let data = '';
    await lines(path, (line) => {
      if (line === '') {
        if (event === 'change') {
          delay = 1000;
          onState('live');
          let revision = null;
          try {
            revision = JSON.parse(data).revision;
          } catch {
            revision = null;
          }
          onChange(revision);
        }
        event = 'message';
        data = '';
      } else if (line.startsWith('event:')) {
        event = line.slice(6).trim();
      } else if (line.startsWith('data:')) {
        data += line.slice(5).trim();
      }
    }, controller.signal);
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && err.status === 401) {
          onUnauthorized();
          return;
        }
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  })();

  return () => {
    stopped = true;
    controller.abort();
  };
}
