// The console's live data: one EventSource on /api/stream (src/api/console.ts,
// ConsoleStreamEvent). Every event's data is JSON; `hello` comes first, again after every
// reconnect (the browser reconnects by itself), and replaces everything the page knew.

/** The event names the stream sends, each handed to `on[name](data)`. */
const EVENTS = ['hello', 'node', 'timeline', 'rpc', 'log', 'metrics']

/**
 * Follows the stream; `on` has one function per event name, and `connection(open: boolean)`.
 * Data that does not parse is dropped, not trusted.
 */
export function follow(on) {
  const source = new EventSource('/api/stream')
  source.onopen = () => on.connection(true)
  source.onerror = () => on.connection(false)
  for (const name of EVENTS) {
    source.addEventListener(name, (event) => {
      let data
      try {
        data = JSON.parse(event.data)
      } catch {
        return
      }
      if (typeof data === 'object' && data !== null) on[name](data)
    })
  }
  return source
}
