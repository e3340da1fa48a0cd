/**
 * GET /: a small live web view of the cluster, served by every node. It reads the members
 * from /cluster, polls each member's /raft (the API allows cross-origin GETs for this), shows
 * the newest messages, and has a publish form. No build step and no dependencies: one page.
 */

/**
 * Escapes a value for HTML text and quoted attributes. Every value the page puts into
 * innerHTML goes through it: member ids, states and message bodies come from the network.
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ENTITIES[c])
}

const HTML_ENTITIES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}

/** The same function as the page's own script runs it. */
const ESCAPE_HTML_SOURCE = `(value) => String(value ?? '').replace(/[&<>"']/g, (c) => (${JSON.stringify(HTML_ENTITIES)})[c])`

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pad-cli</title>
<style>
  :root { color-scheme: light dark; --ok: #2e9e4f; --warn: #c98a00; --bad: #c0392b; --dim: #888; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
  .sub { color: var(--dim); }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; }
  th { font-weight: 600; color: var(--dim); }
  .LEADER { color: var(--ok); font-weight: 700; } .CANDIDATE { color: var(--warn); } .DOWN { color: var(--bad); }
  form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
  input, select, button { font: inherit; padding: .3rem .5rem; }
  input[name=body] { flex: 1; min-width: 16rem; }
  #result { color: var(--dim); } code { font-size: 12px; }
  td.body { max-width: 40rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
</style>
</head>
<body>
<h1>pad-cli</h1>
<div class="sub">A Raft-replicated publish/subscribe broker. This page is served by <b id="self"></b>; it refreshes every second.</div>
<h2>Cluster</h2>
<table><thead><tr><th>#</th><th>node</th><th>role</th><th>term</th><th>commit</th><th>applied</th><th>log</th><th>lag</th></tr></thead><tbody id="nodes"></tbody></table>
<h2>Publish</h2>
<form id="publish">
  <input name="topic" value="news" size="12" aria-label="topic">
  <select name="format" aria-label="format"><option>JSON</option><option>XML</option><option>RAW</option></select>
  <input name="body" value='{"hello":"world"}' aria-label="body">
  <button>Publish</button> <span id="result"></span>
</form>
<h2>Newest messages</h2>
<table><thead><tr><th>topic</th><th>offset</th><th>format</th><th>body</th><th>time</th></tr></thead><tbody id="messages"></tbody></table>
<script>
const $ = (id) => document.getElementById(id)
const text = ${ESCAPE_HTML_SOURCE}
async function json(url, options) {
  const response = await fetch(url, {signal: AbortSignal.timeout(900), ...options})
  return response.json()
}
async function refresh() {
  try {
    const cluster = await json('/cluster')
    $('self').textContent = cluster.self_id
    const rows = await Promise.all(cluster.members.map(async (m) => {
      if (m.http_port === null) return {m, raft: null}
      try { return {m, raft: await json('http://' + location.hostname + ':' + m.http_port + '/raft')} } catch { return {m, raft: null} }
    }))
    const top = Math.max(0, ...rows.map((r) => r.raft ? r.raft.commit_index : 0))
    $('nodes').innerHTML = rows.map(({m, raft}) => raft
      ? '<tr><td>' + text(m.index) + '</td><td>' + text(raft.node_id) + '</td><td class="' + text(raft.state) + '">' + text(raft.state) + '</td><td>' + text(raft.current_term) +
        '</td><td>' + text(raft.commit_index) + '</td><td>' + text(raft.last_applied) + '</td><td>' + text(raft.log_length) + '</td><td>' + text(top - raft.commit_index) + '</td></tr>'
      : '<tr><td>' + text(m.index) + '</td><td>' + text(m.node_id) + '</td><td class="DOWN">unreachable</td><td colspan="5"></td></tr>').join('')
    const messages = (await json('/messages?limit=15')).messages
    $('messages').innerHTML = messages.map((m) => '<tr><td>' + text(m.topic) + '</td><td>' + text(m.offset) + '</td><td>' + text(m.format) +
      '</td><td class="body"><code>' + text(m.body) + '</code></td><td>' + text(String(m.timestamp).slice(11, 23)) + '</td></tr>').join('')
  } catch (error) {
    $('self').textContent = 'this node is not answering (' + error.message + ')'
  }
}
$('publish').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  try {
    const reply = await json('/publish', {method: 'POST', headers: {'content-type': 'application/json'}, signal: AbortSignal.timeout(5000),
      body: JSON.stringify({topic: form.get('topic'), format: form.get('format'), body: form.get('body')})})
    $('result').textContent = reply.ok ? 'stored ' + reply.topic + '@' + reply.offset : reply.error.code + ': ' + reply.error.message
  } catch (error) { $('result').textContent = error.message }
  refresh()
})
refresh()
setInterval(refresh, 1000)
</script>
</body>
</html>
`
