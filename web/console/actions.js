// What the page sends: control requests (src/api/control.ts, the ops of CONSOLE_OPS in
// src/api/console.ts) to POST /api/control and publishes to POST /api/publish, with the
// cluster token as a Bearer header. The token comes from the URL's fragment (#token=..., which
// `pad-cli up` and `pad-cli web` print; a browser never sends a fragment to a server) or,
// failing that, from GET /api/token (which answers only the page's own origin on loopback).

let token = null

/** Takes the token out of the address bar (kept in memory only) or asks the console for it. */
export async function loadToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (match) {
    token = decodeURIComponent(match[1])
    history.replaceState(null, '', location.pathname)
    return
  }
  try {
    const response = await fetch('/api/token', {signal: AbortSignal.timeout(3000)})
    if (response.ok) token = (await response.json()).token
  } catch {
    // Without it the page still watches; actions answer 401.
  }
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: {'content-type': 'application/json', authorization: 'Bearer ' + (token ?? '')},
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  })
  let answer
  try {
    answer = await response.json()
  } catch {
    answer = {ok: false, error: {code: 'HTTP_' + response.status, message: 'the console answered ' + response.status}}
  }
  return answer
}

/** Sends a control request, e.g. {op: 'kill', node: 2}; answers {ok, answer | error, command}. */
export function control(request) {
  return post('/api/control', request)
}

/** Publishes `message` to `topic` through the leader; answers {ok, offset, via} or {ok: false, error}. */
export function publish(topic, message) {
  return post('/api/publish', {topic, message})
}
